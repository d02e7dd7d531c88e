// Compiles the go-plugin services of the top-level `proto/` directory.
// Terraform's own protocol comes from the `magma-protocol` crate.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "../../proto/plugin.proto";
    println!("cargo:rerun-if-changed={proto}");
    if std::env::var_os("PROTOC").is_none() {
        std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?);
    }
    tonic_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_protos(&[proto], &["../../proto"])?;
    Ok(())
}
