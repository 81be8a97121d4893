//! [`UserService`]: registration and the users anyone may see.

use std::fmt;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use tracing::info;

use crate::limits::{LimitKey, LimitedBy, Limiting};
use crate::mfa::second_factor_holds;
use crate::ports::{
    Clock, MfaRepository, PasswordHasher, RateLimiter, RepositoryError, SecurityEventRepository,
    TwoFactor, UserRepository,
};
use crate::user::password_matches;
use crate::{
    AUTH_EVENTS, AuthError, Client, DomainError, NewUser, Page, PageRequest, Password, Principal,
    RateLimits, RecordedEvent, Resource, SecurityEvent, SecurityEventKind, TotpEnrolment, User,
    UserId, Username, ValidationError,
};

/// The ports [`UserService`] works on.
#[derive(Clone)]
pub struct UserPorts {
    /// Stored users.
    pub users: Arc<dyn UserRepository>,
    /// The audit trail.
    pub events: Arc<dyn SecurityEventRepository>,
    /// Stored two-factor state.
    pub mfa: Arc<dyn MfaRepository>,
    /// The cryptography of two-factor login.
    pub two_factor: Arc<dyn TwoFactor>,
    /// Password hashing.
    pub hasher: Arc<dyn PasswordHasher>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

/// Users: registration, lookup, the list, password changes, two-factor
/// enrolment, and a user's audit trail. (Logins and their sessions are
/// [`SessionService`](crate::SessionService)'s.)
#[derive(Clone)]
pub struct UserService {
    ports: UserPorts,
    limiting: Option<Limiting>,
}

impl fmt::Debug for UserService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserService").finish_non_exhaustive()
    }
}

impl UserService {
    /// Builds the service on its ports.
    pub fn new(ports: UserPorts) -> Self {
        Self {
            ports,
            limiting: None,
        }
    }

    /// Enforces the registration limit of `limits`, and the login limits on
    /// the current password of a password change, counted by `limiter`.
    #[must_use]
    pub fn with_rate_limits(mut self, limiter: Arc<dyn RateLimiter>, limits: RateLimits) -> Self {
        self.limiting = Some(Limiting { limiter, limits });
        self
    }

    /// Registers a user, after the registration limit of the `client`
    /// address and the password policy ([`Password::parse`]: length up to
    /// the hasher's bound, not common, not containing the username).
    /// Records `registered` with the new user.
    ///
    /// # Errors
    /// [`DomainError::RateLimited`],
    /// [`ValidationError::WeakPassword`](crate::ValidationError::WeakPassword),
    /// [`DomainError::UsernameTaken`]; store and hasher failures.
    #[tracing::instrument(name = "register", skip_all)]
    pub fn register(
        &self,
        username: Username,
        password: SecretString,
        client: &Client,
    ) -> Result<User, DomainError> {
        if let (Some(limiting), Some(address)) = (&self.limiting, client.address) {
            limiting.hit(LimitKey::RegisterAddress(address), self.ports.clock.now())?;
        }
        let password =
            Password::parse(password, &username, self.ports.hasher.max_password_bytes())?;
        let password_hash = self.ports.hasher.hash(password.expose())?;
        let now = self.ports.clock.now();
        let new_user = NewUser {
            username,
            password_hash: Some(password_hash),
            created_at: now,
        };
        let mut event = SecurityEvent {
            kind: SecurityEventKind::Registered,
            user_id: None,
            session_id: None,
            client: client.clone(),
            provider: None,
            at: now,
        };
        let user = self
            .ports
            .users
            .create(&new_user, &event)
            .map_err(|error| match error {
                RepositoryError::Conflict => DomainError::UsernameTaken,
                other => other.into(),
            })?;
        event.user_id = Some(user.id);
        event.log();
        Ok(user)
    }

