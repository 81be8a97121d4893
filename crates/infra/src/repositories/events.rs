//! The audit trail in the `security_events` table.

use blog_domain::ports::{RepositoryError, SecurityEventRepository};
use blog_domain::{
    EventId, Page, PageRequest, ProviderName, RecordedEvent, SecurityEvent, SessionId, UserId,
};
use diesel::prelude::*;
use time::OffsetDateTime;

use super::{
    PURGE_BATCH, StoredTime, client_columns, client_of, corrupt, in_batches, read_page, to_db_time,
};
use crate::db::{DbConnection, DbPool, write};
use crate::schema::security_events;

/// [`SecurityEventRepository`] on the pool.
#[derive(Clone)]
pub struct DieselSecurityEventRepository {
    pool: DbPool,
}

impl DieselSecurityEventRepository {
    /// A repository on `pool`.
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

/// Inserts `event` on `conn`, as an event of `user_id`: the other
/// repositories call it inside the transaction of the change it records.
pub(super) fn insert(
    conn: &mut DbConnection,
    event: &SecurityEvent,
    user_id: Option<UserId>,
) -> QueryResult<()> {
    let (ip, user_agent) = client_columns(&event.client);
    diesel::insert_into(security_events::table)
        .values((
            security_events::kind.eq(event.kind.as_str()),
            security_events::user_id.eq(user_id.map(UserId::get)),
            security_events::session_id.eq(event.session_id.as_ref().map(SessionId::as_str)),
            security_events::ip.eq(ip),
            security_events::user_agent.eq(user_agent),
            security_events::at.eq(to_db_time(event.at)),
            security_events::provider.eq(event.provider.as_ref().map(ProviderName::as_str)),
        ))
        .execute(conn)
        .map(drop)
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = security_events)]
struct EventRow {
    id: i64,
    kind: String,
    user_id: Option<i64>,
    session_id: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    at: StoredTime,
    provider: Option<String>,
}

impl TryFrom<EventRow> for RecordedEvent {
    type Error = RepositoryError;

    fn try_from(row: EventRow) -> Result<Self, RepositoryError> {
        Ok(RecordedEvent {
            id: EventId::new(row.id).map_err(corrupt)?,
            event: SecurityEvent {
                kind: row.kind.parse().map_err(corrupt)?,
                user_id: row.user_id.map(UserId::new).transpose().map_err(corrupt)?,
                session_id: row
                    .session_id
                    .map(SessionId::parse)
                    .transpose()
                    .map_err(corrupt)?,
                client: client_of(row.ip, row.user_agent.as_deref())?,
                provider: row
                    .provider
                    .map(ProviderName::parse)
                    .transpose()
                    .map_err(corrupt)?,
                at: row.at.utc(),
            },
        })
    }
}

impl SecurityEventRepository for DieselSecurityEventRepository {
    fn record(&self, event: &SecurityEvent) -> Result<(), RepositoryError> {
        let event = event.clone();
        write(&self.pool, move |conn| insert(conn, &event, event.user_id))
    }

    fn list_for_user(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> Result<Page<RecordedEvent>, RepositoryError> {
        let of_user = security_events::user_id.eq(user.get());
        read_page(
            &self.pool,
            page,
            |conn| {
                security_events::table
                    .filter(of_user)
                    .count()
                    .get_result(conn)
            },
            |conn, limit, offset| {
                // Ids grow with time on both backends: newest first is id order.
                security_events::table
                    .filter(of_user)
                    .select(EventRow::as_select())
                    .order(security_events::id.desc())
                    .limit(limit)
                    .offset(offset)
                    .load(conn)
            },
        )
    }

    fn delete_before(&self, before: OffsetDateTime) -> Result<u64, RepositoryError> {
        // In batches: no write holds the others up for long.
        in_batches(&self.pool, move |conn| {
            let ids: Vec<i64> = security_events::table
                .select(security_events::id)
                .filter(security_events::at.lt(to_db_time(before)))
                .limit(PURGE_BATCH)
                .load(conn)?;
            diesel::delete(security_events::table.filter(security_events::id.eq_any(ids)))
                .execute(conn)
        })
    }
}
