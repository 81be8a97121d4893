//! [`UserService`]: registration and the users anyone may see.

use std::fmt;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use tracing::info;

use crate::limits::{LimitKey, LimitedBy, Limiting};
use crate::ports::{
    Clock, PasswordHasher, RateLimiter, RepositoryError, SecurityEventRepository, UserRepository,
};
use crate::{
    AUTH_EVENTS, AuthError, Client, DomainError, NewUser, Page, PageRequest, Password, Principal,
    RateLimits, RecordedEvent, Resource, SecurityEvent, SecurityEventKind, User, UserId, Username,
};

/// Users: registration, lookup, the list, password changes, and a user's
/// audit trail. (Logins and their sessions are
/// [`SessionService`](crate::SessionService)'s.)
#[derive(Clone)]
pub struct UserService {
    users: Arc<dyn UserRepository>,
    events: Arc<dyn SecurityEventRepository>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
    limiting: Option<Limiting>,
}

impl fmt::Debug for UserService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserService").finish_non_exhaustive()
    }
}

impl UserService {
    /// Builds the service on its ports.
    pub fn new(
        users: Arc<dyn UserRepository>,
        events: Arc<dyn SecurityEventRepository>,
        hasher: Arc<dyn PasswordHasher>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            users,
            events,
            hasher,
            clock,
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
            limiting.hit(LimitKey::RegisterAddress(address), self.clock.now())?;
        }
        let password = Password::parse(password, &username, self.hasher.max_password_bytes())?;
        let password_hash = self.hasher.hash(password.expose())?;
        let now = self.clock.now();
        let new_user = NewUser {
            username,
            password_hash,
            created_at: now,
        };
        let mut event = SecurityEvent {
            kind: SecurityEventKind::Registered,
            user_id: None,
            session_id: None,
            client: client.clone(),
            at: now,
        };
        let user = self
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
    /// The current password is checked as a login's is, so that a stolen
    /// access token is no password-guessing oracle: the login limits first
    /// (attempts from the `client` address, failures of the username, which
    /// a wrong current password counts), then the new password's policy,
    /// then one verification.
    ///
    /// # Errors
    /// [`DomainError::RateLimited`];
    /// [`ValidationError::WeakPassword`](crate::ValidationError::WeakPassword)
    /// for the new password; [`DomainError::WrongPassword`];
    /// [`AuthError::InvalidToken`] when the user is gone; store and hasher
    /// failures.
    #[tracing::instrument(name = "change_password", skip_all)]
    pub fn change_password(
        &self,
        principal: &Principal,
        current: &SecretString,
        new: SecretString,
        client: &Client,
    ) -> Result<(), DomainError> {
        let now = self.clock.now();
        let user = self
            .users
            .find(principal.user_id)?
            .ok_or(AuthError::InvalidToken)?;
        let event = |kind| SecurityEvent {
            kind,
            user_id: Some(user.id),
            session_id: Some(principal.session_id.clone()),
            client: client.clone(),
            at: now,
        };
        if let Some(limiting) = &self.limiting {
            match limiting.check_password_attempt(Some(&user.username), client.address, now) {
                Ok(()) => {}
                Err((LimitedBy::Address, error)) => return Err(error),
                Err((LimitedBy::Username, error)) => {
                    self.events
                        .record(&event(SecurityEventKind::LoginRateLimited))?;
                    return Err(error);
                }
            }
        }
        let max = self.hasher.max_password_bytes();
        let new = Password::parse(new, &user.username, max)?;
        let stored = self
            .users
            .find_credentials(&user.username)?
            .ok_or(AuthError::InvalidToken)?;
        let current = current.expose_secret();
        let matches = self.hasher.verify(current, &stored.password_hash)?;
        if !matches || current.len() > max {
            info!(target: AUTH_EVENTS, user_id = %user.id, "password change refused: wrong current password");
            if let Some(limiting) = &self.limiting {
                limiting.count_failure(&user.username, now)?;
            }
            return Err(DomainError::WrongPassword);
        }
        let hash = self.hasher.hash(new.expose())?;
        let changed = event(SecurityEventKind::PasswordChanged);
        if !self
            .users
            .change_password(user.id, &hash, &principal.session_id, now, &changed)?
        {
            return Err(AuthError::InvalidToken.into());
        }
        changed.log();
        Ok(())
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
        Ok(self.events.list_for_user(user, page)?)
    }

    /// The user with this id.
    ///
    /// # Errors
    /// [`DomainError::NotFound`]; store failures.
    pub fn get(&self, id: UserId) -> Result<User, DomainError> {
        self.users
            .find(id)?
            .ok_or(DomainError::NotFound(Resource::User))
    }

    /// One page of users, oldest first.
    ///
    /// # Errors
    /// Store failures.
    pub fn list(&self, page: PageRequest) -> Result<Page<User>, DomainError> {
        Ok(self.users.list(page)?)
    }
}

#[cfg(test)]
mod tests;
