//! Reading and setting a testbed HAProxy's weights through its runtime API,
//! as the tests do by hand between applies.

use std::io::{Read, Write};
use testbed::haproxy::Haproxy;

/// `http://127.0.0.1:PORT` → the socket address HAProxy forwards to.
pub fn addr(url: &str) -> std::net::SocketAddr {
    url.trim_start_matches("http://").parse().unwrap()
}

/// One runtime API command on the admin socket; its answer.
pub fn runtime_api(h: &Haproxy, command: &str) -> String {
    let mut sock = std::os::unix::net::UnixStream::connect(h.admin_socket()).unwrap();
    sock.write_all(format!("{command}\n").as_bytes()).unwrap();
    let mut answer = String::new();
    sock.read_to_string(&mut answer).unwrap();
    answer
}

/// The live weight of `server` in backend `kong`.
pub fn weight_of(h: &Haproxy, server: &str) -> u32 {
    runtime_api(h, &format!("get weight kong/{server}"))
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The `haproxy { ... }` driver block for `h`'s backend `kong` (servers
/// `x` and `y`), indented by `indent`.
pub fn driver_block(h: &Haproxy, indent: &str) -> String {
    [
        "haproxy {".to_string(),
        format!("  runtime_api = \"{}\"", h.admin_socket().display()),
        "  backend     = \"kong\"".to_string(),
        "  server_x    = \"x\"".to_string(),
        "  server_y    = \"y\"".to_string(),
        "}".to_string(),
    ]
    .iter()
    .map(|line| format!("{indent}{line}\n"))
    .collect()
}
