//! Diesel implementations of the repository ports, one code for both backends.
//!
//! Lookups by a unique key read with `get_result`, not `first`: `first`
//! adds `LIMIT ?`, and SQLite re-prepares a statement whose `LIMIT` is a
//! bound parameter at every run (its planner reads the value), which cost
//! more than the rest of the lookup.

/// Runs `$query` with `$native` bound to the backend's own connection in
/// `$conn` (a `&mut DbConnection`): one query code for both backends, as
/// through the `DbConnection`, without its cost. Diesel's multi-backend
/// connection writes out a query's whole SQL text at every run, although
/// the backend's statement cache holds it prepared already: on a read of
/// one post, that was a fifth of the read thread's time (profiled). Used
/// on the busiest paths: the posts, and the session check of every
/// authenticated request.
macro_rules! native {
    ($conn:expr, |$native:ident| $query:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($native) => $query,
            $crate::db::DbConnection::Postgres($native) => $query,
        }
    };
}

mod events;
mod mfa;
mod pending_logins;
mod posts;
mod rate_limits;
mod sessions;
mod stored_time;
mod users;

use std::net::IpAddr;

use blog_domain::ports::RepositoryError;
use blog_domain::{BoxError, Client, Page, PageRequest, UserAgent};
use diesel::{Connection, QueryResult};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::db::{DbConnection, DbPool, connection};
use stored_time::StoredTime;

pub use events::DieselSecurityEventRepository;
pub use mfa::DieselMfaRepository;
pub use pending_logins::DieselPendingLoginRepository;
pub use posts::DieselPostRepository;
pub use rate_limits::DieselRateLimiter;
pub use sessions::DieselSessionRepository;
pub use users::DieselUserRepository;

/// Timestamps are stored as UTC without a zone.
fn to_db_time(at: OffsetDateTime) -> PrimitiveDateTime {
    let utc = at.to_offset(UtcOffset::UTC);
    PrimitiveDateTime::new(utc.date(), utc.time())
}

/// One page of rows: `count` counts every row of the list, `load` reads
/// the page's rows given LIMIT and OFFSET; each row becomes a `T`. On
/// SQLite both read in one transaction, so that the total and the rows
/// agree. PostgreSQL's READ COMMITTED gives each statement its own
/// snapshot, transaction or not: the two statements go without one (two
/// round trips fewer), and the total may be one write apart from the rows.
fn read_page<R, T>(
    pool: &DbPool,
    page: PageRequest,
    count: impl FnOnce(&mut DbConnection) -> QueryResult<i64>,
    load: impl FnOnce(&mut DbConnection, i64, i64) -> QueryResult<Vec<R>>,
) -> Result<Page<T>, RepositoryError>
where
    T: TryFrom<R, Error = RepositoryError>,
{
    let offset =
        i64::try_from(page.offset()).map_err(|error| RepositoryError::Internal(Box::new(error)))?;
    let limit = i64::from(page.per_page());
    let mut conn = connection(pool)?;
    let read = |conn: &mut DbConnection| -> QueryResult<_> {
        Ok((count(conn)?, load(conn, limit, offset)?))
    };
    let (count, rows) = match &mut *conn {
        conn @ DbConnection::Sqlite(_) => conn.transaction(read),
        conn @ DbConnection::Postgres(_) => read(conn),
    }
    .map_err(crate::db::repository_error)?;
    Ok(Page {
        items: rows
            .into_iter()
            .map(T::try_from)
            .collect::<Result<_, _>>()?,
        total: u64::try_from(count).unwrap_or(0),
        request: page,
    })
}

/// A stored row that breaks a domain rule: the store was written around us.
fn corrupt(error: impl Into<BoxError>) -> RepositoryError {
    RepositoryError::Internal(error.into())
}

/// A client as stored: the address as text, and the user agent.
fn client_columns(client: &Client) -> (Option<String>, Option<&str>) {
    (
        client.address.map(|address| address.to_string()),
        client.user_agent.as_ref().map(UserAgent::as_str),
    )
}

/// A client read back from its columns.
fn client_of(ip: Option<String>, user_agent: Option<&str>) -> Result<Client, RepositoryError> {
    Ok(Client {
        address: ip
            .map(|ip| ip.parse::<IpAddr>())
            .transpose()
            .map_err(corrupt)?,
        user_agent: user_agent.and_then(UserAgent::new),
    })
}

/// Rows a purge deletes in one statement.
const PURGE_BATCH: i64 = 500;

/// Runs `delete_batch` (select up to [`PURGE_BATCH`] keys, delete them)
/// until it deletes less than a whole batch; returns the rows deleted in
/// all. Each batch is its own short write, so a purge never holds the
/// other writes up for long.
fn in_batches(
    pool: &DbPool,
    delete_batch: impl Fn(&mut DbConnection) -> QueryResult<usize> + Clone + Send + 'static,
) -> Result<u64, RepositoryError> {
    let mut deleted = 0_u64;
    loop {
        let batch = crate::db::write(pool, delete_batch.clone())?;
        deleted += u64::try_from(batch).unwrap_or(u64::MAX);
        if i64::try_from(batch).unwrap_or(i64::MAX) < PURGE_BATCH {
            return Ok(deleted);
        }
    }
}
