//! Accept loops: HTTPS with client certificates on the API port, plain HTTP
//! on the public port. Each connection is its own task; a slow or silent
//! client holds only its own task (with a handshake deadline) and never
//! blocks the others.
//!
//! Early answers. The API refuses many POSTs before reading their bodies
//! (401, 403, 413, 415), and the client is then still sending. Two things
//! make sure it reads the answer anyway (issue 17, finding 9):
//! - HTTP/2: the request body is kept until the response has been sent
//!   ([`early::hold_request_body`]). h2 resets a stream whose last handle
//!   goes while the server is still answering with CANCEL, which curl
//!   reports as error 92 and drops the answer; once the answer is complete
//!   it resets with NO_ERROR, which RFC 9113 section 8.1 gives for exactly
//!   this ("stop sending, you have your answer").
//! - HTTP/1.1: hyper closes the connection when a body was left unread, and
//!   closing a socket with unread data makes the kernel send a reset, which
//!   destroys the answer in flight (the client sees `Broken pipe` or
//!   `Connection reset`). The socket closes with a lingering close instead
//!   ([`early::Lingering`]): after our FIN, what the client still sends is
//!   read and dropped until it closes or a deadline passes, as Apache and
//!   nginx do.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_rustls::TlsAcceptor;

mod early;

use crate::api::auth::PeerCertificate;

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's head (slowloris).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long, once told to stop, the requests in flight may take to finish
/// before their connections are dropped.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `accepting` until `stop` turns true; the accept loop (and with it
/// the listener's use) then ends.
async fn until_stopped<F: Future<Output = ()>>(accepting: F, mut stop: watch::Receiver<bool>) {
    tokio::select! {
        () = accepting => {}
        _ = stop.wait_for(|s| *s) => {}
    }
}

/// Lets the connections `graceful` watches finish their requests in
/// flight, for at most [`DRAIN_TIMEOUT`]: idle keep-alive connections close
/// at once, HTTP/2 ones get GOAWAY.
async fn drain(graceful: GracefulShutdown, port: &str) {
    let open = graceful.count();
    tracing::info!(
        port,
        open,
        "stopped accepting; finishing requests in flight"
    );
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            port,
            "requests still in flight after the drain timeout; dropped"
        );
    }
}

/// A connection builder: HTTP/1.1 and HTTP/2, with a deadline on each
/// request head so a client trickling bytes cannot hold a connection for
/// ever.
fn builder() -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    builder
}

/// Waits for a connection slot, then accepts. At the limit, new clients
/// wait in the kernel's backlog instead of costing memory here.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> (
    OwnedSemaphorePermit,
    tokio::net::TcpStream,
    std::net::SocketAddr,
) {
    loop {
        let Ok(permit) = Arc::clone(slots).acquire_owned().await else {
            // The semaphore is never closed; if it were, stop waiting on it.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        match listener.accept().await {
            Ok((tcp, remote)) => {
                let _ = tcp.set_nodelay(true);
                return (permit, tcp, remote);
            }
            Err(e) => {
                // Out of file descriptors, or a connection reset before
                // accept: log, breathe, go on.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Serves `router` over TLS on `listener` until `stop` turns true, then
/// finishes the requests in flight. At most `max_connections` are open at
/// once.
pub async fn serve_tls(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    router: Router,
    max_connections: usize,
    stop: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(config);
    let slots = Arc::new(Semaphore::new(max_connections));
    let graceful = GracefulShutdown::new();
    let accepting = async {
        loop {
            let (permit, tcp, remote) = accept(&listener, &slots).await;
            let acceptor = acceptor.clone();
            let router = router.clone();
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                let _permit = permit;
                let tcp = early::Lingering::new(tcp);
                let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
                {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::debug!(%remote, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%remote, "TLS handshake timed out");
                        return;
                    }
                };
                let peer = PeerCertificate(
                    tls.get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .map(|c| Arc::new(c.as_ref().to_vec())),
                );
                let service = tower::service_fn(
                    move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                        req.extensions_mut().insert(peer.clone());
                        early::hold_request_body(router.clone(), req)
                    },
                );
                let builder = builder();
                let connection = builder
                    .serve_connection(TokioIo::new(tls), TowerToHyperService::new(service))
                    .into_owned();
                if let Err(e) = watcher.watch(connection).await {
                    tracing::debug!(%remote, error = %e, "connection ended with an error");
                }
            });
        }
    };
    until_stopped(accepting, stop).await;
    // New clients are refused from here: the listener closes.
    drop(listener);
    drain(graceful, "api").await;
}

/// Serves `router` over plain HTTP on `listener` until `stop` turns true,
/// then finishes the requests in flight. At most `max_connections` are
/// open at once.
pub async fn serve_plain(
    listener: TcpListener,
    router: Router,
    max_connections: usize,
    stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(max_connections));
    let graceful = GracefulShutdown::new();
    let accepting = async {
        loop {
            let (permit, tcp, remote) = accept(&listener, &slots).await;
            let router = router.clone();
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                let _permit = permit;
                let service =
                    tower::service_fn(move |req: axum::extract::Request<hyper::body::Incoming>| {
                        early::hold_request_body(router.clone(), req)
                    });
                let builder = builder();
                let connection = builder
                    .serve_connection(
                        TokioIo::new(early::Lingering::new(tcp)),
                        TowerToHyperService::new(service),
                    )
                    .into_owned();
                if let Err(e) = watcher.watch(connection).await {
                    tracing::debug!(%remote, error = %e, "connection ended with an error");
                }
            });
        }
    };
    until_stopped(accepting, stop).await;
    drop(listener);
    drain(graceful, "public").await;
}
