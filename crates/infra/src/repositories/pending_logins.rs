//! Logins sent to an identity provider, in the `pending_logins` table.

use blog_domain::ports::{PendingLoginRepository, RepositoryError};
use blog_domain::secrecy::{ExposeSecret, SecretString};
use blog_domain::{PendingLogin, ProviderName};
use diesel::prelude::*;
use time::OffsetDateTime;

use super::{PURGE_BATCH, StoredTime, corrupt, in_batches, to_db_time};
use crate::db::{DbPool, write_statement};
use crate::schema::pending_logins;
use crate::two_factor::sha256_hex;

/// [`PendingLoginRepository`] on the pool. A `state` is kept as its SHA-256
/// digest only: the table alone does not tell which callbacks would match.
#[derive(Clone)]
pub struct DieselPendingLoginRepository {
    pool: DbPool,
}

impl DieselPendingLoginRepository {
    /// A repository on `pool`.
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = pending_logins)]
struct PendingLoginRow {
    provider: String,
    nonce: String,
    pkce_verifier: String,
    expires_at: StoredTime,
}

impl PendingLoginRepository for DieselPendingLoginRepository {
    fn create(&self, state: &str, login: &PendingLogin) -> Result<(), RepositoryError> {
        let digest = sha256_hex(state);
        let provider = login.provider.as_str().to_owned();
        let nonce = login.nonce.expose_secret().to_owned();
        let verifier = login.pkce_verifier.expose_secret().to_owned();
        let expires_at = to_db_time(login.expires_at);
        write_statement(&self.pool, move |conn| {
            diesel::insert_into(pending_logins::table)
                .values((
                    pending_logins::state_hash.eq(digest),
                    pending_logins::provider.eq(provider),
                    pending_logins::nonce.eq(nonce),
                    pending_logins::pkce_verifier.eq(verifier),
                    pending_logins::expires_at.eq(expires_at),
                ))
                .execute(conn)
                .map(drop)
        })
    }

    fn take(&self, state: &str) -> Result<Option<PendingLogin>, RepositoryError> {
        let digest = sha256_hex(state);
        // One DELETE ... RETURNING: of two concurrent takes, one gets the row.
        let row = write_statement(&self.pool, move |conn| {
            diesel::delete(pending_logins::table.find(digest))
                .returning((
                    pending_logins::provider,
                    pending_logins::nonce,
                    pending_logins::pkce_verifier,
                    pending_logins::expires_at,
                ))
                .get_result::<PendingLoginRow>(conn)
                .optional()
        })?;
        row.map(|row| {
            Ok(PendingLogin {
                provider: ProviderName::parse(row.provider).map_err(corrupt)?,
                nonce: SecretString::from(row.nonce),
                pkce_verifier: SecretString::from(row.pkce_verifier),
                expires_at: row.expires_at.utc(),
            })
        })
        .transpose()
    }

    fn delete_expired(&self, now: OffsetDateTime) -> Result<u64, RepositoryError> {
        in_batches(&self.pool, move |conn| {
            let states: Vec<String> = pending_logins::table
                .select(pending_logins::state_hash)
                .filter(pending_logins::expires_at.lt(to_db_time(now)))
                .limit(PURGE_BATCH)
                .load(conn)?;
            diesel::delete(pending_logins::table.filter(pending_logins::state_hash.eq_any(states)))
                .execute(conn)
        })
    }
}
