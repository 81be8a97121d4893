//! Login sessions: what a logout revokes and a refresh rotates.

use std::fmt;

use time::OffsetDateTime;

use crate::{AuthError, TokenId, UserId, ValidationError};

/// Checks the shape shared by session and token ids: 32 lowercase hex digits
/// (128 random bits).
pub(crate) fn is_random_id(raw: &str) -> bool {
    raw.len() == 32 && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Renders 128 random bits as 32 lowercase hex digits.
pub(crate) fn to_hex(bytes: [u8; 16]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|byte| {
            [
                DIGITS[usize::from(byte >> 4)],
                DIGITS[usize::from(byte & 0x0f)],
            ]
        })
        .map(char::from)
        .collect()
}

/// The id of a login session: 128 random bits as 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    /// The id made of 128 random bits.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(to_hex(bytes))
    }

    /// Parses an id made by an [`IdGenerator`](crate::ports::IdGenerator).
    ///
    /// # Errors
    /// [`ValidationError::InvalidRandomId`] for anything but 32 lowercase hex digits.
    pub fn parse(raw: impl Into<String>) -> Result<Self, ValidationError> {
        let raw = raw.into();
        if is_random_id(&raw) {
            Ok(Self(raw))
        } else {
            Err(ValidationError::InvalidRandomId)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One login: created by a login, rotated by each refresh, ended by logout,
/// by a detected refresh-token reuse, or by its expiry.
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
    /// When the session ends whatever happens: refreshing does not extend it.
    pub expires_at: OffsetDateTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
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
    fn session_ids_are_32_lowercase_hex_digits() {
        assert!(SessionId::parse("0123456789abcdef0123456789abcdef").is_ok());
        for bad in [
            "",
            "0123456789ABCDEF0123456789ABCDEF",
            "0123456789abcdef",
            "' OR 1=1 --",
        ] {
            assert_eq!(
                SessionId::parse(bad),
                Err(ValidationError::InvalidRandomId),
                "{bad}"
            );
        }
    }

    #[test]
    fn ids_from_bytes_parse_back() {
        let id = SessionId::from_bytes([0xab; 16]);
        assert_eq!(id.as_str(), "ab".repeat(16));
        assert_eq!(SessionId::parse(id.as_str()), Ok(id));
    }

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
