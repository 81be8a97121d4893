//! Rate limits: fixed windows counted by a [`RateLimiter`], checked before
//! any password work so that a limited attempt costs no hash.

use std::net::IpAddr;

use time::{Duration, OffsetDateTime};
use tracing::warn;

use crate::ports::{RateLimiter, RepositoryError};
use crate::{AUTH_EVENTS, DomainError, Username};

/// At most `max` events in a window of `window`, which starts at the first
/// event after the previous window ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Events allowed in one window.
    pub max: u32,
    /// The window's length.
    pub window: Duration,
}

/// What a [`RateLimiter`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Under the limit.
    Allowed,
    /// Over it until the window ends, `retry_after` from now.
    Limited {
        /// When trying again can succeed.
        retry_after: Duration,
    },
}

/// The limits of the contract's "Rate limiting" section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Failed logins of one username (5 in 15 minutes): then every login of
    /// it, the right password included, is refused until the window ends.
    pub login_failures_per_username: RateLimit,
    /// Login attempts from one client address (30 a minute).
    pub login_per_address: RateLimit,
    /// Registrations from one client address (20 an hour).
    pub register_per_address: RateLimit,
    /// Refreshes, and second login steps, from one client address (60 a
    /// minute each).
    pub refresh_per_address: RateLimit,
}

/// Which counter an event goes to; with [`key`](Self::key), the limiter's key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LimitKey<'a> {
    LoginAddress(IpAddr),
    LoginFailures(&'a Username),
    RegisterAddress(IpAddr),
    RefreshAddress(IpAddr),
    SecondStepAddress(IpAddr),
}

impl LimitKey<'_> {
    fn key(self) -> String {
        match self {
            Self::LoginAddress(address) => format!("login-address:{address}"),
            Self::LoginFailures(username) => format!("login-failures:{}", username.as_str()),
            Self::RegisterAddress(address) => format!("register-address:{address}"),
            Self::RefreshAddress(address) => format!("refresh-address:{address}"),
            Self::SecondStepAddress(address) => format!("mfa-address:{address}"),
        }
    }
}

/// Which login limit refused an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LimitedBy {
    /// Too many attempts from the client's address.
    Address,
    /// Too many failures of the username: an event of its account.
    Username,
}

/// A limiter and the limits it enforces: what the services hold.
#[derive(Clone)]
pub(crate) struct Limiting {
    pub(crate) limiter: std::sync::Arc<dyn RateLimiter>,
    pub(crate) limits: RateLimits,
}

impl Limiting {
    fn limit_of(&self, key: LimitKey<'_>) -> RateLimit {
        match key {
            LimitKey::LoginAddress(_) => self.limits.login_per_address,
            LimitKey::LoginFailures(_) => self.limits.login_failures_per_username,
            LimitKey::RegisterAddress(_) => self.limits.register_per_address,
            LimitKey::RefreshAddress(_) | LimitKey::SecondStepAddress(_) => {
                self.limits.refresh_per_address
            }
        }
    }

    /// Counts one event on `key`.
    ///
    /// # Errors
    /// [`DomainError::RateLimited`] when it is over the limit; store failures.
    pub(crate) fn hit(&self, key: LimitKey<'_>, now: OffsetDateTime) -> Result<(), DomainError> {
        let decision = self.limiter.hit(&key.key(), self.limit_of(key), now);
        refuse_if_limited(decision)
    }

    /// The limits of a password check (a login, or a password confirming a
    /// change), before any password work: counts an attempt from `address`,
    /// then looks at the failures of `username`, whose limit refuses the
    /// right password too. Each refusal is logged at `warn` with its numbers.
    ///
    /// # Errors
    /// Which limit refused, with [`DomainError::RateLimited`]; store
    /// failures (as [`LimitedBy::Address`], the first to touch the store).
    pub(crate) fn check_password_attempt(
        &self,
        username: Option<&Username>,
        address: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Result<(), (LimitedBy, DomainError)> {
        if let Some(address) = address {
            let limited = self.hit(LimitKey::LoginAddress(address), now);
            if let Err(DomainError::RateLimited { retry_after_secs }) = &limited {
                let limit = self.limits.login_per_address;
                warn!(
                    target: AUTH_EVENTS,
                    event = "login_rate_limited",
                    limit = "address",
                    ip = %address,
                    max = limit.max,
                    window_secs = limit.window.whole_seconds(),
                    retry_after_secs,
                    "password attempts from one address: rate limited"
                );
            }
            limited.map_err(|error| (LimitedBy::Address, error))?;
        }
        if let Some(username) = username {
            let limited = self.peek(LimitKey::LoginFailures(username), now);
            if let Err(DomainError::RateLimited { retry_after_secs }) = &limited {
                let limit = self.limits.login_failures_per_username;
                warn!(
                    target: AUTH_EVENTS,
                    event = "login_rate_limited",
                    limit = "username",
                    username = username.as_str(),
                    ip = address.map(tracing::field::display),
                    failures = limit.max,
                    window_secs = limit.window.whole_seconds(),
                    retry_after_secs,
                    "failed-password burst on one username: rate limited"
                );
            }
            limited.map_err(|error| (LimitedBy::Username, error))?;
        }
        Ok(())
    }

    /// Counts a wrong password against its username.
    ///
    /// # Errors
    /// Store failures only: this failure is already answered as one.
    pub(crate) fn count_failure(
        &self,
        username: &Username,
        now: OffsetDateTime,
    ) -> Result<(), DomainError> {
        match self.hit(LimitKey::LoginFailures(username), now) {
            Ok(()) | Err(DomainError::RateLimited { .. }) => Ok(()),
            Err(other) => Err(other),
        }
    }

    /// Whether `key` is over its limit already, counting nothing.
    ///
    /// # Errors
    /// [`DomainError::RateLimited`] when it is; store failures.
    pub(crate) fn peek(&self, key: LimitKey<'_>, now: OffsetDateTime) -> Result<(), DomainError> {
        let decision = self.limiter.peek(&key.key(), self.limit_of(key), now);
        refuse_if_limited(decision)
    }
}

fn refuse_if_limited(decision: Result<RateDecision, RepositoryError>) -> Result<(), DomainError> {
    match decision? {
        RateDecision::Allowed => Ok(()),
        RateDecision::Limited { retry_after } => Err(DomainError::RateLimited {
            // Whole seconds, rounded up: a client that waits this long succeeds.
            retry_after_secs: u64::try_from(retry_after.whole_seconds().max(0)).unwrap_or(0)
                + u64::from(retry_after.subsec_nanoseconds() > 0),
        }),
    }
}
