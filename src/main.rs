//! The provider binary: Terraform starts it and talks to it over gRPC.

use terraform_provider_kong::provider::KongProvider;

fn main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let name = tfplug::ProviderName {
        module: "kong",
        display: "Kong",
        log_target: env!("CARGO_CRATE_NAME"),
    };
    runtime.block_on(tfplug::serve(name, KongProvider::new()))
}
