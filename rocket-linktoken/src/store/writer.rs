//! The ledger's writer: group commit.
//!
//! Requests hand their spends, and responses their settlements and refusal rows, to a queue.
//! A lane of the writer takes everything waiting, writes it in one transaction on a connection
//! of its own, and answers each spend on its own. While one batch is being written the next
//! gathers, so the busier the server, the larger the batches and the fewer the commits.
//! Batches are formed and their statements run in turn, in arrival order; on PostgreSQL and
//! MySQL the commits of a few lanes overlap (each commit waits for the log to reach the disk, and
//! concurrent commits share that wait). On SQLite there is one lane: the library's writes never
//! wait behind each other for the write lock.
//!
//! A batch that fails fails its spends closed (the requests are refused, never let through),
//! and keeps its settlements and rows to write again, after a backoff, until they are written.
//!
//! Each spent use's row names its holder, this writer, until it is settled. While it has uses
//! in flight the writer beats (writes the time, by the database's clock, in
//! `linktoken_holders`) every [`BEAT_EVERY`]: a spend refused because a link's last uses are
//! held by a beating holder is told they are in flight, not gone; the uses of a holder that
//! fell silent (its process was killed) stay spent.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use rocket::tokio::select;
use rocket::tokio::sync::mpsc::error::TryRecvError;
use rocket::tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use rocket::tokio::sync::{oneshot, Mutex, Notify, RwLock};
use rocket::tokio::time::{sleep_until, timeout_at, Instant};

use super::{
    connection_lost, decide, missing_table, token_grants, Backend, Dialect, Record, Settlement,
    SpendRequest, Spent,
};
use crate::Error;

/// Most spends decided in one batch.
const MOST_SPENDS: usize = 512;
/// Most settlements and rows written in one batch.
const MOST_ROWS: usize = 4096;
/// Most refusal rows kept for a retry while the database is failing; older ones are dropped
/// (settlements never are: they give uses back).
const MOST_RECORDS_KEPT: usize = 100_000;
/// Longest a batch of settlements and rows alone waits for spends to write them with.
const RIDE_ALONG: Duration = Duration::from_millis(5);
/// Tries left for what is still unwritten once the ledger is dropped.
const TRIES_WHEN_CLOSING: u32 = 3;
/// How often a writer with uses in flight says it is alive; a few of these fit in
/// [`super::HOLDER_SILENCE_MS`].
const BEAT_EVERY: Duration = Duration::from_millis(500);

enum Job {
    Spend(SpendRequest, oneshot::Sender<Result<Spent, Error>>),
    Settle(Settlement),
    Record(Record),
    Flush(oneshot::Sender<bool>),
}

/// The handle requests use to reach the writer's lanes.
pub(super) struct Writer {
    jobs: UnboundedSender<Job>,
    /// Uses this writer granted whose settlements it has not been handed yet.
    unsettled: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

fn stopped() -> Error {
    Error::Database(Arc::new(rocket_db_pools::sqlx::Error::PoolClosed))
}

impl Writer {
    /// Starts the writer's lanes on the current Tokio runtime.
    pub(super) fn start(backend: Backend) -> Writer {
        let (jobs, queue) = mpsc::unbounded_channel();
        let unsettled = Arc::new(AtomicUsize::new(0));
        let shared = Arc::new(Shared {
            holder: holder_id(),
            unsettled: Arc::clone(&unsettled),
            last_beat: std::sync::Mutex::new(None),
            queue: Mutex::new(Queue {
                jobs: queue,
                open: true,
            }),
            writing: Arc::new(RwLock::new(())),
            retry: std::sync::Mutex::new(Retry::default()),
            retry_added: Notify::new(),
        });
        for _ in 0..lanes(&backend) {
            rocket::tokio::spawn(lane(backend.clone(), Arc::clone(&shared)));
        }
        Writer { jobs, unsettled }
    }

    pub(super) async fn spend(&self, request: SpendRequest) -> Result<Spent, Error> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Spend(request, reply))
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    pub(super) fn settle(&self, settlement: Settlement) {
        // Saturating: a use granted by a batch whose commit failed was never counted.
        let _ = self
            .unsettled
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        if self.jobs.send(Job::Settle(settlement)).is_err() {
            rocket::error!(
                "rocket-linktoken: the ledger's writer has stopped; a settlement is lost"
            );
        }
    }

