//! The one error type of the domain and the reasons it carries.
//!
//! None of these enums is `#[non_exhaustive]`, on purpose: an adapter maps
//! each variant to what its users see (an HTTP status, an exit code), and a
//! new variant must be a compile error there, not a silent `_ => 500`. A new
//! variant is therefore a breaking change of this crate, released as one.

use std::error::Error as StdError;
use std::fmt;

/// A boxed infrastructure error, kept as the source of an opaque failure.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Why a value from outside was refused. Each variant names the rule broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// A username is 3 to 32 characters of ASCII letters, digits, `_`, `-` or `.`.
    #[error("username must be 3 to 32 characters: letters, digits, '_', '-' or '.'")]
    InvalidUsername,
    /// A new password breaks the password policy; the rule says which part.
    #[error("{0}")]
    WeakPassword(PasswordRule),
    /// A title is 1 to 200 characters after trimming, none of them a control character.
    #[error("title must be 1 to 200 characters after trimming, without control characters")]
    InvalidTitle,
    /// Content is at most 100,000 characters, none of them NUL.
    #[error("content must be at most 100000 characters, without NUL characters")]
    InvalidContent,
    /// Ids are positive integers.
    #[error("ids are positive integers")]
    InvalidId,
    /// Pages are numbered from 1.
    #[error("page must be at least 1")]
    InvalidPage,
    /// A page holds 1 to 100 items.
    #[error("per_page must be between 1 and 100")]
    InvalidPerPage,
    /// Session and token ids are 32 lowercase hexadecimal characters.
    #[error("malformed random id")]
    InvalidRandomId,
    /// The code confirming a TOTP enrolment is not the app's current one.
    #[error("the code is not the authenticator's current one")]
    InvalidMfaCode,
    /// A provider name is 1 to 32 lowercase ASCII letters, digits, `-` or `_`.
    #[error("provider names are 1 to 32 characters: a-z, digits, '-' or '_'")]
    InvalidProviderName,
    /// A provider's subject is 1 to 255 printable ASCII characters.
    #[error("a subject is 1 to 255 printable ASCII characters")]
    InvalidSubject,
}

/// The rule of the password policy that a new password breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRule {
    /// Its length in bytes is outside `min..=max` (`max` is what the
    /// hasher reads whole: 72 for bcrypt).
    #[error("password must be {min} to {max} bytes long")]
    Length {
        /// The shortest accepted length.
        min: usize,
        /// The longest accepted length.
        max: usize,
    },
    /// It is one of the 10,000 most common passwords (compared
    /// case-insensitively): the first ones an attacker tries.
    #[error("password is one of the 10,000 most common passwords")]
    Common,
    /// It contains the username (compared case-insensitively).
    #[error("password must not contain the username")]
    ContainsUsername,
}

/// Why a caller could not be authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Unknown username or wrong password: deliberately not told apart.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// The token is malformed, badly signed, or names an unknown session.
    #[error("token is invalid")]
    InvalidToken,
    /// The token, or the session it belongs to, has expired.
    #[error("token has expired")]
    TokenExpired,
    /// The session of the token was logged out or revoked after a reuse.
    #[error("token has been revoked")]
    TokenRevoked,
    /// An access token where a refresh token is expected, or the reverse.
    #[error("wrong token type")]
    WrongTokenType,
    /// The code of a second login step is wrong, or was used already.
    #[error("invalid second-factor code")]
    InvalidMfaCode,
}

/// An action only the author of a post may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForbiddenAction {
    /// Editing a post.
    EditPost,
    /// Deleting a post.
    DeletePost,
}

impl fmt::Display for ForbiddenAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EditPost => "edit this post",
            Self::DeletePost => "delete this post",
        })
    }
}

/// A kind of thing that can be missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// A post.
    Post,
    /// A user.
    User,
    /// A login session (also one of another user: not told apart).
    Session,
    /// An active second factor.
    SecondFactor,
    /// A configured identity provider.
    IdentityProvider,
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Post => "post",
            Self::User => "user",
            Self::Session => "session",
            Self::SecondFactor => "second factor",
            Self::IdentityProvider => "identity provider",
        })
    }
}

/// Why the callback of a third-party login is refused before the provider
/// is asked anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CallbackRefusal {
    /// The callback has no `state`.
    #[error("the callback has no state")]
    MissingState,
    /// The `state` is unknown, expired, used already, or was sent to
    /// another provider.
    #[error("unknown, expired or used state")]
    UnknownState,
    /// The provider answered with an `error` instead of a code, or refused
    /// the code.
    #[error("the provider refused the login")]
    ProviderRefused,
    /// The callback has a `state` but no `code`.
    #[error("the callback has no code")]
    MissingCode,
}

