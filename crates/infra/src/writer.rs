//! SQLite's one writer, with group commit.
//!
//! SQLite lets one transaction write at a time, and with `synchronous =
//! FULL` every commit waits for the disk. Writers on many connections queue
//! on the file lock and commit one by one, sleeping in the busy handler
//! meanwhile. Here one thread owns the only writing connection instead:
//! each write is a job sent to it, and it runs every job that is waiting in
//! one transaction (each job in a savepoint of its own, or, a job of one
//! statement, as SQLite backs out a failing statement by itself: a failing
//! job undoes only itself), commits once, and only then answers each caller.
//! An acknowledged write is durable, as before; one disk flush now serves
//! every write that arrived while the previous one was being made.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Receiver, Sender};

use blog_domain::ports::RepositoryError;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::r2d2::{ManageConnection, R2D2Connection};
use diesel::{Connection, QueryResult};
use tokio::sync::oneshot;

use crate::db::{ConnectionManager, DbConnection, repository_error};

/// Most jobs in one transaction: bounds how long one commit keeps the
/// callers of its first jobs waiting.
const MAX_BATCH: usize = 256;

/// What a job gives back once it has run: the call that answers its caller,
/// told whether the batch committed.
type Answer = Box<dyn FnOnce(Result<(), &str>) + Send>;

/// One write: runs on the writer's connection, inside the batch's
/// transaction.
type Job = Box<dyn FnOnce(&mut DbConnection) -> Answer + Send>;

/// How a write's failure is kept from undoing the rest of its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isolation {
    /// A savepoint of its own around the write: for work of any kind.
    Savepoint,
    /// None needed: the write is one statement, and SQLite backs out a
    /// failing statement by itself (triggers and all), leaving the
    /// transaction as it was. Two unprepared statements fewer a write
    /// (`SAVEPOINT`, `RELEASE`): a thirtieth of a post's create (callgrind).
    /// An error after the statement ran (reading back its `RETURNING` row)
    /// leaves its change in the batch, as PostgreSQL's autocommit does.
    Statement,
}

/// The sending end of the writer's queue; the thread stops once every
/// sender (every clone of the pool) is gone.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    jobs: Sender<Job>,
}

/// Why a write that reached the writer was not made.
#[derive(Debug, thiserror::Error)]
#[error("the SQLite writer {0}")]
struct WriterFailed(String);

impl Writer {
    /// Starts the writer thread; it connects when the first job comes, and
    /// again after a failure.
    pub(crate) fn start(manager: ConnectionManager) -> Self {
        let (jobs, queue) = mpsc::channel();
        // If the thread cannot start, every write fails as unavailable.
        let started = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(&manager, &queue));
        if let Err(error) = started {
            tracing::error!(%error, "could not start the SQLite writer thread");
        }
        Self { jobs }
    }

    /// Runs `work` in the next batch and returns its result once the batch
    /// is committed. If `work` fails, what it did is undone (as `isolation`
    /// says) and the rest of the batch commits without it.
    pub(crate) fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> QueryResult<T> + Send + 'static,
        isolation: Isolation,
    ) -> Result<T, RepositoryError> {
        let (job, answered) = waited_job(work, isolation);
        self.send(job)?;
        answered.recv().map_err(|_| not_run())?
    }

    /// As [`Self::write`], but without blocking: the job is queued at once,
    /// and the future waits for its answer.
    pub(crate) fn submit<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> QueryResult<T> + Send + 'static,
        isolation: Isolation,
    ) -> impl Future<Output = Result<T, RepositoryError>> + Send + 'static {
        let (answer, answered) = oneshot::channel();
        let sent = self.send(job(work, isolation, move |result| {
            let _ = answer.send(result);
        }));
        async move {
            sent?;
            answered.await.map_err(|_| not_run())?
        }
    }

    fn send(&self, job: Job) -> Result<(), RepositoryError> {
        self.jobs.send(job).map_err(|_| unavailable("has stopped"))
    }
}

/// `work` as a job, which gives its result to `answer` once its batch is
/// over.
fn job<T: Send + 'static>(
    work: impl FnOnce(&mut DbConnection) -> QueryResult<T> + Send + 'static,
    isolation: Isolation,
    answer: impl FnOnce(Result<T, RepositoryError>) + Send + 'static,
) -> Job {
    Box::new(move |conn| {
        let done = match isolation {
            Isolation::Savepoint => conn.transaction(work),
            Isolation::Statement => work(conn),
        };
        Box::new(move |committed| answer(outcome(done, committed)))
    })
}

/// `work` as a job, and where its result will come once its batch is over.
fn waited_job<T: Send + 'static>(
    work: impl FnOnce(&mut DbConnection) -> QueryResult<T> + Send + 'static,
    isolation: Isolation,
) -> (Job, Receiver<Result<T, RepositoryError>>) {
    let (answer, answered) = mpsc::sync_channel(1);
    let job = job(work, isolation, move |result| {
        // The caller waits for this answer; if it is gone, no one is left to tell.
        let _ = answer.send(result);
    });
    (job, answered)
}