    /// Changes the caller's password, confirmed with the current one. Every
    /// other session of the user is revoked in the same transaction, on
    /// every instance at once; the caller's stays. Records `password_changed`.
    ///
    /// The new password's policy is checked first; then the current
    /// password as a login's is: the login limits (attempts from the
    /// `client` address, failures of the username), one verification, and a
    /// wrong one counted as a failed login, so that a stolen access token is
    /// no password-guessing oracle.
    ///
    /// # Errors
    /// [`ValidationError::WeakPassword`](crate::ValidationError::WeakPassword)
    /// for the new password; [`DomainError::RateLimited`];
    /// [`DomainError::WrongPassword`]; [`AuthError::InvalidToken`] when the
    /// user is gone; store and hasher failures.
    #[tracing::instrument(name = "change_password", skip_all)]
    pub fn change_password(
        &self,
        principal: &Principal,
        current: &SecretString,
        new: SecretString,
        client: &Client,
    ) -> Result<(), DomainError> {
        let now = self.ports.clock.now();
        let user = self.caller(principal)?;
        let new = Password::parse(new, &user.username, self.ports.hasher.max_password_bytes())?;
        self.confirm_password(&user, principal, current, client)?;
        let hash = self.ports.hasher.hash(new.expose())?;
        let changed = caller_event(SecurityEventKind::PasswordChanged, principal, client, now);
        if !self.ports.users.change_password(
            user.id,
            &hash,
            &principal.session_id,
            now,
            &changed,
        )? {
            return Err(AuthError::InvalidToken.into());
        }
        changed.log();
        Ok(())
    }

    /// Starts (or restarts) a TOTP enrolment of the caller: a new secret,
    /// shown once, that changes nothing until confirmed.
    ///
    /// # Errors
    /// [`DomainError::Conflict`] when two-factor login is active already;
    /// [`AuthError::InvalidToken`] when the user is gone; store failures.
    pub fn start_totp(&self, principal: &Principal) -> Result<TotpEnrolment, DomainError> {
        let user = self.caller(principal)?;
        let enrolment = self.ports.two_factor.enrol(user.id, &user.username)?;
        let now = self.ports.clock.now();
        if !self
            .ports
            .mfa
            .start_enrolment(user.id, &enrolment.sealed, now)?
        {
            return Err(DomainError::Conflict);
        }
        Ok(enrolment)
    }

    /// Confirms the caller's pending enrolment with a first code: from now
    /// on logins need a second factor. Returns the recovery codes, shown
    /// this once (only their digests are stored). Records `mfa_enabled`.
    ///
    /// # Errors
    /// [`DomainError::Conflict`] when no enrolment is pending;
    /// [`ValidationError::InvalidMfaCode`](crate::ValidationError::InvalidMfaCode);
    /// store failures.
    #[tracing::instrument(name = "confirm_totp", skip_all)]
    pub fn confirm_totp(
        &self,
        principal: &Principal,
        code: &str,
        client: &Client,
    ) -> Result<Vec<SecretString>, DomainError> {
        let now = self.ports.clock.now();
        let user = principal.user_id;
        let pending = self
            .ports
            .mfa
            .totp(user)?
            .filter(|credential| !credential.active)
            .ok_or(DomainError::Conflict)?;
        let step = self
            .ports
            .two_factor
            .check(user, &pending.sealed, code, now)?
            .ok_or(ValidationError::InvalidMfaCode)?;
        let (codes, digests): (Vec<_>, Vec<_>) =
            self.ports.two_factor.recovery_codes().into_iter().unzip();
        let enabled = caller_event(SecurityEventKind::MfaEnabled, principal, client, now);
        if !self.ports.mfa.activate(user, step, &digests, &enabled)? {
            return Err(DomainError::Conflict);
        }
        enabled.log();
        Ok(codes)
    }

