//! [`Purge`]: the periodic cleanup of state that has outlived its use.

use std::fmt;
use std::sync::Arc;

use time::Duration;

use crate::ports::{
    Clock, MfaRepository, PendingLoginRepository, RateLimiter, SecurityEventRepository,
    SessionRepository,
};
use crate::{DomainError, RateLimits};

/// What one purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Sessions past their expiry (revoked or not: a revoked session is
    /// kept until then, so that its tokens keep answering `token_revoked`).
    pub sessions: u64,
    /// Rate-limit windows that have ended.
    pub rate_limit_windows: u64,
    /// Security events older than the retention period.
    pub security_events: u64,
    /// Second login steps past their lifetime.
    pub mfa_challenges: u64,
    /// Logins sent to an identity provider that never came back in time.
    pub pending_logins: u64,
}

/// Deletes expired sessions, second login steps and pending logins, ended rate-limit
/// windows and security events past their retention. The adapters
/// delete in bounded batches; running one purge at a time across instances
/// is the caller's (the composition root takes a lock).
#[derive(Clone)]
pub struct Purge {
    sessions: Arc<dyn SessionRepository>,
    mfa: Arc<dyn MfaRepository>,
    events: Arc<dyn SecurityEventRepository>,
    event_retention: Duration,
    limiting: Option<(Arc<dyn RateLimiter>, RateLimits)>,
    pending_logins: Option<Arc<dyn PendingLoginRepository>>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for Purge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Purge").finish_non_exhaustive()
    }
}

impl Purge {
    /// A purge of `sessions`, of `mfa`'s second login steps, of `events`
    /// older than `event_retention`, and
    /// of `limiter`'s windows when given (with the limits, whose longest
    /// window says which windows have ended).
    pub fn new(
        sessions: Arc<dyn SessionRepository>,
        mfa: Arc<dyn MfaRepository>,
        (events, event_retention): (Arc<dyn SecurityEventRepository>, Duration),
        limiting: Option<(Arc<dyn RateLimiter>, RateLimits)>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            sessions,
            mfa,
            events,
            event_retention,
            limiting,
            pending_logins: None,
            clock,
        }
    }

    /// Purges the expired logins of `pending` too.
    #[must_use]
    pub fn with_pending_logins(mut self, pending: Arc<dyn PendingLoginRepository>) -> Self {
        self.pending_logins = Some(pending);
        self
    }

    /// Runs once.
    ///
    /// # Errors
    /// Store failures; what was deleted before one stays deleted.
    pub fn run(&self) -> Result<PurgeReport, DomainError> {
        let now = self.clock.now();
        let sessions = self.sessions.delete_expired(now)?;
        let rate_limit_windows = match &self.limiting {
            Some((limiter, limits)) => {
                let longest = [
                    limits.login_failures_per_username,
                    limits.login_per_address,
                    limits.register_per_address,
                    limits.refresh_per_address,
                ]
                .iter()
                .map(|limit| limit.window)
                .max()
                .unwrap_or_default();
                limiter.delete_started_before(now - longest)?
            }
            None => 0,
        };
        let security_events = self.events.delete_before(now - self.event_retention)?;
        let mfa_challenges = self.mfa.delete_expired_challenges(now)?;
        let pending_logins = match &self.pending_logins {
            Some(pending) => pending.delete_expired(now)?,
            None => 0,
        };
        Ok(PurgeReport {
            sessions,
            rate_limit_windows,
            security_events,
            mfa_challenges,
            pending_logins,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RateLimit;
    use crate::ports::{
        MockMfaRepository, MockPendingLoginRepository, MockRateLimiter,
        MockSecurityEventRepository, MockSessionRepository,
    };
    use crate::testing::EPOCH;
    use crate::testing::ManualClock;

    #[test]
    fn a_purge_deletes_expired_sessions_and_logins_old_events_and_windows_past_the_longest() {
        let mut sessions = MockSessionRepository::new();
        sessions
            .expect_delete_expired()
            .withf(|now| *now == EPOCH)
            .times(1)
            .returning(|_| Ok(3));
        let mut limiter = MockRateLimiter::new();
        limiter
            .expect_delete_started_before()
            .withf(|before| *before == EPOCH - Duration::hours(1))
            .times(1)
            .returning(|_| Ok(7));
        let mut events = MockSecurityEventRepository::new();
        events
            .expect_delete_before()
            .withf(|before| *before == EPOCH - Duration::days(90))
            .times(1)
            .returning(|_| Ok(11));
        let mut mfa = MockMfaRepository::new();
        mfa.expect_delete_expired_challenges()
            .withf(|now| *now == EPOCH)
            .times(1)
            .returning(|_| Ok(2));
        let mut pending = MockPendingLoginRepository::new();
        pending
            .expect_delete_expired()
            .withf(|now| *now == EPOCH)
            .times(1)
            .returning(|_| Ok(5));
        let limit = |window| RateLimit { max: 1, window };
        let limits = RateLimits {
            login_failures_per_username: limit(Duration::minutes(15)),
            login_per_address: limit(Duration::minutes(1)),
            register_per_address: limit(Duration::hours(1)),
            refresh_per_address: limit(Duration::minutes(1)),
        };
        let purge = Purge::new(
            Arc::new(sessions),
            Arc::new(mfa),
            (Arc::new(events), Duration::days(90)),
            Some((Arc::new(limiter), limits)),
            Arc::new(ManualClock::default()),
        )
        .with_pending_logins(Arc::new(pending));
        assert_eq!(
            purge.run().unwrap(),
            PurgeReport {
                sessions: 3,
                rate_limit_windows: 7,
                security_events: 11,
                mfa_challenges: 2,
                pending_logins: 5,
            }
        );
    }
}
