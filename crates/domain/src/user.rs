//! Users: their ids, names, passwords and the hashes stored for them.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

use crate::{PasswordRule, UserId, ValidationError};

/// A username: 3 to 32 ASCII letters, digits, `_`, `-` or `.`, case kept.
///
/// The narrow alphabet keeps names unambiguous on screen and safe in logs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Shortest accepted username, in characters.
    pub const MIN_LEN: usize = 3;
    /// Longest accepted username, in characters.
    pub const MAX_LEN: usize = 32;

    /// Parses a username, unchanged (no trimming, no case folding).
    ///
    /// # Errors
    /// [`ValidationError::InvalidUsername`] when the length or a character is off.
    pub fn parse(raw: impl Into<String>) -> Result<Self, ValidationError> {
        let raw = raw.into();
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
        if (Self::MIN_LEN..=Self::MAX_LEN).contains(&raw.len()) && raw.chars().all(allowed) {
            Ok(Self(raw))
        } else {
            Err(ValidationError::InvalidUsername)
        }
    }

    /// The username as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password that meets the policy: at least 8 bytes, and no longer
/// than the hasher reads whole
/// ([`PasswordHasher::max_password_bytes`](crate::ports::PasswordHasher::max_password_bytes),
/// 72 for bcrypt), so that nothing is silently truncated. `Debug` shows
/// nothing of it.
pub struct Password(SecretString);

impl Password {
    /// Shortest accepted password, in bytes.
    pub const MIN_BYTES: usize = 8;

    /// Checks the policy, with `max_bytes` from the hasher.
    ///
    /// # Errors
    /// [`ValidationError::WeakPassword`] when the length is outside the policy.
    pub fn parse(raw: SecretString, max_bytes: usize) -> Result<Self, ValidationError> {
        if (Self::MIN_BYTES..=max_bytes).contains(&raw.expose_secret().len()) {
            Ok(Self(raw))
        } else {
            Err(ValidationError::WeakPassword(PasswordRule::Length {
                min: Self::MIN_BYTES,
                max: max_bytes,
            }))
        }
    }

    /// The password itself, for the hasher only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A password hash in the hasher's own format (for bcrypt, `$2b$...`).
///
/// Never leaves the server; `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a hash produced by a [`PasswordHasher`](crate::ports::PasswordHasher)
    /// or read back from the store.
    pub fn new(hash: String) -> Self {
        Self(hash)
    }

    /// The hash as text, for the store and the hasher.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// A registered user, as shown to anyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// The user's name.
    pub username: Username,
    /// When the user registered (UTC, whole seconds).
    pub created_at: OffsetDateTime,
}

/// A user with the stored password hash, for checking a login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCredentials {
    /// The user.
    pub user: User,
    /// The stored hash of the user's password.
    pub password_hash: PasswordHash,
}

/// A user about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// The wanted name.
    pub username: Username,
    /// The hash of the chosen password.
    pub password_hash: PasswordHash,
    /// The registration time.
    pub created_at: OffsetDateTime,
}

/// What a login form sends, unvalidated: a login never tells which rule a
/// wrong username or password breaks, it only fails.
pub struct LoginAttempt {
    /// The username as typed.
    pub username: String,
    /// The password as typed.
    pub password: SecretString,
}

impl fmt::Debug for LoginAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginAttempt").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_within_the_rules_parse_unchanged() {
        for name in ["bob", "alice_99", "a.b-c", &"x".repeat(32)] {
            assert_eq!(
                Username::parse(name).map(|u| u.as_str().to_owned()),
                Ok(name.to_owned())
            );
        }
    }

    #[test]
    fn usernames_outside_the_rules_are_refused() {
        for name in [
            "",
            "ab",
            &"x".repeat(33),
            "has space",
            " bob",
            "bob\n",
            "émile",
            "a/b",
            "<script>",
        ] {
            assert_eq!(
                Username::parse(name),
                Err(ValidationError::InvalidUsername),
                "{name:?}"
            );
        }
    }

    #[test]
    fn passwords_of_8_bytes_to_the_hashers_limit_are_accepted() {
        for len in [8, 40, 72] {
            assert!(
                Password::parse(SecretString::from("p".repeat(len)), 72).is_ok(),
                "{len}"
            );
        }
    }

    #[test]
    fn passwords_shorter_than_8_or_longer_than_the_hashers_limit_are_weak() {
        // "é" is two bytes: 37 of them are 74 bytes though only 37 characters.
        for raw in [
            "".to_owned(),
            "1234567".to_owned(),
            "p".repeat(73),
            "é".repeat(37),
        ] {
            assert_eq!(
                Password::parse(SecretString::from(raw.clone()), 72).map(|_| ()),
                Err(ValidationError::WeakPassword(PasswordRule::Length {
                    min: 8,
                    max: 72
                })),
                "{} bytes",
                raw.len()
            );
        }
    }

    #[test]
    fn debug_output_never_shows_a_password_or_hash() {
        let password =
            Password::parse(SecretString::from("hunter22hunter22"), 72).map(|p| format!("{p:?}"));
        assert_eq!(password.as_deref(), Ok("Password(<redacted>)"));
        let hash = format!("{:?}", PasswordHash::new("$2b$04$secret".into()));
        assert!(!hash.contains("secret"), "{hash}");
        let attempt = LoginAttempt {
            username: "bob".into(),
            password: SecretString::from("hunter22"),
        };
        assert!(!format!("{attempt:?}").contains("hunter22"));
    }
}
