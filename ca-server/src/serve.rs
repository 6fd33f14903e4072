//! Accept loops: HTTPS with client certificates on the API port, plain HTTP
//! on the public port. Each connection is its own task; a slow or silent
//! client holds only its own task (with a handshake deadline) and never
//! blocks the others.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::api::auth::PeerCertificate;

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's head (slowloris).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

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

/// Serves `router` over TLS on `listener` until the process ends.
/// At most `max_connections` are open at once.
pub async fn serve_tls(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    router: Router,
    max_connections: usize,
) {
    let acceptor = TlsAcceptor::from(config);
    let slots = Arc::new(Semaphore::new(max_connections));
    loop {
        let (permit, tcp, remote) = accept(&listener, &slots).await;
        let acceptor = acceptor.clone();
        let router = router.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
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
            let service = router.map_request(
                move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(peer.clone());
                    req
                },
            );
            let served = builder()
                .serve_connection(TokioIo::new(tls), TowerToHyperService::new(service))
                .await;
            if let Err(e) = served {
                tracing::debug!(%remote, error = %e, "connection ended with an error");
            }
        });
    }
}

/// Serves `router` over plain HTTP on `listener` until the process ends.
/// At most `max_connections` are open at once.
pub async fn serve_plain(listener: TcpListener, router: Router, max_connections: usize) {
    let slots = Arc::new(Semaphore::new(max_connections));
    loop {
        let (permit, tcp, remote) = accept(&listener, &slots).await;
        let router = router.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service =
                router.map_request(|req: axum::extract::Request<hyper::body::Incoming>| req);
            let served = builder()
                .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service))
                .await;
            if let Err(e) = served {
                tracing::debug!(%remote, error = %e, "connection ended with an error");
            }
        });
    }
}
