//! The HTTP server: binding (loopback only unless asked), one HTTP/1.1 connection per
//! accepted socket with a header read timeout (a client that sends its headers slowly —
//! slowloris — is cut off), and the handle of a running emulator.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::task::JoinSet;
use tower_service::Service;

use licensectl_model::snapshot::TenantSnapshot;

use super::{Emulator, EmulatorError, EmulatorOptions};

/// A started emulator; dropping it stops the server and its connections.
pub struct Running {
    /// The base URL, e.g. `http://127.0.0.1:41234`; Graph lives under `{url}/v1.0`.
    pub url: String,
    /// The bound address.
    pub addr: SocketAddr,
    /// The emulator's state (snapshot, stats).
    pub emulator: Emulator,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Waits until the server stops (it runs until the process ends or is aborted).
    pub async fn wait(mut self) {
        let task = std::mem::replace(&mut self.task, tokio::spawn(async {}));
        let _ = task.await;
    }

    /// Stops the server.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `listen` (port 0 picks a free port) and serves `snapshot` in a background task.
/// A non-loopback address is refused unless `options.allow_remote`: the emulator's own
/// endpoints (`/_emulator/snapshot`, statistics, history) answer without a token.
pub async fn serve(
    snapshot: TenantSnapshot,
    options: EmulatorOptions,
    listen: &str,
) -> Result<Running, EmulatorError> {
    let allow_remote = options.allow_remote;
    let header_timeout = options.header_read_timeout;
    let emulator = Emulator::new(snapshot, options)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| EmulatorError::Bind {
            addr: listen.to_owned(),
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| EmulatorError::Bind {
            addr: listen.to_owned(),
            source,
        })?;
    if !addr.ip().is_loopback() && !allow_remote {
        return Err(EmulatorError::Remote {
            addr: listen.to_owned(),
        });
    }
    let app = emulator.router();
    let task = tokio::spawn(accept(listener, app, header_timeout));
    Ok(Running {
        url: format!("http://{addr}"),
        addr,
        emulator,
        task,
    })
}

/// Accepts connections until aborted; aborting drops the set, which aborts every
/// connection.
async fn accept(listener: tokio::net::TcpListener, app: Router, header_timeout: Duration) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors and the like: try again shortly.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                connections.spawn(connection(stream, app.clone(), header_timeout));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn connection(stream: tokio::net::TcpStream, app: Router, header_timeout: Duration) {
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let mut app = app.clone();
        async move {
            std::future::poll_fn(|cx| {
                <Router as Service<axum::http::Request<Body>>>::poll_ready(&mut app, cx)
            })
            .await?;
            app.call(req.map(Body::new)).await
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let _ = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades()
        .await;
}
