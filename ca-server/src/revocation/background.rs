//! Bulk revocation work (CRL builds, responses signed ahead) on threads of
//! lower CPU priority.
//!
//! A CRL of a million entries takes a core for about a second. On a small
//! machine the thread that answers a revoke (or an OCSP request) would
//! otherwise wait for a time slice behind it, and a revoke's p99 is made of
//! such waits. A raised nice value lets the scheduler run the request's
//! thread first; the bulk work still gets every idle cycle, so it finishes
//! just as soon when nothing else is running.

/// Why bulk work produced no result. Its own error, so that the parts that
/// run work here depend on this module and never the other way round.
#[derive(Debug, thiserror::Error)]
pub enum BackgroundError {
    /// The thread could not be started.
    #[error("{what}: starting a thread: {source}")]
    Spawn {
        /// The work, as named by its caller.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// The thread ended without sending its result (it panicked).
    #[error("{what}: the thread stopped without an answer")]
    Stopped {
        /// The work, as named by its caller.
        what: &'static str,
    },
}

/// Nice value of background threads (0 is normal, 19 the lowest priority).
const BACKGROUND_NICE: i32 = 10;

/// Runs `f` on a new thread of lower priority and waits for its result.
pub async fn run<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, BackgroundError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(format!("robotid-{what}"))
        .spawn(move || {
            lower_priority(what);
            // The receiver is gone only if the awaiting task was dropped.
            let _ = tx.send(f());
        })
        .map_err(|source| BackgroundError::Spawn { what, source })?;
    rx.await.map_err(|_| BackgroundError::Stopped { what })
}

/// Raises this thread's nice value. Where that is not allowed the work
/// runs at normal priority, which is only slower for others.
fn lower_priority(what: &str) {
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(tid), BACKGROUND_NICE) {
            tracing::debug!(error = %e, what, "background thread keeps normal priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (what, BACKGROUND_NICE);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails on the first error")]

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn bulk_work_runs_at_a_lower_priority_and_returns_its_result() {
        let own = rustix::process::getpriority_process(None).unwrap();
        let (value, nice) = super::run("test", || {
            let tid = rustix::thread::gettid();
            (42, rustix::process::getpriority_process(Some(tid)).unwrap())
        })
        .await
        .unwrap();
        assert_eq!(value, 42);
        assert_eq!(nice, super::BACKGROUND_NICE.max(own));
        // The caller's own thread keeps its priority.
        let tid = rustix::thread::gettid();
        assert_eq!(
            rustix::process::getpriority_process(Some(tid)).unwrap(),
            own
        );
    }
}
