//! Security events: the audit trail of what happened to accounts and
//! sessions, stored for their users to read and logged for operators.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use time::OffsetDateTime;
use tracing::{info, warn};

use crate::{AUTH_EVENTS, ProviderName, SessionId, UserId};

crate::id::positive_id!(
    /// The id of a recorded [`SecurityEvent`]: it grows with each event.
    EventId
);

/// What happened: the contract's list of event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityEventKind {
    /// A user registered.
    Registered,
    /// A login succeeded and opened a session.
    LoginSucceeded,
    /// A login failed (wrong password, or an unknown username: then the
    /// event belongs to no user).
    LoginFailed,
    /// A username reached its limit of failed logins: logins of it are
    /// refused until the window ends.
    LoginRateLimited,
    /// A refresh rotated a session's refresh token.
    Refreshed,
    /// A refresh token was used twice, and its session was revoked.
    RefreshReuseDetected,
    /// A session was logged out.
    LoggedOut,
    /// Every session of the user was logged out.
    LoggedOutAll,
    /// One session was ended by its user from another.
    SessionRevoked,
    /// The password was changed.
    PasswordChanged,
    /// Two-factor login was turned on.
    MfaEnabled,
    /// Two-factor login was turned off.
    MfaDisabled,
    /// A wrong second-factor code was given.
    MfaFailed,
    /// A recovery code was spent.
    RecoveryCodeUsed,
}

impl SecurityEventKind {
    /// Every kind, in the contract's order.
    pub const ALL: [Self; 14] = [
        Self::Registered,
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::LoginRateLimited,
        Self::Refreshed,
        Self::RefreshReuseDetected,
        Self::LoggedOut,
        Self::LoggedOutAll,
        Self::SessionRevoked,
        Self::PasswordChanged,
        Self::MfaEnabled,
        Self::MfaDisabled,
        Self::MfaFailed,
        Self::RecoveryCodeUsed,
    ];

    /// The contract's name: stored, shown to users, and the `event` field
    /// of the log line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::LoginRateLimited => "login_rate_limited",
            Self::Refreshed => "refreshed",
            Self::RefreshReuseDetected => "refresh_reuse_detected",
            Self::LoggedOut => "logged_out",
            Self::LoggedOutAll => "logged_out_all",
            Self::SessionRevoked => "session_revoked",
            Self::PasswordChanged => "password_changed",
            Self::MfaEnabled => "mfa_enabled",
            Self::MfaDisabled => "mfa_disabled",
            Self::MfaFailed => "mfa_failed",
            Self::RecoveryCodeUsed => "recovery_code_used",
        }
    }

    /// Whether operators should look: logged at `warn` rather than `info`.
    pub fn is_alarming(self) -> bool {
        matches!(
            self,
            Self::LoginRateLimited | Self::RefreshReuseDetected | Self::MfaFailed
        )
    }
}

impl fmt::Display for SecurityEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no [`SecurityEventKind`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown security event type {0:?}")]
pub struct UnknownEventKind(pub String);

impl FromStr for SecurityEventKind {
    type Err = UnknownEventKind;

    fn from_str(name: &str) -> Result<Self, UnknownEventKind> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| UnknownEventKind(name.to_owned()))
    }
}

/// A client's `User-Agent`, as much of it as is worth keeping: at most
/// [`UserAgent::MAX_CHARS`] characters, no control characters, never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAgent(String);

impl UserAgent {
    /// The longest user agent kept; the rest is cut off.
    pub const MAX_CHARS: usize = 256;

    /// Keeps the first [`Self::MAX_CHARS`] characters of `raw`, with control
    /// characters dropped and surrounding white space trimmed; `None` when
    /// nothing is left.
    pub fn new(raw: &str) -> Option<Self> {
        let kept: String = raw
            .chars()
            .filter(|c| !c.is_control())
            .take(Self::MAX_CHARS)
            .collect();
        let kept = kept.trim();
        (!kept.is_empty()).then(|| Self(kept.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who made a request, as far as the service can tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Client {
    /// The client's address (behind trusted proxies, the one they report).
    pub address: Option<IpAddr>,
    /// The client's `User-Agent`.
    pub user_agent: Option<UserAgent>,
}

/// A security event: what happened, to whom, in which session, from where.
/// Never a password, hash or token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityEvent {
    /// What happened.
    pub kind: SecurityEventKind,
    /// Whose account it concerns; `None` for a failed login of an unknown
    /// username.
    pub user_id: Option<UserId>,
    /// The session it concerns, if any.
    pub session_id: Option<SessionId>,
    /// Who caused it.
    pub client: Client,
    /// The identity provider of a third-party login or registration.
    pub provider: Option<ProviderName>,
    /// When.
    pub at: OffsetDateTime,
}

impl SecurityEvent {
    /// Writes the event to the log, target [`AUTH_EVENTS`], with its name
    /// in the `event` field; at `warn` when it [is alarming](SecurityEventKind::is_alarming).
    pub fn log(&self) {
        let event = self.kind.as_str();
        let user_id = self.user_id.map(UserId::get);
        let session_id = self.session_id.as_ref().map(SessionId::as_str);
        let ip = self.client.address.map(tracing::field::display);
        let user_agent = self.client.user_agent.as_ref().map(UserAgent::as_str);
        let provider = self.provider.as_ref().map(ProviderName::as_str);
        if self.kind.is_alarming() {
            warn!(target: AUTH_EVENTS, event, user_id, session_id, ip, user_agent, provider, "security event");
        } else {
            info!(target: AUTH_EVENTS, event, user_id, session_id, ip, user_agent, provider, "security event");
        }
    }
}

/// A [`SecurityEvent`] as stored, with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// Its id: later events have greater ids.
    pub id: EventId,
    /// The event.
    pub event: SecurityEvent,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_name() {
        for kind in SecurityEventKind::ALL {
            assert_eq!(kind.as_str().parse(), Ok(kind));
        }
        assert_eq!(
            "Registered".parse::<SecurityEventKind>(),
            Err(UnknownEventKind("Registered".to_owned()))
        );
    }

    #[test]
    fn a_user_agent_is_bounded_and_printable() {
        let long = "x".repeat(UserAgent::MAX_CHARS + 10);
        assert_eq!(
            UserAgent::new(&long).map(|agent| agent.as_str().len()),
            Some(UserAgent::MAX_CHARS)
        );
        assert_eq!(
            UserAgent::new(" curl/8.5\n\u{7}\r ")
                .as_ref()
                .map(UserAgent::as_str),
            Some("curl/8.5")
        );
        assert_eq!(UserAgent::new(" \t\n"), None);
        assert_eq!(
            UserAgent::new("é".repeat(300).as_str()).map(|agent| agent.as_str().chars().count()),
            Some(UserAgent::MAX_CHARS)
        );
    }
}
