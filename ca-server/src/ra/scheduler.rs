//! How enrollment runs are scheduled: group commit. (What happens to each
//! CSR in a run is `enrollment.rs`.)
//!
//! Group commit for enrollment. Requests that arrive while the enrollment is
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

use super::Refusal;
use super::enrollment::{Cause, CsrInput, Delivered, Enrollment, Item, Repeats, blocking};

/// The results of one request: one per CSR, in order.
pub type Results = Vec<Result<Delivered, Refusal>>;

struct Job {
    code: String,
    actor: String,
    reissue: bool,
    csrs: Vec<CsrInput>,
    /// The lifecycle event that causes this re-issue, recorded with it.
    cause: Option<Cause>,
    reply: oneshot::Sender<Result<Results, Refusal>>,
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

/// The queue in front of the enrollment.
#[derive(Clone)]
pub struct Pipeline {
    queue: mpsc::Sender<Job>,
    enrollment: Arc<Enrollment>,
}

impl Pipeline {
    /// Starts the task that drains the queue into `enrollment`.
    pub fn start(enrollment: Arc<Enrollment>) -> Pipeline {
        let (queue, jobs) = mpsc::channel(4096);
        tokio::spawn(drain(Arc::clone(&enrollment), jobs));
        Pipeline { queue, enrollment }
    }

    /// Enrolls `csrs` for manufacturer `code`, merged with whatever else is
    /// waiting.
    pub async fn enroll(
        &self,
        code: &str,
        actor: &str,
        csrs: Vec<Vec<u8>>,
        reissue: bool,
    ) -> Result<Results, Refusal> {
        let csrs = check_ahead(&self.enrollment, code, csrs).await?;
        self.enroll_inputs(code, actor, csrs, reissue).await
    }

    /// Enrolls CSRs given as [`CsrInput`]s (checked ahead, or as received),
    /// merged with whatever else is waiting.
    pub async fn enroll_inputs(
        &self,
        code: &str,
        actor: &str,
        csrs: Vec<CsrInput>,
        reissue: bool,
    ) -> Result<Results, Refusal> {
        self.submit(code, actor, csrs, reissue, None).await
    }

    /// Re-issues one robot's certificate because of lifecycle event
    /// `cause` (a component replacement), in a run of its own: the new
    /// certificate and the event are recorded in one transaction, and a
    /// refused event sinks no other robot's certificate.
    pub async fn reissue_for(
        &self,
        code: &str,
        actor: &str,
        csr: CsrInput,
        cause: Cause,
    ) -> Result<Delivered, Refusal> {
        self.submit(code, actor, vec![csr], true, Some(cause))
            .await?
            .pop()
            .ok_or_else(|| Refusal::internal("enrollment returned no result"))?
    }

    async fn submit(
        &self,
        code: &str,
        actor: &str,
        csrs: Vec<CsrInput>,
        reissue: bool,
        cause: Option<Cause>,
    ) -> Result<Results, Refusal> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            code: code.to_owned(),
            actor: actor.to_owned(),
            reissue,
            csrs,
            cause,
            reply,
        };
        self.queue
            .send(job)
            .await
            .map_err(|_| Refusal::internal("the enrollment pipeline has stopped"))?;
        answer
            .await
            .map_err(|_| Refusal::internal("the enrollment pipeline dropped a request"))?
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
    enrollment: &Arc<Enrollment>,
    code: &str,
    csrs: Vec<Vec<u8>>,
) -> Result<Vec<CsrInput>, Refusal> {
    match csrs.len() {
        0 => Ok(Vec::new()),
        1 => Ok(csrs.iter().map(|c| enrollment.check(c, code)).collect()),
        n if n <= CHECK_AHEAD_MAX => {
            let (enrollment, code) = (Arc::clone(enrollment), code.to_owned());
            tokio::task::spawn_blocking(move || {
                csrs.iter().map(|c| enrollment.check(c, &code)).collect()
            })
            .await
            .map_err(Refusal::internal)
        }
        _ => Ok(csrs.into_iter().map(CsrInput::raw).collect()),
    }
}

async fn drain(enrollment: Arc<Enrollment>, mut jobs: mpsc::Receiver<Job>) {
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
        let enrollment = Arc::clone(&enrollment);
        tokio::spawn(async move {
            enroll_run(&enrollment, run).await;
            drop(admitted);
        });
    }
}

