//! Users: their ids, names, passwords and the hashes stored for them.

use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

use crate::ports::{HashError, PasswordHasher};
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

/// A new password that meets the policy (NIST SP 800-63B, no composition
/// rules): at least 8 bytes, and no longer than the hasher reads whole
/// ([`PasswordHasher::max_password_bytes`](crate::ports::PasswordHasher::max_password_bytes),
/// 72 for bcrypt) so that nothing is silently truncated; not one of the
/// 10,000 most common passwords; not containing the username. `Debug`
/// shows nothing of it.
pub struct Password(SecretString);

/// The 10,000 most common passwords, lowercase (see `data/README.md` for
/// where the list comes from).
const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

fn is_common(lowercase: &str) -> bool {
    static COMMON: OnceLock<HashSet<&'static str>> = OnceLock::new();
    COMMON
        .get_or_init(|| COMMON_PASSWORDS.lines().collect())
        .contains(lowercase)
}

impl Password {
    /// Shortest accepted password, in bytes.
    pub const MIN_BYTES: usize = 8;

    /// Checks the policy for `username`'s new password, with `max_bytes`
    /// from the hasher. The rules are checked in the order of
    /// [`PasswordRule`]'s variants; the first broken one is reported.
    ///
    /// # Errors
    /// [`ValidationError::WeakPassword`] naming the rule broken.
    pub fn parse(
        raw: SecretString,
        username: &Username,
        max_bytes: usize,
    ) -> Result<Self, ValidationError> {
        let password = raw.expose_secret();
        let lowercase = password.to_lowercase();
        let broken = if !(Self::MIN_BYTES..=max_bytes).contains(&password.len()) {
            Some(PasswordRule::Length {
                min: Self::MIN_BYTES,
                max: max_bytes,
            })
        } else if is_common(&lowercase) {
            Some(PasswordRule::Common)
        } else if lowercase.contains(&username.as_str().to_lowercase()) {
            Some(PasswordRule::ContainsUsername)
        } else {
            None
        };
        match broken {
            Some(rule) => Err(ValidationError::WeakPassword(rule)),
            None => Ok(Self(raw)),
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

/// Whether `password` is the one `stored` is the hash of. Costs one
/// verification in every case, against the hasher's dummy hash when there is
/// no stored hash (an unknown user, or one without a password), so the
/// answer takes as long either way. A password longer than the hasher
/// reads never matches: bcrypt would match its 72-byte prefix.
pub(crate) fn password_matches(
    hasher: &dyn PasswordHasher,
    password: &str,
    stored: Option<&PasswordHash>,
) -> Result<bool, HashError> {
    let Some(stored) = stored else {
        hasher.verify(password, &hasher.dummy_hash())?;
        return Ok(false);
    };
    Ok(hasher.verify(password, stored)? && password.len() <= hasher.max_password_bytes())
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
    /// The stored hash of the user's password; `None` for a user made by a
    /// third-party login, who has no password (and whom no password logs in).
    pub password_hash: Option<PasswordHash>,
}

/// A user about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// The wanted name.
    pub username: Username,
    /// The hash of the chosen password; `None` for a user who logs in
    /// through an identity provider only.
    pub password_hash: Option<PasswordHash>,
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

    fn bob() -> Username {
        Username::parse("bob").unwrap()
    }

    fn rule_broken(password: &str, username: &str) -> Option<PasswordRule> {
        let username = Username::parse(username).unwrap();
        match Password::parse(SecretString::from(password), &username, 72) {
            Ok(_) => None,
            Err(ValidationError::WeakPassword(rule)) => Some(rule),
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn common_passwords_are_weak_whatever_their_case() {
        for common in [
            "password",
            "12345678",
            "iloveyou",
            "PassWord1",
            "QWERTYUIOP",
        ] {
            assert_eq!(
                rule_broken(common, "alice"),
                Some(PasswordRule::Common),
                "{common}"
            );
        }
        assert_eq!(COMMON_PASSWORDS.lines().count(), 10_000);
        assert_eq!(rule_broken("correct horse battery", "alice"), None);
    }

    #[test]
    fn a_password_containing_the_username_is_weak_whatever_the_case() {
        assert_eq!(
            rule_broken("xxAlice-2026!", "alice"),
            Some(PasswordRule::ContainsUsername)
        );
        assert_eq!(
            rule_broken("my name is BOB.SMITH", "bob.smith"),
            Some(PasswordRule::ContainsUsername)
        );
        assert_eq!(rule_broken("al1ce is here", "alice"), None);
    }

    #[test]
    fn the_first_rule_broken_is_the_one_named() {
        // Short, common and containing the name: the length is named.
        assert_eq!(
            rule_broken("bob", "bob"),
            Some(PasswordRule::Length { min: 8, max: 72 })
        );
        assert_eq!(
            ValidationError::WeakPassword(PasswordRule::Common).to_string(),
            "password is one of the 10,000 most common passwords"
        );
    }

    #[test]
    fn passwords_of_8_bytes_to_the_hashers_limit_are_accepted() {
        for len in [8, 40, 72] {
            assert!(
                Password::parse(SecretString::from("p".repeat(len)), &bob(), 72).is_ok(),
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
                Password::parse(SecretString::from(raw.clone()), &bob(), 72).map(|_| ()),
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
        let password = Password::parse(SecretString::from("hunter22hunter22"), &bob(), 72)
            .map(|p| format!("{p:?}"));
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
