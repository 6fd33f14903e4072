//! Group commit for enrollment. Requests that arrive while the authority is
//! busy are merged into one enrollment run, so a burst of single-CSR
//! requests costs one registry transaction (one fsync) per step instead of
//! one per request, and the signing work is spread over every core.
//!
//! One run at a time, except beside a large one: a run of many CSRs
//! overlaps its own stages chunk by chunk (decision 0011), and a second run
//! may then start so that small requests do not wait seconds behind a
//! production line's batch. Two small runs in flight only split the waiting
//! requests between them: each paid the per-run costs (transactions,
//! hand-offs) for half as many certificates, and one at a time issued
//! 6-17 % more single-CSR requests per second for less CPU (decision 0007).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};

use crate::api::problem::Problem;
use crate::authority::{Authority, CsrInput, Delivered};

/// The results of one request: one per CSR, in order.
pub type Results = Vec<Result<Delivered, Problem>>;

struct Job {
    code: String,
    actor: String,
    reissue: bool,
    csrs: Vec<CsrInput>,
    reply: oneshot::Sender<Result<Results, Problem>>,
}

/// Most CSRs merged into one run.
const MAX_RUN: usize = 10_000;

/// A run of at least this many CSRs lets a second run start beside it.
const LARGE_RUN: usize = 1_000;

/// The runs in flight: how many, and how many of them are large.
#[derive(Clone, Copy, Debug, Default)]
struct InFlight {
    runs: usize,
    large: usize,
}

impl InFlight {
    /// Whether another run may start: none is in flight, or only one large.
    fn admits(self) -> bool {
        self.runs == 0 || (self.runs == 1 && self.large == 1)
    }
}

/// The queue in front of the authority.
#[derive(Clone)]
pub struct Pipeline {
    queue: mpsc::Sender<Job>,
    authority: Arc<Authority>,
}

impl Pipeline {
    /// Starts the task that drains the queue into `authority`.
    pub fn start(authority: Arc<Authority>) -> Pipeline {
        let (queue, jobs) = mpsc::channel(4096);
        tokio::spawn(drain(Arc::clone(&authority), jobs));
        Pipeline { queue, authority }
    }

    /// Enrolls `csrs` for manufacturer `code`, merged with whatever else is
    /// waiting.
    pub async fn enroll(
        &self,
        code: &str,
        actor: &str,
        csrs: Vec<Vec<u8>>,
        reissue: bool,
    ) -> Result<Results, Problem> {
        let csrs = check_ahead(&self.authority, code, csrs).await?;
        let (reply, answer) = oneshot::channel();
        let job = Job {
            code: code.to_owned(),
            actor: actor.to_owned(),
            reissue,
            csrs,
            reply,
        };
        self.queue
            .send(job)
            .await
            .map_err(|_| Problem::internal("the enrollment pipeline has stopped"))?;
        answer
            .await
            .map_err(|_| Problem::internal("the enrollment pipeline dropped a request"))?
    }
}

/// A run counted in flight until dropped (also if the run panics).
struct Admitted {
    in_flight: Arc<watch::Sender<InFlight>>,
    large: bool,
}