    /// Turns the caller's two-factor login off, confirmed with the password
    /// (checked as a login's) and a current code or an unused recovery code.
    /// Records `mfa_disabled` (and `mfa_failed` for a wrong code).
    ///
    /// # Errors
    /// [`DomainError::NotFound`] when two-factor login is not active;
    /// [`DomainError::RateLimited`]; [`DomainError::WrongPassword`];
    /// [`DomainError::WrongMfaCode`]; store and hasher failures.
    #[tracing::instrument(name = "disable_totp", skip_all)]
    pub fn disable_totp(
        &self,
        principal: &Principal,
        password: &SecretString,
        code: &str,
        client: &Client,
    ) -> Result<(), DomainError> {
        let now = self.ports.clock.now();
        let user = self.caller(principal)?;
        let active = self
            .ports
            .mfa
            .totp(user.id)?
            .filter(|credential| credential.active)
            .ok_or(DomainError::NotFound(Resource::SecondFactor))?;
        self.confirm_password(&user, principal, password, client)?;
        let event = |kind| caller_event(kind, principal, client, now);
        if !second_factor_holds(
            self.ports.two_factor.as_ref(),
            self.ports.mfa.as_ref(),
            (user.id, &active),
            code,
            &event(SecurityEventKind::RecoveryCodeUsed),
        )? {
            let failed = event(SecurityEventKind::MfaFailed);
            self.ports.events.record(&failed)?;
            failed.log();
            if let Some(limiting) = &self.limiting {
                limiting.count_failure(&user.username, now)?;
            }
            return Err(DomainError::WrongMfaCode);
        }
        let disabled = event(SecurityEventKind::MfaDisabled);
        if !self.ports.mfa.deactivate(user.id, &disabled)? {
            return Err(DomainError::NotFound(Resource::SecondFactor));
        }
        disabled.log();
        Ok(())
    }

    /// The caller as stored.
    fn caller(&self, principal: &Principal) -> Result<User, DomainError> {
        Ok(self
            .ports
            .users
            .find(principal.user_id)?
            .ok_or(AuthError::InvalidToken)?)
    }

    /// Checks a password that confirms a sensitive change as a login's:
    /// the login limits first (attempts from the `client` address, failures
    /// of the username, a refusal by which is the account's
    /// `login_rate_limited`), then one verification; a wrong password counts
    /// as a failed login of the username.
    fn confirm_password(
        &self,
        user: &User,
        principal: &Principal,
        password: &SecretString,
        client: &Client,
    ) -> Result<(), DomainError> {
        let now = self.ports.clock.now();
        if let Some(limiting) = &self.limiting {
            match limiting.check_password_attempt(Some(&user.username), client.address, now) {
                Ok(()) => {}
                Err((LimitedBy::Address, error)) => return Err(error),
                Err((LimitedBy::Username, error)) => {
                    let limited =
                        caller_event(SecurityEventKind::LoginRateLimited, principal, client, now);
                    self.ports.events.record(&limited)?;
                    return Err(error);
                }
            }
        }
        let stored = self
            .ports
            .users
            .find_credentials(&user.username)?
            .ok_or(AuthError::InvalidToken)?;
        let password = password.expose_secret();
        let stored = stored.password_hash.as_ref();
        if password_matches(self.ports.hasher.as_ref(), password, stored)? {
            return Ok(());
        }
        info!(target: AUTH_EVENTS, user_id = %user.id, "password confirmation refused: wrong password");
        if let Some(limiting) = &self.limiting {
            limiting.count_failure(&user.username, now)?;
        }
        Err(DomainError::WrongPassword)
    }

    /// One page of the security events of `user`, newest first.
    ///
    /// # Errors
    /// Store failures.
    pub fn events(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> Result<Page<RecordedEvent>, DomainError> {
        Ok(self.ports.events.list_for_user(user, page)?)
    }

    /// The user with this id.
    ///
    /// # Errors
    /// [`DomainError::NotFound`]; store failures.
    pub fn get(&self, id: UserId) -> Result<User, DomainError> {
        self.ports
            .users
            .find(id)?
            .ok_or(DomainError::NotFound(Resource::User))
    }

    /// One page of users, oldest first.
    ///
    /// # Errors
    /// Store failures.
    pub fn list(&self, page: PageRequest) -> Result<Page<User>, DomainError> {
        Ok(self.ports.users.list(page)?)
    }
}

#[cfg(test)]
mod tests;

/// An event of the caller's session.
fn caller_event(
    kind: SecurityEventKind,
    principal: &Principal,
    client: &Client,
    at: time::OffsetDateTime,
) -> SecurityEvent {
    SecurityEvent {
        kind,
        user_id: Some(principal.user_id),
        session_id: Some(principal.session_id.clone()),
        client: client.clone(),
        provider: None,
        at,
    }
}
