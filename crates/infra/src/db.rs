//! The database connection, its pool and the migrations, for SQLite and
//! PostgreSQL alike.

use std::collections::BTreeSet;
use std::time::Duration;

use blog_domain::BoxError;
use blog_domain::ports::{Pending, RepositoryError};
use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::r2d2::{self, R2D2Connection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::{
    Connection, ConnectionError, PgConnection, QueryResult, RunQueryDsl, SqliteConnection,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::writer::{Isolation, Writer};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Set on every SQLite connection: WAL lets readers run beside the writer;
/// `synchronous = FULL` makes every acknowledged write survive a power cut;
/// foreign keys are off by default in SQLite; the busy timeout makes a
/// writer wait for the lock instead of failing at once.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = FULL; \
     PRAGMA foreign_keys = ON; \
     PRAGMA busy_timeout = 5000;";

/// One connection to either backend, so one repository code serves both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// A PostgreSQL connection.
    Postgres(PgConnection),
    /// A SQLite connection.
    Sqlite(SqliteConnection),
}

/// The connection pool every repository shares; on SQLite, also the one
/// writer that every write goes through (see `db::write`).
#[derive(Debug, Clone)]
pub struct DbPool {
    backend: Backend,
    connections: r2d2::Pool<ConnectionManager>,
    writer: Option<Writer>,
    /// See [`Self::concurrent_reads`].
    reads: usize,
}

impl DbPool {
    /// A connection of the pool, waiting for one up to the connection timeout.
    ///
    /// # Errors
    /// [`r2d2::PoolError`] when none could be had in time.
    pub fn get(&self) -> Result<r2d2::PooledConnection<ConnectionManager>, r2d2::PoolError> {
        self.connections.get()
    }

    /// The database's kind.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// How many connections are open and idle.
    pub fn state(&self) -> r2d2::State {
        self.connections.state()
    }

    /// How many reads can usefully run at once, never more than the pool's
    /// connections. On SQLite, one per CPU: a read is CPU work on a local
    /// file, and more of them at once only wait. On a PostgreSQL server of
    /// this machine, two per CPU: a read's wait is the server's work on the
    /// same CPUs, and more reads in flight only make them switch between
    /// our threads and its backends (measured: 16 at once served a fifth
    /// fewer reads than 4 on 2 cores). On a server elsewhere, one per
    /// connection: a read mostly waits for the network and the server.
    pub fn concurrent_reads(&self) -> usize {
        self.reads
    }
}

/// See [`DbPool::concurrent_reads`].
fn concurrent_reads(url: &DatabaseUrl, connections: u32) -> usize {
    let connections = usize::try_from(connections).unwrap_or(usize::MAX);
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let reads = match url.backend {
        Backend::Sqlite => cpus,
        Backend::Postgres if is_on_this_machine(&url.target) => 2 * cpus,
        Backend::Postgres => connections,
    };
    reads.min(connections).max(1)
}

/// Whether a PostgreSQL URL names only servers of this machine: loopback
/// hosts, or Unix sockets (no host, or a path, as libpq reads them). A
/// `host` parameter replaces the URL's hosts, as in libpq.
fn is_on_this_machine(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = location.split('/').next().unwrap_or("");
    let hosts = authority
        .rsplit_once('@')
        .map_or(authority, |(_, hosts)| hosts);
    let host_parameter = query.split('&').find_map(|pair| pair.strip_prefix("host="));
    let hosts = host_parameter.unwrap_or(hosts);
    hosts.split(',').all(|host| {
        // `[::1]:5432`, `127.0.0.1:5432`, `localhost`, `%2Fvar%2Frun%2Fpostgresql`.
        let name = match host.strip_prefix('[') {
            Some(bracketed) => bracketed.split(']').next().unwrap_or(""),
            None => host.split(':').next().unwrap_or(""),
        };
        name.is_empty()
            || name.starts_with('/')
            || name.to_ascii_lowercase().starts_with("%2f")
            || name.eq_ignore_ascii_case("localhost")
            || name
                .parse::<std::net::IpAddr>()
                .is_ok_and(|address| address.is_loopback())
    })
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A checked `DATABASE_URL`: a PostgreSQL URL, or the path of a SQLite file.
///
/// SQLite URLs follow SQLAlchemy's meaning, so the seed's settings keep
/// working: `sqlite:///blog.db` is `blog.db` relative to the working
/// directory, `sqlite:////var/lib/blog.db` is absolute. A bare path, and
/// `sqlite://blog.db`, name the path as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    backend: Backend,
    /// What the driver opens: the URL for PostgreSQL, the path for SQLite.
    target: String,
}

/// Why a `DATABASE_URL` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseUrlError {
    /// Nothing was given.
    #[error("DATABASE_URL is empty: name a SQLite file or a postgres:// URL")]
    Empty,
    /// An in-memory SQLite database: each pooled connection would get a
    /// private, empty database, and nothing would survive a restart.
    #[error(
        "DATABASE_URL names an in-memory SQLite database, which the connection pool cannot share and a restart loses: name a file"
    )]
    InMemory,
    /// A scheme of another database.
    #[error(
        "DATABASE_URL has the unsupported scheme {0:?}: use a SQLite path, sqlite:///path or postgres://"
    )]
    UnsupportedScheme(String),
}

