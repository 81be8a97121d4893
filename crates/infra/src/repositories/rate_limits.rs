//! The rate limiter's windows in the `rate_limits` table, shared by every
//! instance on the database: one atomic upsert a hit, so that N instances
//! never allow N times the attempts.

use blog_domain::ports::{RateLimiter, RepositoryError};
use blog_domain::{RateDecision, RateLimit};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use time::{Duration, OffsetDateTime};

use super::{PURGE_BATCH, in_batches};
use crate::db::{DbConnection, DbPool, connection, repository_error, write_statement};
use crate::schema::rate_limits;

/// [`RateLimiter`] on the pool.
#[derive(Clone)]
pub struct DieselRateLimiter {
    pool: DbPool,
}

impl DieselRateLimiter {
    /// A limiter on `pool`.
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

/// A window as the upsert returns it.
#[derive(QueryableByName)]
struct Window {
    #[diesel(sql_type = BigInt)]
    window_start: i64,
    #[diesel(sql_type = BigInt)]
    hits: i64,
}

/// Counts a hit: a new window if there is none or the last one ended, else
/// one more hit in it. One statement, so concurrent hits serialise on the
/// row. The same SQL on both backends but for the placeholders.
const HIT_POSTGRES: &str = "INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, $2, 1) \
     ON CONFLICT (key) DO UPDATE SET \
     hits = CASE WHEN rate_limits.window_start <= $3 THEN 1 ELSE rate_limits.hits + 1 END, \
     window_start = CASE WHEN rate_limits.window_start <= $3 \
         THEN excluded.window_start ELSE rate_limits.window_start END \
     RETURNING window_start, hits";
const HIT_SQLITE: &str = "INSERT INTO rate_limits (key, window_start, hits) VALUES (?1, ?2, 1) \
     ON CONFLICT (key) DO UPDATE SET \
     hits = CASE WHEN rate_limits.window_start <= ?3 THEN 1 ELSE rate_limits.hits + 1 END, \
     window_start = CASE WHEN rate_limits.window_start <= ?3 \
         THEN excluded.window_start ELSE rate_limits.window_start END \
     RETURNING window_start, hits";

fn window_secs(limit: RateLimit) -> i64 {
    limit.window.whole_seconds().max(1)
}

/// The decision for a window: limited until its end when `over`.
fn decide(window: &Window, over: bool, limit: RateLimit, now: i64) -> RateDecision {
    if over {
        RateDecision::Limited {
            retry_after: Duration::seconds(window.window_start + window_secs(limit) - now),
        }
    } else {
        RateDecision::Allowed
    }
}

impl RateLimiter for DieselRateLimiter {
    fn hit(
        &self,
        key: &str,
        limit: RateLimit,
        now: OffsetDateTime,
    ) -> Result<RateDecision, RepositoryError> {
        let now = now.unix_timestamp();
        let ended_by = now - window_secs(limit);
        let key = key.to_owned();
        let window: Window = write_statement(&self.pool, move |conn| match conn {
            DbConnection::Postgres(conn) => diesel::sql_query(HIT_POSTGRES)
                .bind::<Text, _>(&key)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(ended_by)
                .get_result(conn),
            DbConnection::Sqlite(conn) => diesel::sql_query(HIT_SQLITE)
                .bind::<Text, _>(&key)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(ended_by)
                .get_result(conn),
        })?;
        let over = window.hits > i64::from(limit.max);
        Ok(decide(&window, over, limit, now))
    }

    fn peek(
        &self,
        key: &str,
        limit: RateLimit,
        now: OffsetDateTime,
    ) -> Result<RateDecision, RepositoryError> {
        let now = now.unix_timestamp();
        let mut conn = connection(&self.pool)?;
        let window = rate_limits::table
            .find(key)
            .select((rate_limits::window_start, rate_limits::hits))
            .get_result::<(i64, i64)>(&mut conn)
            .optional()
            .map_err(repository_error)?
            .map(|(window_start, hits)| Window { window_start, hits })
            .filter(|window| window.window_start + window_secs(limit) > now);
        Ok(window.map_or(RateDecision::Allowed, |window| {
            let over = window.hits >= i64::from(limit.max);
            decide(&window, over, limit, now)
        }))
    }

    fn delete_started_before(&self, before: OffsetDateTime) -> Result<u64, RepositoryError> {
        let before = before.unix_timestamp();
        in_batches(&self.pool, move |conn| {
            let keys: Vec<String> = rate_limits::table
                .select(rate_limits::key)
                .filter(rate_limits::window_start.lt(before))
                .limit(PURGE_BATCH)
                .load(conn)?;
            diesel::delete(rate_limits::table.filter(rate_limits::key.eq_any(keys))).execute(conn)
        })
    }
}