    pub(super) fn record(&self, record: Record) {
        if self.jobs.send(Job::Record(record)).is_err() {
            rocket::error!(
                "rocket-linktoken: the ledger's writer has stopped; a use's row is lost"
            );
        }
    }

    /// Writes everything handed over before, retries included (without waiting for their
    /// backoff). Whether nothing is left unwritten.
    pub(super) async fn flush(&self) -> bool {
        let (reply, answer) = oneshot::channel();
        if self.jobs.send(Job::Flush(reply)).is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }
}

/// What one transaction writes.
#[derive(Default)]
struct Batch {
    settlements: Vec<Settlement>,
    records: Vec<Record>,
    spends: Vec<SpendRequest>,
    /// Whether it says this writer is alive.
    beat: bool,
}

impl Batch {
    fn rows(&self) -> usize {
        self.settlements.len() + self.records.len()
    }

    fn is_empty(&self) -> bool {
        self.rows() == 0 && self.spends.is_empty() && !self.beat
    }

    /// The links whose counts this batch may change, sorted: the ones it spends and the ones
    /// it gives uses back to.
    fn links(&self) -> Vec<&str> {
        let spent = self.spends.iter().map(|s| s.claims.jti.as_str());
        let returned = self
            .settlements
            .iter()
            .filter(|s| s.gives_back())
            .map(|s| s.jti.as_str());
        let mut links: Vec<&str> = spent.chain(returned).collect();
        links.sort_unstable();
        links.dedup();
        links
    }
}

/// The writer's own connection: opened with the pool's options, so it has the application's
/// settings (journal mode, `synchronous`, busy timeout) and changes none of them (on SQLite it
/// keeps its statement journals in memory: [`super::sqlite::open`]).
enum Connection {
    #[cfg(feature = "sqlite")]
    Sqlite(rocket_db_pools::sqlx::SqliteConnection),
    #[cfg(feature = "postgres")]
    Postgres(Box<rocket_db_pools::sqlx::PgConnection>),
    #[cfg(feature = "mysql")]
    Mysql(Box<rocket_db_pools::sqlx::MySqlConnection>),
}

impl Connection {
    async fn open(backend: &Backend) -> Result<Connection, Error> {
        Ok(match backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(pool) => Connection::Sqlite(super::sqlite::open(pool).await?),
            #[cfg(feature = "postgres")]
            Backend::Postgres(pool) => {
                Connection::Postgres(Box::new(super::postgres::open(pool).await?))
            }
            #[cfg(feature = "mysql")]
            Backend::Mysql(pool) => Connection::Mysql(Box::new(super::mysql::open(pool).await?)),
        })
    }

    fn dialect(&mut self) -> &mut dyn Dialect {
        match self {
            #[cfg(feature = "sqlite")]
            Connection::Sqlite(conn) => conn,
            #[cfg(feature = "postgres")]
            Connection::Postgres(conn) => &mut **conn,
            #[cfg(feature = "mysql")]
            Connection::Mysql(conn) => &mut **conn,
        }
    }
}

/// How many batches may be written at once: SQLite has one write lock, so one; PostgreSQL and
/// MySQL (InnoDB) commit concurrent transactions with one flush of their log, so a few.
fn lanes(backend: &Backend) -> usize {
    match backend {
        #[cfg(feature = "sqlite")]
        Backend::Sqlite(_) => 1,
        #[cfg(feature = "postgres")]
        Backend::Postgres(_) => 3,
        #[cfg(feature = "mysql")]
        Backend::Mysql(_) => 3,
    }
}

