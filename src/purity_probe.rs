//! A deliberate violation, compiled only by `.ci/purity-check` (`--cfg
//! licensectl_purity_probe`) as a child of each pure module, where clippy must reject every
//! call below: proof that the module's `deny(clippy::disallowed_methods,
//! clippy::disallowed_types)` is in force. Never compiled into licensectl.

#[allow(dead_code, reason = "only compiled to be rejected by clippy")]
fn probe() {
    let _ = std::env::var("LICENSECTL_PROBE");
    let _ = std::fs::read("licensectl-probe");
    let _ = std::time::SystemTime::now();
    let _ = std::net::TcpStream::connect("127.0.0.1:9");
    let _ = std::io::IsTerminal::is_terminal(&std::io::stderr());
}
