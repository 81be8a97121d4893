//! Tokens: their claims, their kinds, and the pair a login hands out.

use std::fmt;

use secrecy::SecretString;
use time::OffsetDateTime;

use crate::session::{is_random_id, to_hex};
use crate::{SessionId, UserId, ValidationError};

/// The id of one token (`jti`): 128 random bits as 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenId(String);

impl TokenId {
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

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// Authenticates API calls; short-lived.
    Access,
    /// Obtains a new token pair, once; long-lived.
    Refresh,
}

impl TokenKind {
    /// The value of the `type` claim.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }
}

/// The claims of a token as the domain sees them; the codec maps them to the
/// JWT claims `sub`, `sid`, `jti`, `type`, `iat` and `exp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// `sub`: whose token this is.
    pub user_id: UserId,
    /// `sid`: the login session it belongs to.
    pub session_id: SessionId,
    /// `jti`: this token's own id.
    pub token_id: TokenId,
    /// `type`: access or refresh.
    pub kind: TokenKind,
    /// `iat`: when it was issued.
    pub issued_at: OffsetDateTime,
    /// `exp`: when it stops being accepted.
    pub expires_at: OffsetDateTime,
}

/// Who is calling, once an access token has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The caller.
    pub user_id: UserId,
    /// The login session the caller's token belongs to.
    pub session_id: SessionId,
}

/// The tokens a login or a refresh hands out. `Debug` shows no token.
#[derive(Debug)]
pub struct TokenPair {
    /// The access token, an encoded JWT.
    pub access_token: SecretString,
    /// The refresh token, an encoded JWT.
    pub refresh_token: SecretString,
    /// The access token's lifetime in seconds.
    pub expires_in: i64,
}