/// No answer means the job was dropped unrun: no connection, or a panic in
/// its batch. Nothing of it was committed.
fn not_run() -> RepositoryError {
    unavailable("could not run the write")
}

fn unavailable(why: &str) -> RepositoryError {
    RepositoryError::Unavailable(Box::new(WriterFailed(why.to_owned())))
}

fn outcome<T>(done: QueryResult<T>, committed: Result<(), &str>) -> Result<T, RepositoryError> {
    match (done, committed) {
        (Err(error), _) => Err(repository_error(error)),
        (Ok(_), Err(why)) => Err(unavailable(&format!("could not commit: {why}"))),
        (Ok(value), Ok(())) => Ok(value),
    }
}

/// The writer thread: takes every job waiting (up to [`MAX_BATCH`]), runs
/// them in one transaction, commits, answers; until the queue closes.
fn run(manager: &ConnectionManager, queue: &Receiver<Job>) {
    let mut connection: Option<DbConnection> = None;
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        batch.extend(queue.try_iter().take(MAX_BATCH - 1));
        if connection.is_none() {
            match manager.connect() {
                Ok(conn) => connection = Some(conn),
                Err(error) => tracing::warn!(%error, "the SQLite writer could not connect"),
            }
        }
        // Without a connection the batch is dropped: its callers get 503.
        let Some(conn) = connection.as_mut() else {
            continue;
        };
        // A panicking job leaves the transaction in an unknown state: the
        // connection is dropped (SQLite rolls back what was not committed)
        // and the next batch opens a new one; so is a connection left in a
        // transaction by a failed commit and rollback.
        let panicked = catch_unwind(AssertUnwindSafe(|| run_batch(conn, batch))).is_err();
        if panicked {
            tracing::error!("a write panicked; its batch was rolled back");
        }
        if panicked || conn.is_broken() {
            connection = None;
        }
    }
}

