//! The ledger's one writer: group commit.
//!
//! Requests hand their spends, and responses their settlements and refusal rows, to a queue.
//! One task per ledger takes everything waiting, writes it in one transaction on a connection
//! of its own, and answers each spend on its own. While a batch is being written the next one
//! gathers, so the busier the server, the larger the batches and the fewer the commits. On
//! SQLite the library's writes never wait behind each other for the write lock; on PostgreSQL
//! each batch is a handful of statements whatever its size.
//!
//! A batch that fails fails its spends closed (the requests are refused, never let through),
//! and keeps its settlements and rows to write again until they are written.

use std::sync::Arc;
use std::time::Duration;

use rocket::tokio::sync::mpsc::error::TryRecvError;
use rocket::tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use rocket::tokio::sync::oneshot;
use rocket::tokio::time::timeout;

use super::{decide, token_grants, Backend, Dialect, Record, Settlement, SpendRequest, Spent};
use crate::Error;

/// Most spends decided in one batch.
const MOST_SPENDS: usize = 512;
/// Most settlements and rows written in one batch.
const MOST_ROWS: usize = 4096;
/// Most refusal rows kept for a retry while the database is failing; older ones are dropped
/// (settlements never are: they give uses back).
const MOST_RECORDS_KEPT: usize = 100_000;
/// Tries left for what is still unwritten once the ledger is dropped.
const TRIES_WHEN_CLOSING: u32 = 3;

enum Job {
    Spend(SpendRequest, oneshot::Sender<Result<Spent, Error>>),
    Settle(Settlement),
    Record(Record),
    Flush(oneshot::Sender<bool>),
}

/// The handle requests use to reach the writer task.
pub(super) struct Writer {
    jobs: UnboundedSender<Job>,
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
    /// Starts the writer task on the current Tokio runtime.
    pub(super) fn start(backend: Backend) -> Writer {
        let (jobs, queue) = mpsc::unbounded_channel();
        rocket::tokio::spawn(run(backend, queue));
        Writer { jobs }
    }

    pub(super) async fn spend(&self, request: SpendRequest) -> Result<Spent, Error> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Spend(request, reply))
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    pub(super) fn settle(&self, settlement: Settlement) {
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
}

impl Batch {
    fn rows(&self) -> usize {
        self.settlements.len() + self.records.len()
    }

    fn is_empty(&self) -> bool {
        self.rows() == 0 && self.spends.is_empty()
    }

    /// The links whose counts this batch may change, sorted: the ones it spends and the ones
    /// it gives uses back to.
    fn links(&self) -> Vec<&str> {
        let spent = self.spends.iter().map(|s| s.claims.jti.as_str());
        let returned = self
            .settlements
            .iter()
            .filter(|s| s.status >= 400)
            .map(|s| s.jti.as_str());
        let mut links: Vec<&str> = spent.chain(returned).collect();
        links.sort_unstable();
        links.dedup();
        links
    }
}

/// The writer's own connection: opened with the pool's options, so it has the application's
/// settings (journal mode, `synchronous`, busy timeout) and changes none of them.
enum Connection {
    #[cfg(feature = "sqlite")]
    Sqlite(rocket_db_pools::sqlx::SqliteConnection),
    #[cfg(feature = "postgres")]
    Postgres(Box<rocket_db_pools::sqlx::PgConnection>),
}

impl Connection {
    async fn open(backend: &Backend) -> Result<Connection, Error> {
        use rocket_db_pools::sqlx::ConnectOptions as _;
        Ok(match backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(pool) => Connection::Sqlite(pool.connect_options().connect().await?),
            #[cfg(feature = "postgres")]
            Backend::Postgres(pool) => {
                Connection::Postgres(Box::new(pool.connect_options().connect().await?))
            }
        })
    }

    async fn write(&mut self, batch: &Batch) -> Result<Vec<Result<Spent, Error>>, Error> {
        match self {
            #[cfg(feature = "sqlite")]
            Connection::Sqlite(conn) => write(conn, batch).await,
            #[cfg(feature = "postgres")]
            Connection::Postgres(conn) => write(&mut **conn, batch).await,
        }
    }
}

