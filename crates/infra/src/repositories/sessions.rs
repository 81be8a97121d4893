//! Login sessions in the `sessions` table.

use blog_domain::ports::{RepositoryError, SessionRepository};
use blog_domain::{SecurityEvent, Session, SessionId, TokenId, UserId};
use diesel::prelude::*;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::{PURGE_BATCH, corrupt, events, from_db_time, in_batches, to_db_time};
use crate::db::{DbPool, connection, repository_error};
use crate::schema::sessions;

/// [`SessionRepository`] on the pool.
#[derive(Clone)]
pub struct DieselSessionRepository {
    pool: DbPool,
}

impl DieselSessionRepository {
    /// A repository on `pool`.
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = sessions)]
struct SessionRow {
    id: String,
    user_id: i64,
    refresh_token_id: String,
    created_at: PrimitiveDateTime,
    expires_at: PrimitiveDateTime,
    revoked_at: Option<PrimitiveDateTime>,
}

impl TryFrom<SessionRow> for Session {
    type Error = RepositoryError;

    fn try_from(row: SessionRow) -> Result<Self, RepositoryError> {
        Ok(Session {
            id: SessionId::parse(row.id).map_err(corrupt)?,
            user_id: UserId::new(row.user_id).map_err(corrupt)?,
            refresh_token_id: TokenId::parse(row.refresh_token_id).map_err(corrupt)?,
            created_at: from_db_time(row.created_at),
            expires_at: from_db_time(row.expires_at),
            revoked_at: row.revoked_at.map(from_db_time),
        })
    }
}

impl SessionRepository for DieselSessionRepository {
    fn create(&self, session: &Session, event: &SecurityEvent) -> Result<(), RepositoryError> {
        let mut conn = connection(&self.pool)?;
        conn.transaction(|conn| {
            diesel::insert_into(sessions::table)
                .values((
                    sessions::id.eq(session.id.as_str()),
                    sessions::user_id.eq(session.user_id.get()),
                    sessions::refresh_token_id.eq(session.refresh_token_id.as_str()),
                    sessions::created_at.eq(to_db_time(session.created_at)),
                    sessions::expires_at.eq(to_db_time(session.expires_at)),
                    sessions::revoked_at.eq(session.revoked_at.map(to_db_time)),
                ))
                .execute(conn)?;
            events::insert(conn, event, event.user_id)
        })
        .map_err(repository_error)
    }

    fn find(&self, id: &SessionId) -> Result<Option<Session>, RepositoryError> {
        let mut conn = connection(&self.pool)?;
        sessions::table
            .find(id.as_str())
            .select(SessionRow::as_select())
            .first(&mut conn)
            .optional()
            .map_err(repository_error)?
            .map(Session::try_from)
            .transpose()
    }

    fn rotate_refresh_token(
        &self,
        id: &SessionId,
        current: &TokenId,
        next: &TokenId,
        now: OffsetDateTime,
        event: &SecurityEvent,
    ) -> Result<bool, RepositoryError> {
        let mut conn = connection(&self.pool)?;
        conn.transaction(|conn| {
            // One statement: of two refreshes with the same token, one wins.
            let swapped = diesel::update(
                sessions::table
                    .filter(sessions::id.eq(id.as_str()))
                    .filter(sessions::refresh_token_id.eq(current.as_str()))
                    .filter(sessions::revoked_at.is_null())
                    .filter(sessions::expires_at.gt(to_db_time(now))),
            )
            .set(sessions::refresh_token_id.eq(next.as_str()))
            .execute(conn)?
                == 1;
            if swapped {
                events::insert(conn, event, event.user_id)?;
            }
            Ok(swapped)
        })
        .map_err(repository_error)
    }

    fn revoke(
        &self,
        id: &SessionId,
        at: OffsetDateTime,
        event: &SecurityEvent,
    ) -> Result<(), RepositoryError> {
        let mut conn = connection(&self.pool)?;
        conn.transaction(|conn| {
            diesel::update(
                sessions::table
                    .filter(sessions::id.eq(id.as_str()))
                    .filter(sessions::revoked_at.is_null()),
            )
            .set(sessions::revoked_at.eq(Some(to_db_time(at))))
            .execute(conn)?;
            events::insert(conn, event, event.user_id)
        })
        .map_err(repository_error)
    }

    fn delete_expired(&self, now: OffsetDateTime) -> Result<u64, RepositoryError> {
        let mut conn = connection(&self.pool)?;
        let expired = sessions::expires_at.le(to_db_time(now));
        // In batches: no statement holds its locks for long.
        in_batches(|| {
            let ids: Vec<String> = sessions::table
                .select(sessions::id)
                .filter(expired)
                .limit(PURGE_BATCH)
                .load(&mut conn)?;
            diesel::delete(sessions::table.filter(sessions::id.eq_any(ids))).execute(&mut conn)
        })
    }
}
