//! The system clock and the OS random source.

use blog_domain::ports::{Clock, IdGenerator};
use blog_domain::{SessionId, TokenId};
use secrecy::SecretString;
use time::OffsetDateTime;

/// The real clock, in UTC, truncated to whole seconds: token claims and
/// stored timestamps then agree exactly.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        now.replace_nanosecond(0).unwrap_or(now)
    }
}

/// `N` bytes from the operating system's CSPRNG.
///
/// # Panics
/// If the OS has no working random source: nothing secure can be done then.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];
    #[expect(
        clippy::expect_used,
        reason = "without an OS random source no secure id can be made"
    )]
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes
}

/// A secret of 256 random bits, as 64 lowercase hex digits (two random
/// ids, so that one encoder writes every random value).
pub fn random_secret() -> SecretString {
    let ids = OsRandomIds;
    SecretString::from(format!("{}{}", ids.token_id(), ids.token_id()))
}

/// Session and token ids of 128 bits from the OS random source.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandomIds;

impl IdGenerator for OsRandomIds {
    fn session_id(&self) -> SessionId {
        SessionId::from_bytes(random_bytes())
    }

    fn token_id(&self) -> TokenId {
        TokenId::from_bytes(random_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_valid_and_distinct() {
        let ids = OsRandomIds;
        let (a, b) = (ids.session_id(), ids.session_id());
        assert_ne!(a, b);
        assert_ne!(ids.token_id(), ids.token_id());
    }

    #[test]
    fn a_random_secret_is_256_bits_of_lowercase_hex() {
        use secrecy::ExposeSecret;
        let secret = random_secret();
        let hex = secret.expose_secret();
        assert_eq!(hex.len(), 64);
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{hex}"
        );
        assert_ne!(hex, random_secret().expose_secret());
    }

    #[test]
    fn the_clock_has_whole_seconds() {
        assert_eq!(SystemClock.now().nanosecond(), 0);
    }
}
