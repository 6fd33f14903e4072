//! RobotID's CA server: the enrollment and registry API, the registry and
//! the revocation service. The roles are modules, as in Boulder: `api` (the
//! web front end: routes, authentication, problem documents), `ra` (the
//! registration authority: every rule of every operation), the signer (in
//! robotid-issuer, reached only through `ca`), `store` (the registry on
//! SQLite or PostgreSQL), `revocation` (OCSP, CRLs), `lifecycle_signer` (the
//! lifecycle signer), `bootstrap` (the data folder and the development CA),
//! `tls` and `serve` (connections). docs/architecture.md draws the map.

pub mod api;
pub mod bootstrap;
pub mod ca;
pub mod config;
pub mod delegated;
pub mod lifecycle_signer;
mod locks;
pub mod ra;
pub mod revocation;
pub mod serve;
pub mod store;
pub mod tls;

use std::sync::Arc;

use crate::api::{AppState, Limits};
use crate::ca::Ca;
use crate::config::Config;
use crate::ra::RegistrationAuthority;
use crate::store::roles::{Admin, Issuance, Reads};
use crate::store::{Credential, Role, Store};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The data folder, the CA or a credential.
    #[error(transparent)]
    Boot(#[from] bootstrap::BootError),
    /// The registry.
    #[error("registry {url}: {source}")]
    Store {
        /// The URL, password redacted.
        url: String,
        /// Why.
        source: store::StoreError,
    },
    /// TLS set-up.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// A listening address.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The revocation service.
    #[error(transparent)]
    Revocation(#[from] revocation::service::RevocationError),
    /// The lifecycle signer.
    #[error(transparent)]
    LifecycleSigner(#[from] lifecycle_signer::LifecycleSignerError),
    /// The metrics recorder.
    #[error("metrics: {0}")]
    Metrics(String),
}

/// Age after which a pending issuance can no longer be in flight.
const STALE_PENDING_SECS: i64 = 600;

/// Starts the server and serves until the process ends.
pub async fn run(config: Config) -> Result<(), StartError> {
    bootstrap::create_data_dir(&config)?;
    let url = config.database_url();
    let store_err = |source| StartError::Store {
        url: config::redact(&url),
        source,
    };
    let store = Store::connect(&url).await.map_err(store_err)?;
    let ready = bootstrap::prepare(&config, &store).await?;
    if store
        .credential(&ready.operator_serial)
        .await
        .map_err(store_err)?
        .is_none()
    {
        let operator = Credential {
            serial_hex: ready.operator_serial.clone(),
            role: Role::Operator,
            manufacturer_code: None,
            subject: "operator".into(),
            not_after: ready.operator_not_after,
            revoked: false,
        };
        store
            .add_credential(&operator, "bootstrap")
            .await
            .map_err(store_err)?;
    }
    // A pending row left by a crash would block its robot for ever: once no
    // request can still be working on it, it is marked failed. Ten minutes
    // leaves other servers on the same registry their in-flight requests.
    let stale_before = time::OffsetDateTime::now_utc().unix_timestamp() - STALE_PENDING_SECS;
    let abandoned = store
        .abandon_stale_issuance(stale_before, "bootstrap")
        .await
        .map_err(store_err)?;
    if abandoned > 0 {
        tracing::warn!(
            abandoned,
            "pending issuances left by an earlier crash marked failed"
        );
    }
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| StartError::Metrics(e.to_string()))?;
    let tls = tls::server_config(ready.tls_chain, ready.tls_key, &ready.certs.root_der)?;
    let ca = Arc::new(Ca {
        signer: Arc::new(ready.signer),
        store: store.clone(),
        certs: ready.certs,
    });
    let revocation =
        revocation::service::Revocation::start(Arc::clone(&ca), ready.ca_dir.clone()).await?;
    let lifecycle_signer =
        Arc::new(lifecycle_signer::LifecycleSigner::start(Arc::clone(&ca)).await?);
    let state = AppState {
        ra: Arc::new(RegistrationAuthority::start(ca, lifecycle_signer)),
        store: store.reader(),
        credentials: api::auth::CredentialCache::default(),
        limits: Limits {
            max_body: config.max_body,
            max_batch: config.max_batch,
        },
        metrics,
        enroll_rate: api::rate::RateLimiter::new(config.enroll_rate, config.enroll_burst),
        revocation,
        arl: ready.ca_dir.join(robotid_issuer::ceremony::files::ARL),
    };
    let listen = |addr| async move {
        tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Listen { addr, source })
    };
    let api_listener = listen(config.listen).await?;
    let public_listener = listen(config.public_listen).await?;
    let api_addr = api_listener
        .local_addr()
        .map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
    let public_addr = public_listener
        .local_addr()
        .map_err(|source| StartError::Listen {
            addr: config.public_listen,
            source,
        })?;

    let ca = &ready.ca_dir;
    println!("robotid-ca ready");
    if let Some(root_key) = &ready.root_key_here {
        let warning = bootstrap::root_key_warning(root_key);
        for line in &warning {
            println!("{line}");
        }
        tracing::warn!(
            root_key = %root_key.display(),
            created_now = ready.created_development_ca,
            "the root CA key is on this machine (a development CA); for production run the offline ceremony instead: {}",
            warning[1..].iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ")
        );
    }
    println!(
        "  trust anchor:            {}",
        ca.join("root-ca.pem").display()
    );
    println!(
        "  issuing CA certificate:  {}",
        ca.join("issuing-ca.pem").display()
    );
    println!("  issuing CA key:          {}", ready.issuing_key);
    tracing::info!(issuing_key = %ready.issuing_key, "issuing CA key");
    println!(
        "  operator credentials:    {} (client.pem, client.key, ca.pem)",
        ready.operator_dir.display()
    );
    println!("  registry:                {}", config::redact(&url));
    println!("  API (mutual TLS):        https://{api_addr}");
    println!("  public endpoints:        http://{public_addr}");
    tracing::info!(%api_addr, %public_addr, "serving");

    // SIGTERM (a service manager stopping it) or SIGINT (Ctrl-C): stop
    // accepting, finish the requests in flight (bounded), close the
    // registry, exit 0.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        stop_signal().await;
        tracing::info!("stopping: no new connections; finishing the requests in flight");
        let _ = stop.send(true);
    });
    let api = serve::serve_tls(
        api_listener,
        Arc::new(tls),
        api::api_router(state.clone()),
        config.max_connections,
        stopping.clone(),
    );
    let public = serve::serve_plain(
        public_listener,
        api::public_router(state),
        config.max_connections,
        stopping,
    );
    tokio::join!(api, public);
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves at the first SIGTERM or SIGINT. If a handler cannot be
/// installed, that signal keeps its default (the process ends at once).
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot handle SIGTERM");
            None
        }
    };
    let term = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = term => {}
        r = tokio::signal::ctrl_c() => {
            if let Err(e) = r {
                tracing::warn!(error = %e, "cannot handle SIGINT");
                std::future::pending::<()>().await;
            }
        }
    }
}