fn run_batch(conn: &mut DbConnection, batch: Vec<Job>) {
    // IMMEDIATE: the write lock now, not at the first write, so that a
    // writer of another process (the CLI) makes this wait in the busy
    // handler rather than fail half-way.
    let DbConnection::Sqlite(sqlite) = conn else {
        return;
    };
    if let Err(error) = AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE") {
        tracing::warn!(%error, "the SQLite writer could not begin a transaction");
        return; // The batch is dropped: its callers get 503.
    }
    let answers: Vec<Answer> = batch.into_iter().map(|job| job(conn)).collect();
    let committed = <DbConnection as Connection>::TransactionManager::commit_transaction(conn);
    if let Err(error) = &committed {
        tracing::warn!(%error, "the SQLite writer could not commit");
        // Diesel rolls back a failed commit where it can; if the
        // connection is still in a transaction, end it here.
        let _ = <DbConnection as Connection>::TransactionManager::rollback_transaction(conn);
    }
    let why = committed.as_ref().err().map(ToString::to_string);
    for answer in answers {
        answer(why.as_deref().map_or(Ok(()), Err));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use blog_domain::testing::block_on;
    use diesel::connection::SimpleConnection;
    use diesel::sql_types::BigInt;
    use diesel::{QueryableByName, RunQueryDsl};

    use super::*;
    use crate::db::{self, DatabaseUrl, DbPool, PoolOptions};

    /// A SQLite file with a table of numbers, and its pool (and writer).
    fn sqlite() -> (tempfile::TempDir, DbPool) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("writer.db");
        let pool = db::pool(
            &DatabaseUrl::parse(path.to_str().unwrap()).unwrap(),
            &PoolOptions {
                max_size: 2,
                connection_timeout: Duration::from_secs(5),
            },
        );
        pool.get()
            .unwrap()
            .batch_execute(
                "CREATE TABLE numbers (n INTEGER PRIMARY KEY); \
                 CREATE TABLE parents (id INTEGER PRIMARY KEY); \
                 CREATE TABLE children (parent INTEGER REFERENCES parents (id) \
                     DEFERRABLE INITIALLY DEFERRED);",
            )
            .unwrap();
        (dir, pool)
    }

    fn insert(n: i64) -> impl FnOnce(&mut DbConnection) -> QueryResult<i64> + Send + 'static {
        move |conn| {
            diesel::sql_query(format!("INSERT INTO numbers VALUES ({n})"))
                .execute(conn)
                .map(|_| n)
        }
    }

    #[derive(QueryableByName)]
    struct Number {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    fn numbers(pool: &DbPool) -> Vec<i64> {
        diesel::sql_query("SELECT n FROM numbers ORDER BY n")
            .load::<Number>(&mut *pool.get().unwrap())
            .unwrap()
            .into_iter()
            .map(|row| row.n)
            .collect()
    }

    #[test]
    fn a_failing_write_undoes_only_itself_and_the_rest_of_its_batch_commits() {
        let (_dir, pool) = sqlite();
        let (first, first_done) = waited_job(insert(1), Isolation::Savepoint);
        // Writes 2, then fails on a duplicate 1: the 2 must go too.
        let (failing, failing_done) = waited_job(
            |conn| {
                insert(2)(conn)?;
                insert(1)(conn)
            },
            Isolation::Savepoint,
        );
        let (last, last_done) = waited_job(insert(3), Isolation::Savepoint);
        run_batch(&mut pool.get().unwrap(), vec![first, failing, last]);
        assert_eq!(first_done.recv().unwrap().unwrap(), 1);
        assert!(matches!(
            failing_done.recv().unwrap(),
            Err(RepositoryError::Conflict)
        ));
        assert_eq!(last_done.recv().unwrap().unwrap(), 3);
        assert_eq!(numbers(&pool), [1, 3]);
    }

    #[test]
    fn a_failing_statement_undoes_only_itself_without_a_savepoint() {
        let (_dir, pool) = sqlite();
        let statement = |sql: &'static str| {
            waited_job(
                move |conn| diesel::sql_query(sql).execute(conn),
                Isolation::Statement,
            )
        };
        let (first, first_done) = statement("INSERT INTO numbers VALUES (1)");
        // Writes 2, then fails on a duplicate 1: SQLite backs out the 2 too.
        let (failing, failing_done) = statement("INSERT INTO numbers VALUES (2), (1)");
        let (last, last_done) = statement("INSERT INTO numbers VALUES (3)");
        run_batch(&mut pool.get().unwrap(), vec![first, failing, last]);
        assert_eq!(first_done.recv().unwrap().unwrap(), 1);
        assert!(matches!(
            failing_done.recv().unwrap(),
            Err(RepositoryError::Conflict)
        ));
        assert_eq!(last_done.recv().unwrap().unwrap(), 1);
        assert_eq!(numbers(&pool), [1, 3]);
    }

    #[test]
    fn when_the_commit_fails_every_write_of_the_batch_fails_and_none_is_kept() {
        let (_dir, pool) = sqlite();
        let (fine, fine_done) = waited_job(insert(1), Isolation::Savepoint);
        // A deferred foreign key is checked at COMMIT: a commit that fails.
        let (orphan, orphan_done) = waited_job(
            |conn| diesel::sql_query("INSERT INTO children VALUES (42)").execute(conn),
            Isolation::Savepoint,
        );
        let mut conn = pool.get().unwrap();
        run_batch(&mut conn, vec![fine, orphan]);
        for answer in [
            fine_done.recv().unwrap().map(drop),
            orphan_done.recv().unwrap().map(drop),
        ] {
            assert!(
                matches!(answer, Err(RepositoryError::Unavailable(_))),
                "{answer:?}"
            );
        }
        assert!(!conn.is_broken(), "the failed transaction was ended");
        drop(conn);
        assert_eq!(numbers(&pool), Vec::<i64>::new());
        assert_eq!(
            db::write(&pool, insert(2)).unwrap(),
            2,
            "and the next batch commits"
        );
    }

    #[test]
    fn writes_from_many_threads_are_each_answered_once_committed() {
        let (_dir, pool) = sqlite();
        std::thread::scope(|scope| {
            for n in 0..64 {
                let pool = &pool;
                scope.spawn(move || assert_eq!(db::write(pool, insert(n)).unwrap(), n));
            }
        });
        assert_eq!(numbers(&pool), (0..64).collect::<Vec<_>>());
    }

    #[test]
    fn a_submitted_write_is_queued_at_once_and_answered_once_committed() {
        let (_dir, pool) = sqlite();
        drop(db::submit_statement(&pool, insert(1)));
        assert_eq!(block_on(db::submit_statement(&pool, insert(2))).unwrap(), 2);
        assert_eq!(numbers(&pool), [1, 2], "made though never awaited");
        assert!(matches!(
            block_on(db::submit_statement(&pool, insert(2))),
            Err(RepositoryError::Conflict)
        ));
        assert_eq!(numbers(&pool), [1, 2]);
    }

    #[test]
    fn a_panicking_write_fails_and_the_writer_goes_on() {
        let (_dir, pool) = sqlite();
        let panicked = db::write(&pool, |_| -> QueryResult<()> { panic!("a bug in a write") });
        assert!(matches!(panicked, Err(RepositoryError::Unavailable(_))));
        assert_eq!(db::write(&pool, insert(7)).unwrap(), 7);
        assert_eq!(numbers(&pool), [7]);
    }

    #[test]
    fn a_submitted_write_that_panics_fails_as_unavailable_and_the_writer_goes_on() {
        let (_dir, pool) = sqlite();
        let panicked = block_on(db::submit_statement(&pool, |_| -> QueryResult<()> {
            panic!("a bug in a write")
        }));
        assert!(matches!(panicked, Err(RepositoryError::Unavailable(_))));
        assert_eq!(block_on(db::submit_statement(&pool, insert(7))).unwrap(), 7);
        assert_eq!(numbers(&pool), [7]);
    }
}
