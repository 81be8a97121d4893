//! Ids: integers given by the store, and 128-bit random ids for sessions
//! and tokens.

use std::fmt;

use crate::ValidationError;

/// Declares an id that is a positive integer given by the store.
macro_rules! positive_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(i64);

        impl $name {
            /// Accepts positive integers only.
            ///
            /// # Errors
            /// [`ValidationError::InvalidId`](crate::ValidationError::InvalidId) for zero or a negative number.
            pub fn new(raw: i64) -> Result<Self, $crate::ValidationError> {
                if raw > 0 { Ok(Self(raw)) } else { Err($crate::ValidationError::InvalidId) }
            }

            /// The integer value.
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

pub(crate) use positive_id;

/// Declares an id of 128 random bits written as 32 lowercase hex digits.
macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
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
                let valid = raw.len() == 32 && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
                if valid { Ok(Self(raw)) } else { Err(ValidationError::InvalidRandomId) }
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

positive_id!(
    /// The id of a user.
    UserId
);

positive_id!(
    /// The id of a post.
    PostId
);

random_id!(
    /// The id of a login session, carried by its tokens as `sid`.
    SessionId
);

random_id!(
    /// The id of one token (`jti`).
    TokenId
);

fn to_hex(bytes: [u8; 16]) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_ids_are_positive() {
        assert_eq!(UserId::new(1).map(UserId::get), Ok(1));
        assert_eq!(PostId::new(i64::MAX).map(PostId::get), Ok(i64::MAX));
        for raw in [0, -1, i64::MIN] {
            assert_eq!(UserId::new(raw), Err(ValidationError::InvalidId));
            assert_eq!(PostId::new(raw), Err(ValidationError::InvalidId));
        }
    }

    #[test]
    fn random_ids_are_32_lowercase_hex_digits() {
        assert!(SessionId::parse("0123456789abcdef0123456789abcdef").is_ok());
        for bad in [
            "",
            "0123456789ABCDEF0123456789ABCDEF",
            "0123456789abcdef",
            "' OR 1=1 --",
            &"g".repeat(32),
        ] {
            assert_eq!(
                SessionId::parse(bad),
                Err(ValidationError::InvalidRandomId),
                "{bad}"
            );
            assert_eq!(
                TokenId::parse(bad),
                Err(ValidationError::InvalidRandomId),
                "{bad}"
            );
        }
    }

    #[test]
    fn random_ids_from_bytes_parse_back() {
        let id = TokenId::from_bytes([0xab; 16]);
        assert_eq!(id.as_str(), "ab".repeat(16));
        assert_eq!(TokenId::parse(id.as_str()), Ok(id));
        assert_eq!(SessionId::from_bytes([0x01; 16]).as_str(), "01".repeat(16));
    }
}