impl DatabaseUrl {
    /// Reads a URL.
    ///
    /// # Errors
    /// [`DatabaseUrlError`] for an empty URL, an in-memory SQLite database,
    /// or a scheme other than `sqlite`, `postgres` and `postgresql`.
    pub fn parse(url: &str) -> Result<Self, DatabaseUrlError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(DatabaseUrlError::Empty);
        }
        if let Some((scheme, _)) = url.split_once("://") {
            match scheme.to_ascii_lowercase().as_str() {
                "postgres" | "postgresql" => {
                    return Ok(Self {
                        backend: Backend::Postgres,
                        target: url.to_owned(),
                    });
                }
                "sqlite" => {}
                _ => return Err(DatabaseUrlError::UnsupportedScheme(scheme.to_owned())),
            }
        }
        // `sqlite:///x` is `x`, `sqlite:////x` is `/x` (SQLAlchemy's rule).
        let path = url
            .strip_prefix("sqlite:///")
            .or_else(|| url.strip_prefix("sqlite://"))
            .unwrap_or(url);
        let in_memory = path.is_empty()
            || path == ":memory:"
            || path.starts_with("file::memory:")
            || (path.starts_with("file:") && path.contains("mode=memory"));
        if in_memory {
            return Err(DatabaseUrlError::InMemory);
        }
        Ok(Self {
            backend: Backend::Sqlite,
            target: path.to_owned(),
        })
    }

    /// The backend it names.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The SQLite file's path, or the PostgreSQL URL.
    pub fn target(&self) -> &str {
        &self.target
    }
}

/// How to size and time the pool.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// The most connections open at once.
    pub max_size: u32,
    /// How long a request waits for a connection (and PostgreSQL for a
    /// connect) before the database counts as unavailable.
    pub connection_timeout: Duration,
}

/// Opens connections of one backend. Unlike Diesel's own manager over a
/// `MultiConnection`, it never tries the other backend: a PostgreSQL URL
/// whose server is down must fail, not become a SQLite file of that name.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    backend: Backend,
    url: String,
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match self.backend {
            Backend::Postgres => PgConnection::establish(&self.url)
                .map(DbConnection::Postgres)
                .map_err(r2d2::Error::ConnectionError),
            Backend::Sqlite => {
                // SQLite's message does not say which file it could not open.
                let mut connection = SqliteConnection::establish(&self.url).map_err(|error| {
                    r2d2::Error::ConnectionError(ConnectionError::BadConnection(format!(
                        "{}: {error}",
                        self.url
                    )))
                })?;
                connection
                    .batch_execute(SQLITE_PRAGMAS)
                    .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(connection))
            }
        }
    }

    fn is_valid(&self, connection: &mut DbConnection) -> Result<(), r2d2::Error> {
        connection
            .ping()
            .map(|_| ())
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, connection: &mut DbConnection) -> bool {
        connection.is_broken()
    }
}

