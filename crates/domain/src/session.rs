//! Login sessions: what a logout revokes and a refresh rotates.

use time::OffsetDateTime;

use crate::{AuthError, Client, SessionId, TokenId, UserId};

/// One login: created by a login, rotated by each refresh, ended by logout
/// (of it, or of all the user's), by its user from another session, by a
/// password change elsewhere, by a detected refresh-token reuse, or by its
/// expiry.
///
/// Tokens are never stored: only the id of the one refresh token that may
/// still be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The session's id, carried by its tokens as `sid`.
    pub id: SessionId,
    /// Whose login this is.
    pub user_id: UserId,
    /// The `jti` of the only refresh token of this session that still works.
    pub refresh_token_id: TokenId,
    /// When the login happened.
    pub created_at: OffsetDateTime,
    /// When a refresh last used it (the login's time until then).
    pub last_used_at: OffsetDateTime,
    /// When the session ends whatever happens: refreshing does not extend it.
    pub expires_at: OffsetDateTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
    /// Who logged in: the address and user agent of the login.
    pub client: Client,
}

impl Session {
    /// Whether tokens of this session may still be used at `now`.
    ///
    /// # Errors
    /// [`AuthError::TokenRevoked`] once revoked, else
    /// [`AuthError::TokenExpired`] once past its expiry.
    pub fn ensure_active(&self, now: OffsetDateTime) -> Result<(), AuthError> {
        if self.revoked_at.is_some() {
            Err(AuthError::TokenRevoked)
        } else if now >= self.expires_at {
            Err(AuthError::TokenExpired)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{NOW, session};

    #[test]
    fn a_live_session_is_active() {
        assert_eq!(session(1).ensure_active(NOW), Ok(()));
    }

    #[test]
    fn a_revoked_session_is_revoked_even_after_expiry() {
        let mut revoked = session(1);
        revoked.revoked_at = Some(NOW);
        assert_eq!(revoked.ensure_active(NOW), Err(AuthError::TokenRevoked));
        assert_eq!(
            revoked.ensure_active(revoked.expires_at),
            Err(AuthError::TokenRevoked)
        );
    }

    #[test]
    fn a_session_past_its_expiry_is_expired() {
        let live = session(1);
        assert_eq!(
            live.ensure_active(live.expires_at),
            Err(AuthError::TokenExpired)
        );
    }
}
