//! Two-factor state in `totp_credentials`, `recovery_codes` and
//! `mfa_challenges`.

use blog_domain::ports::{MfaRepository, RepositoryError};
use blog_domain::{
    MFA_MAX_FAILURES, MfaChallenge, MfaTokenHash, RecoveryCodeHash, SealedSecret, SecurityEvent,
    TotpCredential, UserId,
};
use diesel::prelude::*;
use time::OffsetDateTime;

use super::{PURGE_BATCH, StoredTime, corrupt, events, in_batches, to_db_time};
use crate::db::{DbPool, connection, repository_error, write, write_statement};
use crate::schema::{mfa_challenges, recovery_codes, totp_credentials};

/// [`MfaRepository`] on the pool.
#[derive(Clone)]
pub struct DieselMfaRepository {
    pool: DbPool,
}

impl DieselMfaRepository {
    /// A repository on `pool`.
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

fn step_column(step: u64) -> Result<i64, RepositoryError> {
    i64::try_from(step).map_err(corrupt)
}

impl MfaRepository for DieselMfaRepository {
    fn totp(&self, user: UserId) -> Result<Option<TotpCredential>, RepositoryError> {
        let mut conn = connection(&self.pool)?;
        let row: Option<(String, bool, Option<i64>)> = totp_credentials::table
            .find(user.get())
            .select((
                totp_credentials::sealed,
                totp_credentials::active,
                totp_credentials::last_step,
            ))
            .get_result(&mut conn)
            .optional()
            .map_err(repository_error)?;
        row.map(|(sealed, active, last_step)| {
            Ok(TotpCredential {
                sealed: SealedSecret::new(sealed),
                active,
                last_step: last_step.map(u64::try_from).transpose().map_err(corrupt)?,
            })
        })
        .transpose()
    }

    fn start_enrolment(
        &self,
        user: UserId,
        sealed: &SealedSecret,
        at: OffsetDateTime,
    ) -> Result<bool, RepositoryError> {
        let sealed = sealed.clone();
        write(&self.pool, move |conn| {
            // A pending enrolment is replaced; an active one stays. (Of two
            // enrolments at once, the loser's insert is a Conflict: 409.)
            let active: Option<bool> = totp_credentials::table
                .find(user.get())
                .select(totp_credentials::active)
                .get_result(conn)
                .optional()?;
            if active == Some(true) {
                return Ok(false);
            }
            diesel::delete(totp_credentials::table.find(user.get())).execute(conn)?;
            diesel::insert_into(totp_credentials::table)
                .values((
                    totp_credentials::user_id.eq(user.get()),
                    totp_credentials::sealed.eq(sealed.as_str()),
                    totp_credentials::active.eq(false),
                    totp_credentials::created_at.eq(to_db_time(at)),
                ))
                .execute(conn)?;
            Ok(true)
        })
    }

    fn activate(
        &self,
        user: UserId,
        step: u64,
        codes: &[RecoveryCodeHash],
        event: &SecurityEvent,
    ) -> Result<bool, RepositoryError> {
        let step = step_column(step)?;
        let (codes, event) = (codes.to_vec(), event.clone());
        write(&self.pool, move |conn| {
            let activated = diesel::update(
                totp_credentials::table
                    .find(user.get())
                    .filter(totp_credentials::active.eq(false)),
            )
            .set((
                totp_credentials::active.eq(true),
                totp_credentials::last_step.eq(Some(step)),
            ))
            .execute(conn)?
                == 1;
            if activated {
                diesel::delete(
                    recovery_codes::table.filter(recovery_codes::user_id.eq(user.get())),
                )
                .execute(conn)?;
                // One row at a time: the two-backend connection has no
                // batch insert, and there are ten.
                for code in &codes {
                    diesel::insert_into(recovery_codes::table)
                        .values((
                            recovery_codes::user_id.eq(user.get()),
                            recovery_codes::code_hash.eq(code.as_str()),
                        ))
                        .execute(conn)?;
                }
                events::insert(conn, &event, event.user_id)?;
            }
            Ok(activated)
        })
    }

    fn deactivate(&self, user: UserId, event: &SecurityEvent) -> Result<bool, RepositoryError> {
        let event = event.clone();
        write(&self.pool, move |conn| {
            let removed = diesel::delete(
                totp_credentials::table
                    .find(user.get())
                    .filter(totp_credentials::active.eq(true)),
            )
            .execute(conn)?
                == 1;
            if removed {
                diesel::delete(
                    recovery_codes::table.filter(recovery_codes::user_id.eq(user.get())),
                )
                .execute(conn)?;
                events::insert(conn, &event, event.user_id)?;
            }
            Ok(removed)
        })
    }

