//! Login sessions in the `sessions` table.

use blog_domain::ports::{RepositoryError, SessionRepository};
use blog_domain::{Page, PageRequest, SecurityEvent, Session, SessionId, TokenId, UserId};
use diesel::prelude::*;
use time::OffsetDateTime;

use super::{
    PURGE_BATCH, StoredTime, client_columns, client_of, corrupt, events, in_batches, read_page,
    to_db_time,
};
use crate::db::{DbConnection, DbPool, connection, repository_error, write};
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
    created_at: StoredTime,
    expires_at: StoredTime,
    revoked_at: Option<StoredTime>,
    last_used_at: Option<StoredTime>,
    ip: Option<String>,
    user_agent: Option<String>,
}

impl TryFrom<SessionRow> for Session {
    type Error = RepositoryError;

    fn try_from(row: SessionRow) -> Result<Self, RepositoryError> {
        Ok(Session {
            id: SessionId::parse(row.id).map_err(corrupt)?,
            user_id: UserId::new(row.user_id).map_err(corrupt)?,
            refresh_token_id: TokenId::parse(row.refresh_token_id).map_err(corrupt)?,
            created_at: row.created_at.utc(),
            // Sessions from before the column: never refreshed since.
            last_used_at: row.last_used_at.unwrap_or(row.created_at).utc(),
            expires_at: row.expires_at.utc(),
            revoked_at: row.revoked_at.map(StoredTime::utc),
            client: client_of(row.ip, row.user_agent.as_deref())?,
        })
    }
}

impl SessionRepository for DieselSessionRepository {
    fn create(&self, session: &Session, event: &SecurityEvent) -> Result<(), RepositoryError> {
        let (session, event) = (session.clone(), event.clone());
        write(&self.pool, move |conn| {
            let (ip, user_agent) = client_columns(&session.client);
            diesel::insert_into(sessions::table)
                .values((
                    sessions::id.eq(session.id.as_str()),
                    sessions::user_id.eq(session.user_id.get()),
                    sessions::refresh_token_id.eq(session.refresh_token_id.as_str()),
                    sessions::created_at.eq(to_db_time(session.created_at)),
                    sessions::last_used_at.eq(Some(to_db_time(session.last_used_at))),
                    sessions::expires_at.eq(to_db_time(session.expires_at)),
                    sessions::revoked_at.eq(session.revoked_at.map(to_db_time)),
                    sessions::ip.eq(ip),
                    sessions::user_agent.eq(user_agent),
                ))
                .execute(conn)?;
            events::insert(conn, &event, event.user_id)
        })
    }

    fn find(&self, id: &SessionId) -> Result<Option<Session>, RepositoryError> {
        let mut conn = connection(&self.pool)?;
        native!(&mut *conn, |conn| sessions::table
            .find(id.as_str())
            .select(SessionRow::as_select())
            .get_result(conn))
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
        let (id, current, next, event) = (id.clone(), current.clone(), next.clone(), event.clone());
        write(&self.pool, move |conn| {
            // One statement: of two refreshes with the same token, one wins.
            let swapped = diesel::update(
                sessions::table
                    .filter(sessions::id.eq(id.as_str()))
                    .filter(sessions::refresh_token_id.eq(current.as_str()))
                    .filter(sessions::revoked_at.is_null())
                    .filter(sessions::expires_at.gt(to_db_time(now))),
            )
            .set((
                sessions::refresh_token_id.eq(next.as_str()),
                sessions::last_used_at.eq(Some(to_db_time(now))),
            ))
            .execute(conn)?
                == 1;
            if swapped {
                events::insert(conn, &event, event.user_id)?;
            }
            Ok(swapped)
        })
    }

    fn revoke(
        &self,
        id: &SessionId,
        at: OffsetDateTime,
        event: &SecurityEvent,
    ) -> Result<(), RepositoryError> {
        let (id, event) = (id.clone(), event.clone());
        write(&self.pool, move |conn| {
            diesel::update(
                sessions::table
                    .filter(sessions::id.eq(id.as_str()))
                    .filter(sessions::revoked_at.is_null()),
            )
            .set(sessions::revoked_at.eq(Some(to_db_time(at))))
            .execute(conn)?;
            events::insert(conn, &event, event.user_id)
        })
    }

    fn revoke_of_user(
        &self,
        id: &SessionId,
        user: UserId,
        at: OffsetDateTime,
        event: &SecurityEvent,
    ) -> Result<bool, RepositoryError> {
        let (id, event) = (id.clone(), event.clone());
        write(&self.pool, move |conn| {
            let revoked = diesel::update(
                sessions::table
                    .filter(sessions::id.eq(id.as_str()))
                    .filter(sessions::user_id.eq(user.get()))
                    .filter(sessions::revoked_at.is_null())
                    .filter(sessions::expires_at.gt(to_db_time(at))),
            )
            .set(sessions::revoked_at.eq(Some(to_db_time(at))))
            .execute(conn)?
                == 1;
            if revoked {
                events::insert(conn, &event, event.user_id)?;
            }
            Ok(revoked)
        })
    }

    fn revoke_all_of_user(
        &self,
        user: UserId,
        at: OffsetDateTime,
        event: &SecurityEvent,
    ) -> Result<u64, RepositoryError> {
        let event = event.clone();
        write(&self.pool, move |conn| {
            let revoked = revoke_all_but(conn, user, None, at)?;
            events::insert(conn, &event, event.user_id)?;
            Ok(revoked)
        })
    }

    fn list_live(
        &self,
        user: UserId,
        now: OffsetDateTime,
        page: PageRequest,
    ) -> Result<Page<Session>, RepositoryError> {
        let live = || {
            sessions::table
                .filter(sessions::user_id.eq(user.get()))
                .filter(sessions::revoked_at.is_null())
                .filter(sessions::expires_at.gt(to_db_time(now)))
        };
        read_page(
            &self.pool,
            page,
            |conn| live().count().get_result(conn),
            |conn, limit, offset| {
                live()
                    .select(SessionRow::as_select())
                    .order((sessions::created_at.desc(), sessions::id.desc()))
                    .limit(limit)
                    .offset(offset)
                    .load(conn)
            },
        )
    }

    fn delete_expired(&self, now: OffsetDateTime) -> Result<u64, RepositoryError> {
        // In batches: no write holds the others up for long.
        in_batches(&self.pool, move |conn| {
            let ids: Vec<String> = sessions::table
                .select(sessions::id)
                .filter(sessions::expires_at.le(to_db_time(now)))
                .limit(PURGE_BATCH)
                .load(conn)?;
            diesel::delete(sessions::table.filter(sessions::id.eq_any(ids))).execute(conn)
        })
    }
}

/// Revokes at `at` every session of `user` not yet revoked, but `keep`;
/// returns how many. For the callers' transactions.
pub(super) fn revoke_all_but(
    conn: &mut DbConnection,
    user: UserId,
    keep: Option<&SessionId>,
    at: OffsetDateTime,
) -> QueryResult<u64> {
    let of_user = sessions::table
        .filter(sessions::user_id.eq(user.get()))
        .filter(sessions::revoked_at.is_null())
        // No session id is empty: "" keeps none.
        .filter(sessions::id.ne(keep.map_or("", SessionId::as_str)));
    let revoked = diesel::update(of_user)
        .set(sessions::revoked_at.eq(Some(to_db_time(at))))
        .execute(conn)?;
    Ok(u64::try_from(revoked).unwrap_or(u64::MAX))
}