/// Errors of opening the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be had in time; the source says why.
    #[error("could not connect to the database")]
    Pool(#[from] r2d2::PoolError),
    /// Migrations failed.
    #[error("could not apply the database migrations")]
    Migrations(#[source] BoxError),
    /// The purge lock could not be asked for.
    #[error("could not take the purge lock")]
    Lock(#[source] BoxError),
}

/// Builds the pool for `url` without connecting yet, so that a database
/// that is down at start makes requests answer 503 instead of the process
/// failing; it reconnects by itself when the database is back. Failed
/// connection attempts are not logged one by one: the caller reports the
/// last one, once. On SQLite it also starts the writer thread.
///
/// Connections are not pinged when taken from the pool: that would be a
/// second query (on PostgreSQL a second round trip) for every one made.
/// A connection that died meanwhile fails its next query (503), and Diesel
/// then marks it broken, so the pool drops it and opens a new one.
pub fn pool(url: &DatabaseUrl, options: &PoolOptions) -> DbPool {
    let target = match url.backend {
        Backend::Sqlite => url.target.clone(),
        Backend::Postgres => with_connect_timeout(&url.target, options.connection_timeout),
    };
    let manager = ConnectionManager {
        backend: url.backend,
        url: target,
    };
    let writer = (url.backend == Backend::Sqlite).then(|| Writer::start(manager.clone()));
    let reads = concurrent_reads(url, options.max_size);
    let connections = r2d2::Pool::builder()
        .max_size(options.max_size)
        .min_idle(Some(0))
        .test_on_check_out(false)
        .connection_timeout(options.connection_timeout)
        .error_handler(Box::new(r2d2::NopErrorHandler))
        .event_handler(Box::new(PoolWaitMetrics))
        .build_unchecked(manager);
    DbPool {
        backend: url.backend,
        connections,
        writer,
        reads,
    }
}

/// Runs `work`, one statement (atomic by itself), and returns its result
/// once it is committed: as [`write`], but on PostgreSQL without the
/// `BEGIN` and `COMMIT` around it, two round trips fewer, and on SQLite
/// without a savepoint in its batch (a failing statement undoes only
/// itself). `work` of more statements than one must go to [`write`].
///
/// # Errors
/// As [`write`].
pub(crate) fn write_statement<T: Send + 'static>(
    pool: &DbPool,
    work: impl FnOnce(&mut DbConnection) -> QueryResult<T> + Send + 'static,
) -> Result<T, RepositoryError> {
    match &pool.writer {
        Some(writer) => writer.write(work, Isolation::Statement),
        None => work(&mut *connection(pool)?).map_err(repository_error),
    }
}

/// As [`write_statement`], without blocking the caller: the write is handed
/// over at once, on SQLite to the writer, on PostgreSQL to the blocking
/// pool of the runtime it is called on (or, where no runtime runs, as in a
/// plain test, made before this returns); the [`Pending`] write waits for
/// its answer.
pub(crate) fn submit_statement<T: Send + 'static>(
    pool: &DbPool,
    work: impl FnOnce(&mut DbConnection) -> QueryResult<T> + Send + 'static,
) -> Pending<T> {
    if let Some(writer) = &pool.writer {
        return Box::pin(writer.submit(work, Isolation::Statement));
    }
    let pool = pool.clone();
    let write = move || write_statement(&pool, work);
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            let made = runtime.spawn_blocking(write);
            // A write that panicked is a bug: what it did is rolled back.
            Box::pin(async move {
                made.await
                    .map_err(|error| RepositoryError::Internal(Box::new(error)))?
            })
        }
        Err(_) => Box::pin(std::future::ready(write())),
    }
}

/// Runs `work` in a transaction of its own and returns its result once it
/// is committed: on PostgreSQL on a connection of the pool, on SQLite in
/// the next batch of the one writer (group commit; see the `writer`
/// module). Every write goes through here, so that on SQLite no two
/// connections ever wait for each other's lock.
///
/// # Errors
/// `work`'s error (what it did is undone), or [`RepositoryError::Unavailable`]
/// when the write could not be committed.
pub(crate) fn write<T: Send + 'static>(
    pool: &DbPool,
    work: impl FnOnce(&mut DbConnection) -> QueryResult<T> + Send + 'static,
) -> Result<T, RepositoryError> {
    match &pool.writer {
        Some(writer) => writer.write(work, Isolation::Savepoint),
        None => (*connection(pool)?)
            .transaction(work)
            .map_err(repository_error),
    }
}

/// Records how long requests wait for a connection (`db_pool_wait_seconds`),
/// and how many gave up (`db_pool_timeouts_total`).
#[derive(Debug)]
struct PoolWaitMetrics;