    fn use_step(&self, user: UserId, step: u64) -> Result<bool, RepositoryError> {
        let step = step_column(step)?;
        // One statement: of two uses of the same code, one wins.
        let used = write_statement(&self.pool, move |conn| {
            diesel::update(
                totp_credentials::table
                    .find(user.get())
                    .filter(totp_credentials::active.eq(true))
                    .filter(
                        totp_credentials::last_step
                            .is_null()
                            .or(totp_credentials::last_step.lt(step)),
                    ),
            )
            .set(totp_credentials::last_step.eq(Some(step)))
            .execute(conn)
        })?;
        Ok(used == 1)
    }

    fn use_recovery_code(
        &self,
        user: UserId,
        code: &RecoveryCodeHash,
        at: OffsetDateTime,
        event: &SecurityEvent,
    ) -> Result<bool, RepositoryError> {
        let (code, event) = (code.clone(), event.clone());
        write(&self.pool, move |conn| {
            let spent = diesel::update(
                recovery_codes::table
                    .filter(recovery_codes::user_id.eq(user.get()))
                    .filter(recovery_codes::code_hash.eq(code.as_str()))
                    .filter(recovery_codes::used_at.is_null()),
            )
            .set(recovery_codes::used_at.eq(Some(to_db_time(at))))
            .execute(conn)?
                == 1;
            if spent {
                events::insert(conn, &event, event.user_id)?;
            }
            Ok(spent)
        })
    }

    fn create_challenge(
        &self,
        token: &MfaTokenHash,
        user: UserId,
        expires_at: OffsetDateTime,
    ) -> Result<(), RepositoryError> {
        let token = token.clone();
        write_statement(&self.pool, move |conn| {
            diesel::insert_into(mfa_challenges::table)
                .values((
                    mfa_challenges::token_hash.eq(token.as_str()),
                    mfa_challenges::user_id.eq(user.get()),
                    mfa_challenges::expires_at.eq(to_db_time(expires_at)),
                    mfa_challenges::failures.eq(0),
                ))
                .execute(conn)
        })?;
        Ok(())
    }

    fn challenge(&self, token: &MfaTokenHash) -> Result<Option<MfaChallenge>, RepositoryError> {
        let mut conn = connection(&self.pool)?;
        type Row = (i64, StoredTime, i32, Option<StoredTime>);
        let row: Option<Row> = mfa_challenges::table
            .find(token.as_str())
            .select((
                mfa_challenges::user_id,
                mfa_challenges::expires_at,
                mfa_challenges::failures,
                mfa_challenges::used_at,
            ))
            .get_result(&mut conn)
            .optional()
            .map_err(repository_error)?;
        row.map(|(user_id, expires_at, failures, used_at)| {
            Ok(MfaChallenge {
                user_id: UserId::new(user_id).map_err(corrupt)?,
                expires_at: expires_at.utc(),
                failures: u32::try_from(failures).map_err(corrupt)?,
                used: used_at.is_some(),
            })
        })
        .transpose()
    }

    fn fail_challenge(
        &self,
        token: &MfaTokenHash,
        event: &SecurityEvent,
    ) -> Result<(), RepositoryError> {
        let (token, event) = (token.clone(), event.clone());
        write(&self.pool, move |conn| {
            diesel::update(mfa_challenges::table.find(token.as_str()))
                .set(mfa_challenges::failures.eq(mfa_challenges::failures + 1))
                .execute(conn)?;
            events::insert(conn, &event, event.user_id)
        })
    }

    fn consume_challenge(
        &self,
        token: &MfaTokenHash,
        now: OffsetDateTime,
    ) -> Result<bool, RepositoryError> {
        let max_failures = i32::try_from(MFA_MAX_FAILURES).map_err(corrupt)?;
        let token = token.clone();
        // One statement: a token completes one login at most.
        let consumed = write_statement(&self.pool, move |conn| {
            diesel::update(
                mfa_challenges::table
                    .find(token.as_str())
                    .filter(mfa_challenges::used_at.is_null())
                    .filter(mfa_challenges::failures.lt(max_failures))
                    .filter(mfa_challenges::expires_at.gt(to_db_time(now))),
            )
            .set(mfa_challenges::used_at.eq(Some(to_db_time(now))))
            .execute(conn)
        })?;
        Ok(consumed == 1)
    }

    fn delete_expired_challenges(&self, now: OffsetDateTime) -> Result<u64, RepositoryError> {
        // In batches: no write holds the others up for long.
        in_batches(&self.pool, move |conn| {
            let tokens: Vec<String> = mfa_challenges::table
                .select(mfa_challenges::token_hash)
                .filter(mfa_challenges::expires_at.le(to_db_time(now)))
                .limit(PURGE_BATCH)
                .load(conn)?;
            diesel::delete(mfa_challenges::table.filter(mfa_challenges::token_hash.eq_any(tokens)))
                .execute(conn)
        })
    }
}
