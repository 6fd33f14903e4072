//! Group commit for enrollment. Requests that arrive while the authority is
//! busy are merged into one enrollment run, so a burst of single-CSR
//! requests costs one registry transaction (one fsync) per step instead of
//! one per request, and the signing work is spread over every core. Two
//! runs may be in flight at once, so that one run's CPU work (CSR checks,
//! lints, signing) overlaps the other's registry transactions.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::api::problem::Problem;
use crate::authority::{Authority, Delivered};

/// The results of one request: one per CSR, in order.
pub type Results = Vec<Result<Delivered, Problem>>;

struct Job {
    code: String,
    actor: String,
    reissue: bool,
    csrs: Vec<Vec<u8>>,
    reply: oneshot::Sender<Result<Results, Problem>>,
}

/// Most CSRs merged into one run.
const MAX_RUN: usize = 10_000;

/// Most runs in flight at once.
const RUNS_IN_FLIGHT: usize = 2;

/// The queue in front of the authority.
#[derive(Clone)]
pub struct Pipeline {
    queue: mpsc::Sender<Job>,
}

impl Pipeline {
    /// Starts the task that drains the queue into `authority`.
    pub fn start(authority: Arc<Authority>) -> Pipeline {
        let (queue, jobs) = mpsc::channel(4096);
        tokio::spawn(drain(authority, jobs));
        Pipeline { queue }
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

async fn drain(authority: Arc<Authority>, mut jobs: mpsc::Receiver<Job>) {
    let slots = Arc::new(Semaphore::new(RUNS_IN_FLIGHT));
    while let Some(first) = jobs.recv().await {
        // Wait for a free slot before gathering the run, so that requests
        // arriving meanwhile join it.
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
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
        let authority = Arc::clone(&authority);
        tokio::spawn(async move {
            enroll_run(&authority, run).await;
            drop(slot);
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
