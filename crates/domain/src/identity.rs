//! Third-party login: users' identities at OpenID Connect providers, and
//! the logins sent to a provider that wait for its answer.

use std::fmt;

use secrecy::SecretString;
use time::{Duration, OffsetDateTime};

use crate::{Username, ValidationError};

/// How long a login sent to a provider may take to come back: after that
/// its `state` is refused.
pub const PENDING_LOGIN_LIFETIME: Duration = Duration::minutes(10);

/// The configured name of an identity provider: 1 to 32 lowercase ASCII
/// letters, digits, `-` or `_`, since it is a path segment of the API.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProviderName(String);

impl ProviderName {
    /// Longest accepted name, in characters.
    pub const MAX_LEN: usize = 32;

    /// Parses a provider name, unchanged.
    ///
    /// # Errors
    /// [`ValidationError::InvalidProviderName`] when the length or a
    /// character is off.
    pub fn parse(raw: impl Into<String>) -> Result<Self, ValidationError> {
        let raw = raw.into();
        let allowed = |b: u8| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_');
        if (1..=Self::MAX_LEN).contains(&raw.len()) && raw.bytes().all(allowed) {
            Ok(Self(raw))
        } else {
            Err(ValidationError::InvalidProviderName)
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProviderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A provider's identifier of one of its users: an ID token's `sub`, at
/// most 255 printable ASCII characters (OpenID Connect Core 1.0, 2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subject(String);

impl Subject {
    /// Longest accepted subject, in characters.
    pub const MAX_LEN: usize = 255;

    /// Parses a subject, unchanged (subjects are case-sensitive).
    ///
    /// # Errors
    /// [`ValidationError::InvalidSubject`] when it is empty, too long, or
    /// holds anything but printable ASCII.
    pub fn parse(raw: impl Into<String>) -> Result<Self, ValidationError> {
        let raw = raw.into();
        if (1..=Self::MAX_LEN).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(raw))
        } else {
            Err(ValidationError::InvalidSubject)
        }
    }

    /// The subject as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user of a provider: linked to at most one local user.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExternalIdentity {
    /// The provider.
    pub provider: ProviderName,
    /// The provider's id of the user.
    pub subject: Subject,
}

/// What a provider tells of a user besides its id, only used to name the
/// local user made on a first login.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalProfile {
    /// The `preferred_username` claim.
    pub preferred_username: Option<String>,
    /// The `name` claim.
    pub name: Option<String>,
}

impl ExternalProfile {
    /// Room left after the name for a `_` and a random suffix.
    const BASE_LEN: usize = Username::MAX_LEN - 9;

    /// The username to try first for a new user: `preferred_username` (or
    /// else `name`) reduced to the username alphabet (whitespace becomes
    /// `_`, other characters are dropped) and to 23 characters, or `user`
    /// when too little of it is left.
    pub fn base_username(&self) -> Username {
        let claim = self.preferred_username.as_deref().or(self.name.as_deref());
        let reduced: String = claim
            .unwrap_or_default()
            .chars()
            .filter_map(|c| match c {
                c if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') => Some(c),
                c if c.is_whitespace() => Some('_'),
                _ => None,
            })
            .take(Self::BASE_LEN)
            .collect();
        Username::parse(reduced)
            .or_else(|_| Username::parse("user"))
            .unwrap_or_else(|_| unreachable!("\"user\" is a valid username"))
    }
}

/// An identity whose ID token the provider signed and every check passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// Who the user is at the provider.
    pub identity: ExternalIdentity,
    /// What the provider tells of the user.
    pub profile: ExternalProfile,
}

/// What an [`IdentityProviders`](crate::ports::IdentityProviders) port
/// makes to send a user to a provider. `Debug` shows only the URL.
pub struct Authorization {
    /// Where to send the user: the provider's authorization endpoint with
    /// the request's parameters.
    pub url: String,
    /// The request's `state`: the key of the [`PendingLogin`].
    pub state: SecretString,
    /// The request's `nonce`, which the ID token must carry back.
    pub nonce: SecretString,
    /// The PKCE code verifier whose S256 challenge the request carries.
    pub pkce_verifier: SecretString,
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// A login sent to a provider, kept server-side under its `state` until
/// the callback comes back, at most once. `Debug` hides its secrets.
#[derive(Clone)]
pub struct PendingLogin {
    /// The provider the user was sent to: a callback for another provider
    /// does not match it (mix-up).
    pub provider: ProviderName,
    /// The `nonce` the ID token must carry.
    pub nonce: SecretString,
    /// The PKCE code verifier to send with the code.
    pub pkce_verifier: SecretString,
    /// When its `state` stops being accepted.
    pub expires_at: OffsetDateTime,
}

impl fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingLogin")
            .field("provider", &self.provider)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The query of a provider's redirect back to the service, unvalidated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Callback {
    /// The `state` of the request, as sent back.
    pub state: Option<String>,
    /// The authorization code.
    pub code: Option<String>,
    /// The provider's `error` code, when it refused.
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_are_short_lowercase_path_segments() {
        for name in ["google", "my-idp_2", "a", &"x".repeat(32)] {
            assert_eq!(
                ProviderName::parse(name).map(|n| n.to_string()),
                Ok(name.to_owned())
            );
        }
        for name in ["", "Google", "a b", "a/b", "é", &"x".repeat(33)] {
            assert_eq!(
                ProviderName::parse(name),
                Err(ValidationError::InvalidProviderName)
            );
        }
    }

    #[test]
    fn subjects_are_printable_ascii_up_to_255() {
        assert!(Subject::parse("248289761001").is_ok());
        assert!(Subject::parse("x".repeat(255)).is_ok());
        for subject in ["", "a b", "é", "a\n", &"x".repeat(256)] {
            assert_eq!(
                Subject::parse(subject),
                Err(ValidationError::InvalidSubject)
            );
        }
    }

    fn base(preferred_username: Option<&str>, name: Option<&str>) -> String {
        ExternalProfile {
            preferred_username: preferred_username.map(str::to_owned),
            name: name.map(str::to_owned),
        }
        .base_username()
        .as_str()
        .to_owned()
    }

    #[test]
    fn a_base_username_comes_from_the_claims_within_the_alphabet() {
        assert_eq!(base(Some("jane.doe"), Some("Jane")), "jane.doe");
        assert_eq!(base(None, Some("Jane Doe")), "Jane_Doe");
        assert_eq!(base(Some("Zoë <z@x>"), None), "Zo_zx");
        assert_eq!(base(Some(&"a".repeat(40)), None), "a".repeat(23));
        assert_eq!(base(Some("é!"), Some("Jane")), "user");
        assert_eq!(base(None, None), "user");
    }
}