impl r2d2::HandleEvent for PoolWaitMetrics {
    fn handle_checkout(&self, event: r2d2::event::CheckoutEvent) {
        metrics::histogram!("db_pool_wait_seconds").record(event.duration());
    }

    fn handle_timeout(&self, _: r2d2::event::TimeoutEvent) {
        metrics::counter!("db_pool_timeouts_total").increment(1);
    }
}

/// Sets the pool gauges, `db_pool_connections` and
/// `db_pool_idle_connections`, to what the pool holds now (call it when
/// the metrics are scraped).
pub fn record_pool_state(pool: &DbPool) {
    let state = pool.state();
    metrics::gauge!("db_pool_connections").set(f64::from(state.connections));
    metrics::gauge!("db_pool_idle_connections").set(f64::from(state.idle_connections));
}

/// Bounds libpq's connect, which otherwise may wait for the OS's TCP timeout.
fn with_connect_timeout(url: &str, timeout: Duration) -> String {
    if url.contains("connect_timeout=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!(
        "{url}{separator}connect_timeout={}",
        timeout.as_secs().max(1)
    )
}

/// Any fixed number: the key of the PostgreSQL advisory lock that serialises
/// migrations of instances starting together.
const MIGRATION_LOCK_KEY: i64 = 0x626c_6f67_6d69_6772; // "blogmigr"

/// Applies the pending migrations of the pool's backend. On PostgreSQL it
/// holds an advisory lock meanwhile, so that instances migrating at once do
/// it one after the other (the later ones find nothing pending).
///
/// # Errors
/// [`DbError`] when no connection can be had or a migration fails.
pub fn run_migrations(pool: &DbPool) -> Result<(), DbError> {
    let mut connection = pool.get()?;
    let applied = match &mut *connection {
        DbConnection::Sqlite(connection) => pending(connection, SQLITE_MIGRATIONS),
        DbConnection::Postgres(connection) => {
            let lock = |connection: &mut PgConnection, function: &str| {
                diesel::sql_query(format!("SELECT {function}({MIGRATION_LOCK_KEY})"))
                    .execute(connection)
                    .map_err(|error| DbError::Migrations(Box::new(error)))
            };
            lock(connection, "pg_advisory_lock")?;
            let applied = pending(connection, POSTGRES_MIGRATIONS);
            lock(connection, "pg_advisory_unlock")?;
            applied
        }
    }?;
    tracing::info!(applied, "database migrations up to date");
    Ok(())
}

fn pending<DB: diesel::backend::Backend>(
    connection: &mut impl MigrationHarness<DB>,
    migrations: EmbeddedMigrations,
) -> Result<usize, DbError> {
    connection
        .run_pending_migrations(migrations)
        .map(|applied| applied.len())
        .map_err(DbError::Migrations)
}

/// Any fixed number: the key of the advisory lock that lets one instance
/// purge at a time.
const PURGE_LOCK_KEY: i64 = 0x626c_6f67_7075_7267; // "blogpurg"

#[derive(diesel::QueryableByName)]
struct Locked {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    locked: bool,
}

