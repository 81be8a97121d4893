//! The system clock and the OS random source.

use blog_domain::ports::{Clock, IdGenerator};
use blog_domain::{SessionId, TokenId};
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
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];
    #[expect(
        clippy::expect_used,
        reason = "without an OS random source no secure id can be made"
    )]
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes
}

/// `N` random bytes from the OS, as `2 * N` lowercase hex digits.
pub fn random_hex<const N: usize>() -> String {
    use std::fmt::Write;
    random_bytes::<N>()
        .iter()
        .fold(String::with_capacity(2 * N), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
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
    fn random_hex_has_two_lowercase_digits_per_byte() {
        let hex = random_hex::<8>();
        assert_eq!(hex.len(), 16);
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{hex}"
        );
        assert_ne!(hex, random_hex::<8>());
    }

    #[test]
    fn the_clock_has_whole_seconds() {
        assert_eq!(SystemClock.now().nanosecond(), 0);
    }
}