async fn enroll_run(enrollment: &Arc<Enrollment>, jobs: Vec<Job>) {
    // Jobs of one caller and kind share a run; the audit log keeps the
    // caller of each.
    let mut groups: HashMap<(String, String, bool), Vec<Job>> = HashMap::new();
    for mut job in jobs {
        // A re-issue caused by an event runs alone: its completion carries
        // the event, and a refusal of the event must not sink a chunk of
        // other robots' certificates.
        if let Some(cause) = job.cause.take() {
            let result = run(
                enrollment,
                &job.code,
                &job.actor,
                job.csrs,
                job.reissue,
                Some(&cause),
                None,
            )
            .await;
            let _ = job.reply.send(result);
            continue;
        }
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
        match run(enrollment, &code, &actor, csrs, reissue, None, None).await {
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

/// Most prepared items recorded in one transaction. Smaller chunks let the
/// signing of one chunk overlap the registry work of its neighbours; larger
/// ones cost fewer transactions. Runs of up to twice this are one chunk.
const RECORD_CHUNK: usize = 2_500;

/// How many items of `n` go in each chunk.
fn record_chunk(n: usize) -> usize {
    if n <= 2 * RECORD_CHUNK {
        n.max(1)
    } else {
        RECORD_CHUNK
    }
}

/// Enrolls `csrs` for manufacturer `code` in one run (re-issued because of
/// `cause`, if given, recorded with it), `chunk_len`
/// requests per chunk if given (tests), else as [`record_chunk`] says; one
/// result per CSR, in order. Err only for failures of the CA itself.
///
/// The run goes through four stages chunk by chunk, overlapped: while
/// chunk k is signed on every core, chunk k + 1 is checked and prepared
/// (also on every core), and the registry completes chunk k - 1 and
/// then records chunk k + 1 (on its own thread). Each chunk keeps the
/// durable order: recorded before it is signed, completed before
/// anything is answered.
pub(super) async fn run(
    enrollment: &Arc<Enrollment>,
    code: &str,
    actor: &str,
    csrs: Vec<CsrInput>,
    reissue: bool,
    cause: Option<&Cause>,
    chunk_len: Option<usize>,
) -> Result<Vec<Result<Delivered, Refusal>>, Refusal> {
    let started = std::time::Instant::now();
    let count = csrs.len();
    let manufacturer = enrollment.manufacturer(code).await?;
    let chunk_len = chunk_len.unwrap_or_else(|| record_chunk(count)).max(1);
    let mut inputs: std::collections::VecDeque<Vec<(usize, CsrInput)>> =
        std::collections::VecDeque::new();
    let mut rest = csrs.into_iter().enumerate().peekable();
    while rest.peek().is_some() {
        inputs.push_back(rest.by_ref().take(chunk_len).collect());
    }
    let chunk_count = inputs.len();
    let mut slots: Vec<Option<Item>> = (0..count).map(|_| None).collect();
    let mut repeats = Repeats::default();

    let mut prepared = match inputs.pop_front() {
        Some(c) => Some(enrollment.prepare_chunk(c, code, &manufacturer).await),
        None => None,
    };

    let mut recorded: Option<Vec<(usize, Item)>> = None;
    let mut signed: Option<Vec<(usize, Item)>> = None;
    loop {
        let to_record = prepared
            .take()
            .map(|chunk| repeats.sort_out(chunk, &mut slots));
        if to_record.is_none() && recorded.is_none() && signed.is_none() {
            break;
        }
        let next_input = inputs.pop_front();
        let to_sign = recorded.take();
        let to_complete = signed.take();
        let manufacturer = &manufacturer;
        let prepare_side = async move {
            match next_input {
                Some(c) => Some(enrollment.prepare_chunk(c, code, manufacturer).await),
                None => None,
            }
        };
        let this = Arc::clone(enrollment);
        let sign_side = async move {
            match to_sign {
                Some(c) => Some(blocking(move || this.sign(c)).await),
                None => None,
            }
        };
        let store_side = async {
            let done = match to_complete {
                Some(c) => enrollment.complete(c, actor, cause).await,
                None => Vec::new(),
            };
            let next = match to_record {
                Some(c) => Some(enrollment.record(c, code, actor, reissue).await),
                None => None,
            };
            (done, next)
        };
        let (next_prepared, now_signed, (done, next_recorded)) =
            tokio::join!(prepare_side, sign_side, store_side);
        for (i, item) in done {
            if let Some(slot) = slots.get_mut(i) {
                *slot = Some(item);
            }
        }
        signed = now_signed.transpose()?;
        recorded = next_recorded;
        prepared = next_prepared;
    }

    tracing::debug!(
        count,
        chunks = chunk_count,
        elapsed_ms = started.elapsed().as_millis(),
        "enrollment run"
    );
    Ok(enrollment.answer(slots).await)
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
