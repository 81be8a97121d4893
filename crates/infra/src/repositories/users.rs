//! Users in the `users` table.

use blog_domain::ports::{RepositoryError, UserRepository};
use blog_domain::{
    ExternalIdentity, NewUser, Page, PageRequest, PasswordHash, SecurityEvent, SessionId, User,
    UserCredentials, UserId, Username,
};
use diesel::prelude::*;
use time::OffsetDateTime;

use super::{StoredTime, corrupt, events, read_page, sessions, to_db_time};
use crate::db::{DbConnection, DbPool, connection, repository_error, write};
use crate::schema::{user_identities, users};

/// [`UserRepository`] on the pool.
#[derive(Clone)]
pub struct DieselUserRepository {
    pool: DbPool,
}

impl DieselUserRepository {
    /// A repository on `pool`.
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
struct UserRow {
    id: i64,
    username: String,
    created_at: StoredTime,
}

impl TryFrom<UserRow> for User {
    type Error = RepositoryError;

    fn try_from(row: UserRow) -> Result<Self, RepositoryError> {
        Ok(User {
            id: UserId::new(row.id).map_err(corrupt)?,
            username: Username::parse(row.username).map_err(corrupt)?,
            created_at: row.created_at.utc(),
        })
    }
}

/// The stored `password_hash` of a user without a password (see the
/// migration `third_party_login`): no hasher makes an empty hash.
const NO_PASSWORD: &str = "";

/// Inserts `user` and records `event` as the new user's, on `conn`.
fn insert(conn: &mut DbConnection, user: &NewUser, event: &SecurityEvent) -> QueryResult<UserRow> {
    let hash = user
        .password_hash
        .as_ref()
        .map_or(NO_PASSWORD, PasswordHash::as_str);
    let row = diesel::insert_into(users::table)
        .values((
            users::username.eq(user.username.as_str()),
            users::password_hash.eq(hash),
            users::created_at.eq(to_db_time(user.created_at)),
        ))
        // A column tuple, not `as_returning()`: the multi-backend
        // connection cannot run a `SelectBy` in a RETURNING clause.
        .returning((users::id, users::username, users::created_at))
        .get_result::<UserRow>(conn)?;
    events::insert(conn, event, UserId::new(row.id).ok())?;
    Ok(row)
}

impl UserRepository for DieselUserRepository {
    fn create(&self, user: &NewUser, event: &SecurityEvent) -> Result<User, RepositoryError> {
        let (user, event) = (user.clone(), event.clone());
        write(&self.pool, move |conn| insert(conn, &user, &event))?.try_into()
    }

    fn find_by_identity(
        &self,
        identity: &ExternalIdentity,
    ) -> Result<Option<User>, RepositoryError> {
        let mut conn = connection(&self.pool)?;
        user_identities::table
            .inner_join(users::table)
            .filter(user_identities::provider.eq(identity.provider.as_str()))
            .filter(user_identities::subject.eq(identity.subject.as_str()))
            .select(UserRow::as_select())
            .get_result(&mut conn)
            .optional()
            .map_err(repository_error)?
            .map(User::try_from)
            .transpose()
    }

    fn create_linked(
        &self,
        user: &NewUser,
        identity: &ExternalIdentity,
        event: &SecurityEvent,
    ) -> Result<User, RepositoryError> {
        let (user, identity, event) = (user.clone(), identity.clone(), event.clone());
        write(&self.pool, move |conn| {
            let row = insert(conn, &user, &event)?;
            diesel::insert_into(user_identities::table)
                .values((
                    user_identities::provider.eq(identity.provider.as_str()),
                    user_identities::subject.eq(identity.subject.as_str()),
                    user_identities::user_id.eq(row.id),
                    user_identities::created_at.eq(to_db_time(user.created_at)),
                ))
                .execute(conn)?;
            Ok(row)
        })?
        .try_into()
    }

    fn find_credentials(
        &self,
        username: &Username,
    ) -> Result<Option<UserCredentials>, RepositoryError> {
        let mut conn = connection(&self.pool)?;
        let row: Option<(UserRow, String)> = users::table
            .filter(users::username.eq(username.as_str()))
            .select((UserRow::as_select(), users::password_hash))
            .get_result(&mut conn)
            .optional()
            .map_err(repository_error)?;
        row.map(|(user, hash)| {
            Ok(UserCredentials {
                user: user.try_into()?,
                password_hash: (hash != NO_PASSWORD).then(|| PasswordHash::new(hash)),
            })
        })
        .transpose()
    }

    fn find(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        let mut conn = connection(&self.pool)?;
        users::table
            .find(id.get())
            .select(UserRow::as_select())
            .get_result(&mut conn)
            .optional()
            .map_err(repository_error)?
            .map(User::try_from)
            .transpose()
    }

    fn list(&self, page: PageRequest) -> Result<Page<User>, RepositoryError> {
        read_page(
            &self.pool,
            page,
            |conn| users::table.count().get_result(conn),
            |conn, limit, offset| {
                users::table
                    .select(UserRow::as_select())
                    .order(users::id.asc())
                    .limit(limit)
                    .offset(offset)
                    .load(conn)
            },
        )
    }

    fn change_password(
        &self,
        user: UserId,
        hash: &PasswordHash,
        keep: &SessionId,
        at: OffsetDateTime,
        event: &SecurityEvent,
    ) -> Result<bool, RepositoryError> {
        let (hash, keep, event) = (hash.clone(), keep.clone(), event.clone());
        write(&self.pool, move |conn| {
            let updated = diesel::update(users::table.find(user.get()))
                .set(users::password_hash.eq(hash.as_str()))
                .execute(conn)?
                == 1;
            if updated {
                sessions::revoke_all_but(conn, user, Some(&keep), at)?;
                events::insert(conn, &event, event.user_id)?;
            }
            Ok(updated)
        })
    }
}