async fn run(backend: Backend, mut queue: UnboundedReceiver<Job>) {
    let mut connection: Option<Connection> = None;
    // Settlements and rows whose batch failed, written again with the next one.
    let mut unwritten = Batch::default();
    let mut failures: u32 = 0;
    let mut open = true;
    loop {
        let mut batch = std::mem::take(&mut unwritten);
        let mut replies = Vec::new();
        let mut flushes = Vec::new();
        let mut take = |job: Job, batch: &mut Batch| match job {
            Job::Spend(request, reply) => {
                batch.spends.push(request);
                replies.push(reply);
            }
            Job::Settle(settlement) => batch.settlements.push(settlement),
            Job::Record(record) => batch.records.push(record),
            Job::Flush(reply) => flushes.push(reply),
        };

        if batch.is_empty() {
            // Nothing to retry: sleep until a job arrives.
            match queue.recv().await {
                Some(job) => take(job, &mut batch),
                None => return,
            }
        } else if !open {
            if failures > TRIES_WHEN_CLOSING {
                rocket::error!(
                    "rocket-linktoken: the ledger closed with {} settlements and {} rows unwritten",
                    batch.settlements.len(),
                    batch.records.len()
                );
                return;
            }
            rocket::tokio::time::sleep(backoff(failures)).await;
        } else if failures > 0 {
            // Something to retry after a failure: wait a little for the database to recover,
            // but not for a new spend, which is answered at once.
            match timeout(backoff(failures), queue.recv()).await {
                Ok(Some(job)) => take(job, &mut batch),
                Ok(None) => open = false,
                Err(_elapsed) => {}
            }
        }
        while open && batch.spends.len() < MOST_SPENDS && batch.rows() < MOST_ROWS {
            match queue.try_recv() {
                Ok(job) => take(job, &mut batch),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => open = false,
            }
        }

        let written = if batch.is_empty() {
            Ok(Vec::new())
        } else {
            write_on(&backend, &mut connection, &batch).await
        };
        match written {
            Ok(results) => {
                failures = 0;
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                rocket::error!(
                    "rocket-linktoken: the ledger could not write {} spends and {} rows: {e}",
                    batch.spends.len(),
                    batch.rows()
                );
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
                unwritten.settlements = batch.settlements;
                unwritten.records = batch.records;
                let excess = unwritten.records.len().saturating_sub(MOST_RECORDS_KEPT);
                if excess > 0 {
                    unwritten.records.drain(..excess);
                    rocket::error!("rocket-linktoken: {excess} rows of refused attempts dropped");
                }
            }
        }
        let settled = unwritten.is_empty();
        for reply in flushes {
            let _ = reply.send(settled);
        }
    }
}

/// Writes a batch on the writer's connection, opening one if needed. A connection that failed
/// is dropped, so the next batch starts on a fresh one (and a restarted database is found).
async fn write_on(
    backend: &Backend,
    connection: &mut Option<Connection>,
    batch: &Batch,
) -> Result<Vec<Result<Spent, Error>>, Error> {
    let conn = match connection {
        Some(conn) => conn,
        None => connection.insert(Connection::open(backend).await?),
    };
    let written = conn.write(batch).await;
    if written.is_err() {
        *connection = None;
    }
    written
}

/// How long to wait before writing again after `failures` failed batches in a row.
fn backoff(failures: u32) -> Duration {
    Duration::from_millis(50u64.saturating_mul(1 << failures.min(6)))
}

/// One transaction: settlements first (so a use given back is there for the spends behind it),
/// then the rows of attempts that spent nothing, then the spends, decided together.
async fn write<C: Dialect>(
    conn: &mut C,
    batch: &Batch,
) -> Result<Vec<Result<Spent, Error>>, Error> {
    conn.begin(&batch.links()).await?;
    match steps(conn, batch).await {
        Ok(results) => {
            conn.end(true).await?;
            Ok(results)
        }
        Err(e) => {
            // The connection is dropped after a failure anyway; a rollback that fails too has
            // nothing to add.
            let _ = conn.end(false).await;
            Err(e)
        }
    }
}

async fn steps<C: Dialect>(
    conn: &mut C,
    batch: &Batch,
) -> Result<Vec<Result<Spent, Error>>, Error> {
    if !batch.settlements.is_empty() {
        conn.settle(&batch.settlements).await?;
    }
    if !batch.records.is_empty() {
        conn.record(&batch.records).await?;
    }
    if batch.spends.is_empty() {
        return Ok(Vec::new());
    }
    let states = conn.states(&batch.spends).await?;
    if states.len() != batch.spends.len() {
        return Err(protocol("the ledger read fewer links than it was asked"));
    }
    let decisions = decide(&batch.spends, &states);
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
        conn.grant(&token_grants(&granted), &granted).await?
    };
    if ids.len() != granted.len() {
        return Err(protocol("the ledger wrote fewer rows than uses it granted"));
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