/// What the lanes of one writer share.
struct Shared {
    /// This writer's name in the rows of the uses it holds, random.
    holder: String,
    /// Uses granted and not settled yet: while there are any, the writer beats.
    unsettled: Arc<AtomicUsize>,
    /// When the last beat was written.
    last_beat: std::sync::Mutex<Option<Instant>>,
    /// The queue, taken in turn: a lane holds it while it gathers a batch and runs its
    /// statements, so rows get ids in order of arrival, locks are taken in the order batches
    /// were formed, and a use given back is there for a spend queued after it.
    queue: Mutex<Queue>,
    /// Held (shared) by each batch being written; a flush takes it alone, to wait for every
    /// batch formed before it.
    writing: Arc<RwLock<()>>,
    /// Settlements and rows whose batch failed, for any lane to write again.
    retry: std::sync::Mutex<Retry>,
    /// Wakes a lane waiting for jobs when rows are kept for a retry.
    retry_added: Notify,
}

struct Queue {
    jobs: UnboundedReceiver<Job>,
    open: bool,
}

/// Rows to write again, and when.
#[derive(Default)]
struct Retry {
    batch: Batch,
    /// Failed batches in a row.
    failures: u32,
    due: Option<Instant>,
}

impl Shared {
    fn retry(&self) -> std::sync::MutexGuard<'_, Retry> {
        self.retry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The rows to write again, if their backoff is over (or `now` regardless).
    fn take_retry(&self, now: bool) -> Option<Batch> {
        let mut retry = self.retry();
        let due = retry.due.is_some_and(|due| now || due <= Instant::now());
        if !due {
            return None;
        }
        retry.due = None;
        Some(std::mem::take(&mut retry.batch))
    }

    /// Keeps a failed batch's rows for a retry after a backoff.
    fn keep_for_retry(&self, settlements: Vec<Settlement>, records: Vec<Record>) {
        let mut retry = self.retry();
        retry.failures = retry.failures.saturating_add(1);
        retry.batch.settlements.extend(settlements);
        retry.batch.records.extend(records);
        let excess = retry.batch.records.len().saturating_sub(MOST_RECORDS_KEPT);
        if excess > 0 {
            retry.batch.records.drain(..excess);
            rocket::error!("rocket-linktoken: {excess} rows of refused attempts dropped");
        }
        if retry.batch.rows() > 0 {
            retry.due = Some(Instant::now() + backoff(retry.failures));
        }
        drop(retry);
        self.retry_added.notify_one();
    }

    fn succeeded(&self) {
        self.retry().failures = 0;
    }

    /// When the next beat is due, if one is needed: this writer holds uses, or is about to
    /// (`spending`).
    fn next_beat(&self, spending: bool) -> Option<Instant> {
        if !spending && self.unsettled.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let last = *self
            .last_beat
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Some(last.map_or_else(Instant::now, |last| last + BEAT_EVERY))
    }

    fn beaten(&self, at: Instant) {
        *self
            .last_beat
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(at);
    }
}

