//! Tokens: their claims, their kinds, and the pair a login hands out.

use secrecy::SecretString;
use time::OffsetDateTime;

use crate::{SessionId, TokenId, UserId};

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

    /// The kind a `type` claim names, if any: the inverse of [`as_str`](Self::as_str).
    pub fn from_claim(value: &str) -> Option<Self> {
        [Self::Access, Self::Refresh]
            .into_iter()
            .find(|kind| kind.as_str() == value)
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

/// An access token whose signature, issuer, audience, expiry and type have
/// been checked, but not yet its session: what
/// [`SessionService::verify_access`](crate::SessionService::verify_access)
/// returns. Only the domain makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAccess(pub(crate) Claims);

impl VerifiedAccess {
    /// The token's claims.
    pub fn claims(&self) -> &Claims {
        &self.0
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_claim_round_trips_and_nothing_else_is_a_kind() {
        for kind in [TokenKind::Access, TokenKind::Refresh] {
            assert_eq!(TokenKind::from_claim(kind.as_str()), Some(kind));
        }
        for other in ["", "Access", "id", "refresh "] {
            assert_eq!(TokenKind::from_claim(other), None);
        }
    }
}