impl Admitted {
    fn new(in_flight: &Arc<watch::Sender<InFlight>>, large: bool) -> Self {
        in_flight.send_modify(|f| {
            f.runs = f.runs.saturating_add(1);
            f.large = f.large.saturating_add(usize::from(large));
        });
        Self {
            in_flight: Arc::clone(in_flight),
            large,
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let large = usize::from(self.large);
        self.in_flight.send_modify(|f| {
            f.runs = f.runs.saturating_sub(1);
            f.large = f.large.saturating_sub(large);
        });
    }
}

/// Requests of at most this many CSRs are checked as they arrive, before
/// they queue; larger ones are checked in their run, chunk by chunk.
const CHECK_AHEAD_MAX: usize = 8;

/// Checks (and, where the registry's facts are known, prepares) the CSRs
/// of a small request on the request's own task (one CSR on the spot, a
/// few on the blocking pool), while the run before it is still busy: the
/// run then starts with the registry's writer rather than with its
/// members' checks (decision 0007).
async fn check_ahead(
    authority: &Arc<Authority>,
    code: &str,
    csrs: Vec<Vec<u8>>,
) -> Result<Vec<CsrInput>, Problem> {
    match csrs.len() {
        0 => Ok(Vec::new()),
        1 => Ok(csrs.iter().map(|c| authority.check(c, code)).collect()),
        n if n <= CHECK_AHEAD_MAX => {
            let (authority, code) = (Arc::clone(authority), code.to_owned());
            tokio::task::spawn_blocking(move || {
                csrs.iter().map(|c| authority.check(c, &code)).collect()
            })
            .await
            .map_err(Problem::internal)
        }
        _ => Ok(csrs.into_iter().map(CsrInput::raw).collect()),
    }
}

async fn drain(authority: Arc<Authority>, mut jobs: mpsc::Receiver<Job>) {
    let (in_flight, mut admission) = watch::channel(InFlight::default());
    let in_flight = Arc::new(in_flight);
    while let Some(first) = jobs.recv().await {
        // Wait until a run may start before gathering it, so that requests
        // arriving meanwhile join it.
        if admission.wait_for(|f| f.admits()).await.is_err() {
            return;
        }
        let mut size = first.csrs.len();
        let mut run = vec![first];
        while size < MAX_RUN {
            match jobs.try_recv() {
                Ok(job) => {
                    size += job.csrs.len();
                    run.push(job);
                }
                Err(_) => break,
            }
        }
        let admitted = Admitted::new(&in_flight, size >= LARGE_RUN);
        let authority = Arc::clone(&authority);
        tokio::spawn(async move {
            enroll_run(&authority, run).await;
            drop(admitted);
        });
    }
}

async fn enroll_run(authority: &Arc<Authority>, run: Vec<Job>) {
    // Jobs of one caller and kind share a run; the audit log keeps the
    // caller of each.
    let mut groups: HashMap<(String, String, bool), Vec<Job>> = HashMap::new();
    for job in run {
        groups
            .entry((job.code.clone(), job.actor.clone(), job.reissue))
            .or_default()
            .push(job);
    }
    for ((code, actor, reissue), group) in groups {
        let mut csrs = Vec::new();
        let mut replies = Vec::with_capacity(group.len());
        for job in group {
            replies.push((job.csrs.len(), job.reply));
            csrs.extend(job.csrs);
        }
        match authority.enroll(&code, &actor, csrs, reissue).await {
            Ok(results) => {
                let mut results = results.into_iter();
                for (len, reply) in replies {
                    let _ = reply.send(Ok(results.by_ref().take(len).collect()));
                }
            }
            Err(problem) => {
                for (_, reply) in replies {
                    let _ = reply.send(Err(problem.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::sync::watch;

    use super::{Admitted, InFlight};

    #[test]
    fn a_second_run_starts_only_beside_one_large_run() {
        let admits = |runs, large| InFlight { runs, large }.admits();
        assert!(admits(0, 0));
        assert!(!admits(1, 0), "two small runs split the waiting requests");
        assert!(admits(1, 1), "small requests do not wait behind a batch");
        assert!(!admits(2, 1));
        assert!(!admits(2, 2));
    }

    #[tokio::test]
    async fn a_run_leaves_the_count_when_it_ends_or_panics() {
        let (tx, rx) = watch::channel(InFlight::default());
        let tx = Arc::new(tx);
        let small = Admitted::new(&tx, false);
        let large = Admitted::new(&tx, true);
        assert_eq!((rx.borrow().runs, rx.borrow().large), (2, 1));
        drop(small);
        assert!(rx.borrow().admits());
        let panicked = tokio::spawn(async move {
            let _held = large;
            panic!("a run that panics");
        })
        .await;
        assert!(panicked.is_err());
        assert_eq!((rx.borrow().runs, rx.borrow().large), (0, 0));
    }
}