/// A random name for this writer in the rows of the uses it holds.
fn holder_id() -> String {
    let mut bytes = [0u8; 12];
    // Without the system's randomness, the time still tells processes apart.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        bytes.copy_from_slice(&nanos.to_le_bytes()[..12]);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A batch being gathered, with whom to answer.
#[derive(Default)]
struct Gathered {
    batch: Batch,
    replies: Vec<oneshot::Sender<Result<Spent, Error>>>,
    flushes: Vec<oneshot::Sender<bool>>,
}

impl Gathered {
    fn take(&mut self, job: Job) {
        match job {
            Job::Spend(request, reply) => {
                self.batch.spends.push(request);
                self.replies.push(reply);
            }
            Job::Settle(settlement) => self.batch.settlements.push(settlement),
            Job::Record(record) => self.batch.records.push(record),
            Job::Flush(reply) => self.flushes.push(reply),
        }
    }

    fn add_retry(&mut self, retry: Batch) {
        self.batch.settlements.extend(retry.settlements);
        self.batch.records.extend(retry.records);
    }
}

/// Gathers what is waiting: rows due for a retry, then every job queued. Waits for a first
/// job, or for the next retry to be due. `None` once the queue is closed and the retries are
/// done or given up.
async fn gather(queue: &mut Queue, shared: &Shared) -> Option<Gathered> {
    let mut gathered = Gathered::default();
    loop {
        if let Some(retry) = shared.take_retry(false) {
            gathered.add_retry(retry);
            break;
        }
        let due = shared.retry().due;
        let beat = shared.next_beat(false);
        if !queue.open {
            let failures = shared.retry().failures;
            match due {
                Some(due) if failures <= TRIES_WHEN_CLOSING => sleep_until(due).await,
                Some(_) => {
                    let left = shared.retry().batch.rows();
                    rocket::error!(
                        "rocket-linktoken: the ledger closed with {left} rows unwritten"
                    );
                    return None;
                }
                None => return None,
            }
            continue;
        }
        select! {
            job = queue.jobs.recv() => match job {
                Some(job) => {
                    gathered.take(job);
                    break;
                }
                None => queue.open = false,
            },
            () = async { if let Some(due) = due { sleep_until(due).await } }, if due.is_some() => {}
            () = async { if let Some(beat) = beat { sleep_until(beat).await } }, if beat.is_some() => {
                break;
            }
            () = shared.retry_added.notified() => {}
        }
    }
    // Settlements and rows alone would cost a commit of their own. Under load the next spends
    // follow within moments (they are the next clicks of the clients just answered), so they
    // wait a little to ride along; nothing waits for them but a flush, which ends the wait.
    let ride_along = Instant::now() + RIDE_ALONG;
    while queue.open && gathered.batch.spends.is_empty() && gathered.flushes.is_empty() {
        match timeout_at(ride_along, queue.jobs.recv()).await {
            Ok(Some(job)) => gathered.take(job),
            Ok(None) => queue.open = false,
            Err(_elapsed) => break,
        }
    }
    while queue.open
        && gathered.batch.spends.len() < MOST_SPENDS
        && gathered.batch.rows() < MOST_ROWS
    {
        match queue.jobs.try_recv() {
            Ok(job) => gathered.take(job),
            Err(TryRecvError::Empty) => break,
            Err(TryRecvError::Disconnected) => queue.open = false,
        }
    }
    if !gathered.flushes.is_empty() {
        if let Some(retry) = shared.take_retry(true) {
            gathered.add_retry(retry);
        }
    }
    gathered.batch.beat = shared
        .next_beat(!gathered.batch.spends.is_empty())
        .is_some_and(|beat| beat <= Instant::now());
    Some(gathered)
}

async fn lane(backend: Backend, shared: Arc<Shared>) {
    let mut connection: Option<Connection> = None;
    loop {
        let mut queue = shared.queue.lock().await;
        let Some(Gathered {
            batch,
            replies,
            flushes,
        }) = gather(&mut queue, &shared).await
        else {
            return;
        };
        let writing = Arc::clone(&shared.writing).read_owned().await;
        let started = Instant::now();
        let written = if batch.is_empty() {
            drop(queue);
            Ok(Vec::new())
        } else {
            // Statements run in turn, so rows get ids in order of arrival and locks are taken
            // in order; only the commits (each a flush of the database's log) overlap.
            let reused = connection.is_some();
            let holder = shared.holder.as_str();
            let mut stepped = write_in_turn(&backend, &mut connection, &batch, holder).await;
            if reused && stepped.as_ref().is_err_and(connection_lost) {
                // The connection kept from earlier batches died since (the database restarted):
                // the batch, never committed, is tried once more on a new one.
                connection = None;
                stepped = write_in_turn(&backend, &mut connection, &batch, holder).await;
            }
            if stepped.as_ref().is_err_and(missing_table) {
                // The database lost the library's tables while the server ran: create them
                // again, and write the batch on them.
                rocket::warn!("rocket-linktoken: the ledger's tables are missing; creating them");
                stepped = match backend.migrate().await {
                    Ok(()) => write_in_turn(&backend, &mut connection, &batch, holder).await,
                    Err(e) => Err(e),
                };
            }
            drop(queue);
            match stepped {
                Ok(results) => commit(&mut connection).await.map(|()| results),
                Err(e) => Err(e),
            }
        };
        let size = batch.spends.len() + batch.rows();
        if written.is_ok() && size > 0 {
            // Before a flush waiting for this batch can return; a beat alone is not measured.
            crate::metrics::ledger_batch(size);
        }
        drop(writing);
        if batch.beat {
            // Failed or not: a database that is down is not asked again before the next beat.
            shared.beaten(started);
        }
        match written {
            Ok(results) => {
                shared.succeeded();
                let granted = results.iter().filter(|r| r.is_ok()).count();
                shared.unsettled.fetch_add(granted, Ordering::Relaxed);
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                // A connection that failed is dropped, so the next batch starts on a fresh
                // one (and a restarted database is found).
                connection = None;
                rocket::error!(
                    "rocket-linktoken: the ledger could not write {} spends and {} rows: {e}",
                    batch.spends.len(),
                    batch.rows()
                );
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
                shared.keep_for_retry(batch.settlements, batch.records);
            }
        }
        if !flushes.is_empty() {
            let _every_batch_before = shared.writing.write().await;
            let settled = shared.retry().batch.rows() == 0;
            for reply in flushes {
                let _ = reply.send(settled);
            }
        }
    }
}

/// Begins a batch's transaction on the lane's connection (opening one if needed) and runs its
/// statements: settlements first (so a use given back is there for the spends behind it), then
/// the rows of attempts that spent nothing, then the spends, decided together. Rolls back on a
/// failure.
async fn write_in_turn(
    backend: &Backend,
    connection: &mut Option<Connection>,
    batch: &Batch,
    holder: &str,
) -> Result<Vec<Result<Spent, Error>>, Error> {
    let conn = match connection {
        Some(conn) => conn,
        None => connection.insert(Connection::open(backend).await?),
    }
    .dialect();
    conn.begin(&batch.links()).await?;
    let results = steps(conn, batch, holder).await;
    if results.is_err() {
        // The connection is dropped after a failure anyway; a rollback that fails too has
        // nothing to add.
        let _ = conn.end(false).await;
    }
    results
}

async fn commit(connection: &mut Option<Connection>) -> Result<(), Error> {
    match connection {
        Some(conn) => conn.dialect().end(true).await,
        None => Err(protocol("the ledger's connection went away")),
    }
}

/// How long to wait before writing again after `failures` failed batches in a row.
fn backoff(failures: u32) -> Duration {
    Duration::from_millis(50u64.saturating_mul(1 << failures.min(6)))
}

async fn steps(
    conn: &mut dyn Dialect,
    batch: &Batch,
    holder: &str,
) -> Result<Vec<Result<Spent, Error>>, Error> {
    let states = conn
        .settle_then_read(&batch.settlements, &batch.records, &batch.spends)
        .await?;
    if states.len() != batch.spends.len() {
        return Err(protocol("the ledger read fewer links than it was asked"));
    }
    if batch.beat {
        conn.beat(holder).await?;
    }
    let mut decisions = decide(&batch.spends, &states);
    let granted: Vec<&SpendRequest> = batch
        .spends
        .iter()
        .zip(&decisions)
        .filter(|(_, decision)| decision.is_ok())
        .map(|(spend, _)| spend)
        .collect();
    let ids = if granted.is_empty() {
        Vec::new()
    } else {
        conn.grant(&token_grants(&granted), &granted, holder)
            .await?
    };
    if ids.len() != granted.len() {
        return Err(protocol("the ledger wrote fewer rows than uses it granted"));
    }
    // Read after the grant: a use granted in this very batch is in flight too.
    let mut used_up: Vec<&str> = batch
        .spends
        .iter()
        .zip(&decisions)
        .filter(|(_, decision)| matches!(decision, Err(Error::UsedUp)))
        .map(|(spend, _)| spend.claims.jti.as_str())
        .collect();
    if !used_up.is_empty() {
        used_up.sort_unstable();
        used_up.dedup();
        let in_flight = conn.in_flight(&used_up).await?;
        for (spend, decision) in batch.spends.iter().zip(&mut decisions) {
            if matches!(decision, Err(Error::UsedUp)) && in_flight.contains(&spend.claims.jti) {
                *decision = Err(Error::InFlight);
            }
        }
    }
    let mut ids = ids.into_iter();
    Ok(decisions
        .into_iter()
        .map(|decision| {
            let uses = decision?;
            let use_id = ids
                .next()
                .ok_or_else(|| protocol("a granted use has no row"))?;
            Ok(Spent { use_id, uses })
        })
        .collect())
}

fn protocol(what: &str) -> Error {
    Error::Database(Arc::new(rocket_db_pools::sqlx::Error::Protocol(
        what.to_owned(),
    )))
}