/// Runs `work` unless another instance is purging the same database now:
/// on PostgreSQL under an advisory lock taken without waiting (`None` when
/// another holds it); on SQLite, which one instance serves, at once.
/// `work` takes its own connections: the pool needs two.
///
/// # Errors
/// [`DbError`] when no connection can be had or the lock cannot be asked for.
pub fn exclusively<T>(pool: &DbPool, work: impl FnOnce() -> T) -> Result<Option<T>, DbError> {
    let mut pooled = pool.get()?;
    let DbConnection::Postgres(connection) = &mut *pooled else {
        drop(pooled);
        return Ok(Some(work()));
    };
    let lock_error = |error| DbError::Lock(Box::new(error));
    let locked: Locked = diesel::sql_query(format!(
        "SELECT pg_try_advisory_lock({PURGE_LOCK_KEY}) AS locked"
    ))
    .get_result(connection)
    .map_err(lock_error)?;
    if !locked.locked {
        return Ok(None);
    }
    // The lock belongs to the connection, which goes back to the pool: it
    // is released even if `work` panics, or every later purge would skip.
    let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    diesel::sql_query(format!("SELECT pg_advisory_unlock({PURGE_LOCK_KEY})"))
        .execute(connection)
        .map_err(lock_error)?;
    match done {
        Ok(done) => Ok(Some(done)),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// How the database's applied migrations compare with this binary's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationStatus {
    /// This binary's migrations that the database lacks, oldest first.
    pub pending: Vec<String>,
    /// Migrations the database has that this binary does not know: the
    /// database was migrated by a newer version.
    pub unknown: Vec<String>,
}

impl MigrationStatus {
    /// Whether every migration of this binary is applied.
    pub fn is_up_to_date(&self) -> bool {
        self.pending.is_empty()
    }
}

/// Compares the migrations applied to the pool's database with the
/// embedded ones, changing nothing but Diesel's bookkeeping table.
///
/// # Errors
/// [`DbError`] when no connection can be had or the bookkeeping cannot be read.
pub fn migration_status(pool: &DbPool) -> Result<MigrationStatus, DbError> {
    match &mut *pool.get()? {
        DbConnection::Sqlite(connection) => compare(connection, SQLITE_MIGRATIONS),
        DbConnection::Postgres(connection) => compare(connection, POSTGRES_MIGRATIONS),
    }
}

fn compare<DB: diesel::backend::Backend>(
    connection: &mut impl MigrationHarness<DB>,
    migrations: EmbeddedMigrations,
) -> Result<MigrationStatus, DbError>
where
    EmbeddedMigrations: MigrationSource<DB>,
{
    let applied: BTreeSet<String> = connection
        .applied_migrations()
        .map_err(DbError::Migrations)?
        .iter()
        .map(ToString::to_string)
        .collect();
    let known: BTreeSet<String> = MigrationSource::<DB>::migrations(&migrations)
        .map_err(DbError::Migrations)?
        .iter()
        .map(|migration| migration.name().version().to_string())
        .collect();
    Ok(MigrationStatus {
        pending: known.difference(&applied).cloned().collect(),
        unknown: applied.difference(&known).cloned().collect(),
    })
}

/// Whether the database answers now: a connection is taken and pinged.
/// A connection that fails the ping is dropped, and one more is tried, so
/// that a connection that died while the database restarted does not make
/// a database that is back look down.
///
/// # Errors
/// [`RepositoryError::Unavailable`] when no live connection can be had in time.
pub fn check(pool: &DbPool) -> Result<(), RepositoryError> {
    let ping = || {
        connection(pool)?
            .ping()
            .map(drop)
            .map_err(|error| RepositoryError::Unavailable(Box::new(error)))
    };
    ping().or_else(|_| ping())
}

/// Takes a connection from the pool; running out of time means the database
/// is unavailable, not broken.
pub(crate) fn connection(
    pool: &DbPool,
) -> Result<r2d2::PooledConnection<ConnectionManager>, RepositoryError> {
    pool.get()
        .map_err(|error| RepositoryError::Unavailable(Box::new(error)))
}

/// Maps a Diesel error to the domain's view of it.
pub(crate) fn repository_error(error: DieselError) -> RepositoryError {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            RepositoryError::Conflict
        }
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => RepositoryError::Unavailable(Box::new(error)),
        // SQLite's "database is locked" after the busy timeout: overload, not a bug.
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, ref info)
            if info.message().contains("locked") =>
        {
            RepositoryError::Unavailable(Box::new(error))
        }
        other => RepositoryError::Internal(Box::new(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(url: &str) -> Result<(Backend, String), DatabaseUrlError> {
        DatabaseUrl::parse(url).map(|url| (url.backend(), url.target().to_owned()))
    }

    #[test]
    fn reads_at_once_depend_on_the_backend_and_where_it_runs() {
        let with = |url: &str, max_size| {
            let options = PoolOptions {
                max_size,
                connection_timeout: Duration::from_secs(1),
            };
            pool(&DatabaseUrl::parse(url).unwrap(), &options).concurrent_reads()
        };
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        let dir = tempfile::tempdir().unwrap();
        let sqlite = dir.path().join("blog.db");
        let sqlite = sqlite.to_str().unwrap();
        assert_eq!(with(sqlite, 64), cpus.min(64));
        assert_eq!(with(sqlite, 1), 1);
        // Nothing connects: the pool is built unchecked.
        assert_eq!(with("postgres://u@127.0.0.1:9/db", 64), 2 * cpus);
        assert_eq!(with("postgres://u@127.0.0.1:9/db", 1), 1);
        assert_eq!(with("postgres://u@db.internal:5432/db", 16), 16);
    }

    #[test]
    fn a_postgres_url_is_local_when_all_its_hosts_are_loopback_or_sockets() {
        for local in [
            "postgres://u@127.0.0.1:5432/db",
            "postgres://u:p%40ss@localhost/db",
            "postgresql://[::1]:5432/db",
            "postgres:///db",
            "postgres://%2Fvar%2Frun%2Fpostgresql/db",
            "postgres://127.0.0.1,localhost:5433/db?sslmode=disable",
            "postgres://db.internal/db?host=/var/run/postgresql",
        ] {
            assert!(is_on_this_machine(local), "{local}");
        }
        for remote in [
            "postgres://u@db.internal:5432/db",
            "postgres://u@10.0.0.5/db",
            "postgres://[2001:db8::1]:5432/db",
            "postgres://localhost,db.internal/db",
            "postgres://localhost/db?host=db.internal",
            // The password is not a host.
            "postgres://u:localhost@db.internal/db",
        ] {
            assert!(!is_on_this_machine(remote), "{remote}");
        }
    }

    /// See `.cargo/config.toml`: without the flag every page read of
    /// SQLite is parsed and planned again.
    #[test]
    fn sqlite_is_built_with_qpsg() {
        use diesel::sql_types::Text;

        #[derive(diesel::QueryableByName)]
        struct CompileOption {
            #[diesel(sql_type = Text)]
            compile_options: String,
        }
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        let options: Vec<CompileOption> = diesel::sql_query("PRAGMA compile_options")
            .load(&mut conn)
            .unwrap();
        assert!(
            options
                .iter()
                .any(|option| option.compile_options == "ENABLE_QPSG"),
            "SQLite is built without SQLITE_ENABLE_QPSG"
        );
    }

    #[test]
    fn the_url_scheme_picks_the_backend() {
        for url in ["postgres://u@127.0.0.1/db", "postgresql://u@127.0.0.1/db"] {
            assert_eq!(parsed(url), Ok((Backend::Postgres, url.to_owned())));
        }
        assert_eq!(parsed("blog.db"), Ok((Backend::Sqlite, "blog.db".into())));
    }

    #[test]
    fn sqlite_urls_mean_what_they_mean_to_sqlalchemy() {
        for (url, path) in [
            ("sqlite:///blog_dev.db", "blog_dev.db"),
            ("sqlite:///data/blog.db", "data/blog.db"),
            ("sqlite:////var/lib/blog.db", "/var/lib/blog.db"),
            ("sqlite://blog.db", "blog.db"),
            ("/var/lib/blog.db", "/var/lib/blog.db"),
            ("file:blog.db", "file:blog.db"),
        ] {
            assert_eq!(parsed(url), Ok((Backend::Sqlite, path.into())), "{url}");
        }
    }

    #[test]
    fn empty_in_memory_and_foreign_urls_are_refused() {
        assert_eq!(parsed(""), Err(DatabaseUrlError::Empty));
        assert_eq!(parsed("  "), Err(DatabaseUrlError::Empty));
        for url in [
            ":memory:",
            "sqlite://",
            "sqlite:///:memory:",
            "file::memory:?cache=shared",
            "file:blog?mode=memory&cache=shared",
        ] {
            assert_eq!(parsed(url), Err(DatabaseUrlError::InMemory), "{url}");
        }
        assert_eq!(
            parsed("mysql://root@localhost/blog"),
            Err(DatabaseUrlError::UnsupportedScheme("mysql".into()))
        );
    }

    #[test]
    fn postgres_urls_get_a_connect_timeout_unless_they_have_one() {
        let timeout = Duration::from_secs(3);
        assert_eq!(
            with_connect_timeout("postgres://h/db", timeout),
            "postgres://h/db?connect_timeout=3"
        );
        assert_eq!(
            with_connect_timeout("postgres://h/db?a=b", timeout),
            "postgres://h/db?a=b&connect_timeout=3"
        );
        assert_eq!(
            with_connect_timeout("postgres://h/db?connect_timeout=9", timeout),
            "postgres://h/db?connect_timeout=9"
        );
    }
}