/// Everything a domain operation can fail with.
///
/// Every variant but [`Unavailable`](Self::Unavailable) and
/// [`Internal`](Self::Internal) is the caller's to fix; those two are ours.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Input broke a rule.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// The username belongs to someone else.
    #[error("username is already taken")]
    UsernameTaken,
    /// The caller is not (or no longer) authenticated.
    #[error(transparent)]
    Unauthorized(#[from] AuthError),
    /// The caller is authenticated but not the author.
    #[error("only the author may {0}")]
    Forbidden(ForbiddenAction),
    /// The caller is authenticated, but the password it confirmed a
    /// sensitive change with is wrong.
    #[error("the current password is wrong")]
    WrongPassword,
    /// The caller is authenticated, but the second-factor code it confirmed
    /// a sensitive change with is wrong.
    #[error("the second-factor code is wrong")]
    WrongMfaCode,
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(Resource),
    /// A uniqueness rule refused a write that no more specific variant
    /// names (a username has [`UsernameTaken`](Self::UsernameTaken)).
    #[error("the change conflicts with what is stored")]
    Conflict,
    /// The callback of a third-party login is not one to act on.
    #[error(transparent)]
    Callback(#[from] CallbackRefusal),
    /// Too many attempts: a rate limit refuses this one until
    /// `retry_after_secs` have passed.
    #[error("too many attempts: retry in {retry_after_secs} s")]
    RateLimited {
        /// Whole seconds until trying again can succeed.
        retry_after_secs: u64,
    },
    /// A dependency (the database) cannot be reached right now; retrying later may work.
    #[error("a dependency is unavailable")]
    Unavailable(#[source] BoxError),
    /// A bug or an unexpected infrastructure failure.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl DomainError {
    /// An internal error from a plain message, for broken invariants.
    pub fn internal(message: &'static str) -> Self {
        Self::Internal(message.into())
    }
}

/// Keeps every distinction: a conflict stays a [`DomainError::Conflict`]
/// (a caller that knows a better name for it, such as a taken username,
/// matches on it first).
impl From<crate::ports::RepositoryError> for DomainError {
    fn from(error: crate::ports::RepositoryError) -> Self {
        use crate::ports::RepositoryError;
        match error {
            RepositoryError::Conflict => Self::Conflict,
            RepositoryError::Unavailable(source) => Self::Unavailable(source),
            RepositoryError::Internal(source) => Self::Internal(source),
        }
    }
}

impl From<crate::ports::HashError> for DomainError {
    fn from(error: crate::ports::HashError) -> Self {
        use crate::ports::HashError;
        match error {
            HashError::Busy => Self::Unavailable(Box::new(error)),
            HashError::Failed(_) => Self::Internal(Box::new(error)),
        }
    }
}

impl From<crate::ports::IdentityProviderError> for DomainError {
    fn from(error: crate::ports::IdentityProviderError) -> Self {
        use crate::ports::IdentityProviderError;
        match error {
            IdentityProviderError::UnknownProvider => Self::NotFound(Resource::IdentityProvider),
            IdentityProviderError::Unavailable(source) => Self::Unavailable(source),
            IdentityProviderError::CodeRefused(_) => CallbackRefusal::ProviderRefused.into(),
            IdentityProviderError::InvalidIdToken(_) => AuthError::InvalidCredentials.into(),
            IdentityProviderError::Internal(source) => Self::Internal(source),
        }
    }
}

impl From<crate::ports::TwoFactorError> for DomainError {
    fn from(error: crate::ports::TwoFactorError) -> Self {
        Self::Internal(Box::new(error))
    }
}

impl From<crate::ports::TokenError> for DomainError {
    fn from(error: crate::ports::TokenError) -> Self {
        use crate::ports::TokenError;
        match error {
            TokenError::Expired => AuthError::TokenExpired.into(),
            TokenError::Invalid => AuthError::InvalidToken.into(),
            TokenError::Internal(source) => Self::Internal(source),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{HashError, RepositoryError};

    #[test]
    fn errors_say_what_they_name() {
        assert_eq!(
            DomainError::NotFound(Resource::Post).to_string(),
            "post not found"
        );
        assert_eq!(
            DomainError::Forbidden(ForbiddenAction::DeletePost).to_string(),
            "only the author may delete this post"
        );
    }

    #[test]
    fn no_conversion_loses_a_conflict_or_an_overload() {
        assert!(matches!(
            DomainError::from(RepositoryError::Conflict),
            DomainError::Conflict
        ));
        assert!(matches!(
            DomainError::from(HashError::Busy),
            DomainError::Unavailable(_)
        ));
        assert!(matches!(
            DomainError::from(HashError::Failed("broken".into())),
            DomainError::Internal(_)
        ));
    }
}
