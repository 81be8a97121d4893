//! The database connection, its pool and the migrations, for SQLite and
//! PostgreSQL alike.

use std::time::Duration;

use blog_domain::BoxError;
use blog_domain::ports::RepositoryError;
use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, R2D2Connection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

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

/// The connection pool every repository shares.
pub type DbPool = r2d2::Pool<ConnectionManager>;

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// `postgres://` and `postgresql://` URLs name PostgreSQL; anything else
    /// (a path, or `sqlite://path`) a SQLite file.
    pub fn of(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::Postgres
        } else {
            Self::Sqlite
        }
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
#[derive(Debug)]
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
                let mut connection =
                    SqliteConnection::establish(&self.url).map_err(r2d2::Error::ConnectionError)?;
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
    /// The pool could not be built.
    #[error("could not build the connection pool")]
    Pool(#[from] r2d2::PoolError),
    /// Migrations failed.
    #[error("could not apply the database migrations")]
    Migrations(#[source] BoxError),
}

/// Builds the pool for `url` without connecting yet, so that a database
/// that is down at start makes requests answer 503 instead of the process
/// failing; it reconnects by itself when the database is back.
pub fn pool(url: &str, options: &PoolOptions) -> DbPool {
    let backend = Backend::of(url);
    let url = match backend {
        Backend::Sqlite => url.strip_prefix("sqlite://").unwrap_or(url).to_owned(),
        Backend::Postgres => with_connect_timeout(url, options.connection_timeout),
    };
    r2d2::Pool::builder()
        .max_size(options.max_size)
        .min_idle(Some(0))
        .connection_timeout(options.connection_timeout)
        .build_unchecked(ConnectionManager { backend, url })
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

/// Whether the database answers now: a connection is taken (and, by the
/// pool, pinged).
///
/// # Errors
/// [`RepositoryError::Unavailable`] when no live connection can be had in time.
pub fn check(pool: &DbPool) -> Result<(), RepositoryError> {
    connection(pool).map(drop)
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

    #[test]
    fn the_url_scheme_picks_the_backend() {
        assert_eq!(Backend::of("postgres://u@127.0.0.1/db"), Backend::Postgres);
        assert_eq!(
            Backend::of("postgresql://u@127.0.0.1/db"),
            Backend::Postgres
        );
        assert_eq!(Backend::of("blog.db"), Backend::Sqlite);
        assert_eq!(Backend::of("sqlite://blog.db"), Backend::Sqlite);
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
