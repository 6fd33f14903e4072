//! Accept loops: HTTPS with client certificates on the API port, plain HTTP
//! on the public port. Each connection is its own task; a slow or silent
//! client holds only its own task (with a handshake deadline) and never
//! blocks the others.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::api::auth::PeerCertificate;

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` over TLS on `listener` until the process ends.
pub async fn serve_tls(listener: TcpListener, config: Arc<rustls::ServerConfig>, router: Router) {
    let acceptor = TlsAcceptor::from(config);
    loop {
        let (tcp, remote) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let router = router.clone();
        tokio::spawn(async move {
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
            let served = Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), TowerToHyperService::new(service))
                .await;
            if let Err(e) = served {
                tracing::debug!(%remote, error = %e, "connection ended with an error");
            }
        });
    }
}

/// Serves `router` over plain HTTP on `listener` until the process ends.
pub async fn serve_plain(listener: TcpListener, router: Router) {
    loop {
        let (tcp, remote) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let router = router.clone();
        tokio::spawn(async move {
            let service =
                router.map_request(|req: axum::extract::Request<hyper::body::Incoming>| req);
            let served = Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service))
                .await;
            if let Err(e) = served {
                tracing::debug!(%remote, error = %e, "connection ended with an error");
            }
        });
    }
}
