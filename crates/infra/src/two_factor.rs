//! [`TotpTwoFactor`]: RFC 6238 codes (totp-rs), secrets sealed with
//! XChaCha20-Poly1305, and SHA-256 digests of recovery codes and
//! `mfa_token`s.

use std::fmt;

use blog_domain::ports::{TwoFactor, TwoFactorError};
use blog_domain::{
    MfaTokenHash, RECOVERY_CODES, RecoveryCodeHash, SealedSecret, TotpEnrolment, UserId, Username,
};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use totp_rs::{Builder, Totp};

use crate::ids::random_bytes;

/// What a sealed secret starts with: the format, so a later one can differ.
const SEALED_PREFIX: &str = "v1.";

/// Why a key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the two-factor encryption key must be 64 hexadecimal digits (256 bits)")]
pub struct KeyError;

/// The [`TwoFactor`] port: TOTP with SHA-1, 6 digits and 30-second steps,
/// one step of drift each way (what authenticator apps do).
#[derive(Clone)]
pub struct TotpTwoFactor {
    cipher: XChaCha20Poly1305,
    issuer: String,
}

impl fmt::Debug for TotpTwoFactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpTwoFactor")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl TotpTwoFactor {
    /// Seals secrets with `key` (64 hex digits: see [`crate::random_secret`]);
    /// apps show the account under `issuer`.
    ///
    /// # Errors
    /// [`KeyError`] for a key that is not 32 bytes in hex.
    pub fn new(key: &SecretString, issuer: &str) -> Result<Self, KeyError> {
        let key = from_hex(key.expose_secret().trim()).ok_or(KeyError)?;
        let cipher = XChaCha20Poly1305::new_from_slice(&key).map_err(|_| KeyError)?;
        Ok(Self {
            cipher,
            // A colon would split the app's label.
            issuer: issuer.replace(':', " "),
        })
    }

    fn seal(&self, user: UserId, secret: &[u8]) -> Result<SealedSecret, TwoFactorError> {
        let nonce: [u8; 24] = random_bytes();
        let aad = associated_data(user);
        let sealed = self
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: secret,
                    aad: &aad,
                },
            )
            .map_err(|_| TwoFactorError("sealing the TOTP secret failed".into()))?;
        Ok(SealedSecret::new(format!(
            "{SEALED_PREFIX}{}{}",
            to_hex(&nonce),
            to_hex(&sealed)
        )))
    }

    fn open(&self, user: UserId, sealed: &SealedSecret) -> Result<Vec<u8>, TwoFactorError> {
        let unreadable = || TwoFactorError("a sealed TOTP secret does not open".into());
        let bytes = sealed
            .as_str()
            .strip_prefix(SEALED_PREFIX)
            .and_then(from_hex)
            .filter(|bytes| bytes.len() > 24)
            .ok_or_else(unreadable)?;
        let (nonce, ciphertext) = bytes.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| unreadable())?;
        let aad = associated_data(user);
        self.cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| unreadable())
    }
}

/// Binds a sealed secret to its user: copied to another row, it does not open.
fn associated_data(user: UserId) -> Vec<u8> {
    format!("blog-totp:{user}").into_bytes()
}

fn totp(secret: Vec<u8>, account: &str, issuer: &str) -> Result<Totp, TwoFactorError> {
    Builder::new()
        .with_secret(secret)
        .with_account_name(account)
        .with_issuer(Some(issuer))
        .build()
        .map_err(|error| TwoFactorError(error.to_string().into()))
}

pub(crate) fn sha256_hex(text: &str) -> String {
    to_hex(&Sha256::digest(text.as_bytes()))
}

impl TwoFactor for TotpTwoFactor {
    fn enrol(&self, user: UserId, account: &Username) -> Result<TotpEnrolment, TwoFactorError> {
        // 160 bits, as RFC 4226 recommends.
        let secret: [u8; 20] = random_bytes();
        let totp = totp(secret.to_vec(), account.as_str(), &self.issuer)?;
        let otpauth_uri = totp
            .to_url()
            .map_err(|error| TwoFactorError(error.to_string().into()))?;
        Ok(TotpEnrolment {
            sealed: self.seal(user, &secret)?,
            secret: SecretString::from(totp.secret().to_base32()),
            otpauth_uri: SecretString::from(otpauth_uri),
        })
    }

    fn check(
        &self,
        user: UserId,
        sealed: &SealedSecret,
        code: &str,
        now: OffsetDateTime,
    ) -> Result<Option<u64>, TwoFactorError> {
        let secret = self.open(user, sealed)?;
        let totp = totp(secret, "-", &self.issuer)?;
        let now = u64::try_from(now.unix_timestamp()).unwrap_or(0);
        Ok(totp.check(code.trim(), now))
    }

    fn recovery_codes(&self) -> Vec<(SecretString, RecoveryCodeHash)> {
        (0..RECOVERY_CODES)
            .map(|_| {
                // 80 bits, written xxxx-xxxx-xxxx-xxxx-xxxx.
                let bytes: [u8; 10] = random_bytes();
                let groups: Vec<String> = bytes.chunks(2).map(to_hex).collect();
                let code = groups.join("-");
                let digest = self.recovery_code_hash(&code);
                (SecretString::from(code), digest)
            })
            .collect()
    }

    fn recovery_code_hash(&self, code: &str) -> RecoveryCodeHash {
        let normal: String = code
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .flat_map(char::to_lowercase)
            .collect();
        RecoveryCodeHash::new(sha256_hex(&normal))
    }

    fn mfa_token(&self) -> (SecretString, MfaTokenHash) {
        let bytes: [u8; 32] = random_bytes();
        let token = to_hex(&bytes);
        let digest = self.mfa_token_hash(&token);
        (SecretString::from(token), digest)
    }

    fn mfa_token_hash(&self, token: &str) -> MfaTokenHash {
        MfaTokenHash::new(sha256_hex(token))
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    let digit = |byte: u8| char::from(byte).to_digit(16);
    text.as_bytes()
        .chunks(2)
        .map(|pair| match *pair {
            [high, low] => Some(u8::try_from(digit(high)? * 16 + digit(low)?).ok()?),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn two_factor() -> TotpTwoFactor {
        TotpTwoFactor::new(&crate::random_secret(), "blog").unwrap()
    }

    fn user(id: i64) -> UserId {
        UserId::new(id).unwrap()
    }

    #[test]
    fn the_codes_are_rfc_6238s() {
        // RFC 6238, appendix B: SHA-1, the 20-byte ASCII secret, 8 digits
        // there; the last 6 of them are the 6-digit code.
        let rfc = totp(b"12345678901234567890".to_vec(), "-", "blog").unwrap();
        assert_eq!(rfc.generate(59).to_string(), "287082");
        assert_eq!(rfc.generate(1_111_111_109).to_string(), "081804");
    }

    #[test]
    fn codes_of_the_step_and_one_each_side_match_and_say_their_step() {
        let two_factor = two_factor();
        let alice = user(1);
        let enrolment = two_factor
            .enrol(alice, &Username::parse("alice").unwrap())
            .unwrap();
        let secret = two_factor.open(alice, &enrolment.sealed).unwrap();
        let app = totp(secret, "-", "blog").unwrap();
        let now = datetime!(2026-11-28 10:00:10 UTC);
        let at = |offset: i64| u64::try_from(now.unix_timestamp() + offset).unwrap();
        for (offset, accepted) in [
            (-60, false),
            (-30, true),
            (0, true),
            (30, true),
            (60, false),
        ] {
            let code = app.generate(at(offset)).to_string();
            let step = two_factor
                .check(alice, &enrolment.sealed, &code, now)
                .unwrap();
            assert_eq!(step.is_some(), accepted, "offset {offset}");
            if accepted {
                assert_eq!(step, Some(at(offset) / 30));
            }
        }
        assert_eq!(
            two_factor
                .check(alice, &enrolment.sealed, "12345", now)
                .unwrap(),
            None,
            "not six digits"
        );
    }

    #[test]
    fn the_enrolment_shows_the_secret_and_a_uri_and_seals_it_for_its_user_only() {
        let two_factor = two_factor();
        let enrolment = two_factor
            .enrol(user(1), &Username::parse("alice").unwrap())
            .unwrap();
        let secret = enrolment.secret.expose_secret();
        assert_eq!(secret.len(), 32, "160 bits in base32: {secret}");
        let uri = enrolment.otpauth_uri.expose_secret();
        assert!(uri.starts_with("otpauth://totp/blog:alice?"), "{uri}");
        assert!(uri.contains(&format!("secret={secret}")), "{uri}");
        assert!(!enrolment.sealed.as_str().contains(secret));
        let now = OffsetDateTime::now_utc();
        assert!(
            two_factor
                .check(user(2), &enrolment.sealed, "123456", now)
                .is_err(),
            "another user's row"
        );
        let other_key = TotpTwoFactor::new(&crate::random_secret(), "blog").unwrap();
        assert!(
            other_key
                .check(user(1), &enrolment.sealed, "123456", now)
                .is_err(),
            "another key"
        );
        assert!(
            two_factor
                .check(user(1), &SealedSecret::new("v1.zz".into()), "123456", now)
                .is_err()
        );
    }

    #[test]
    fn recovery_codes_are_distinct_and_match_their_digest_however_typed() {
        let two_factor = two_factor();
        let codes = two_factor.recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let (code, digest) = &codes[0];
        let code = code.expose_secret();
        assert_eq!(code.len(), 24, "{code}");
        assert_eq!(&two_factor.recovery_code_hash(code), digest);
        let typed = format!(" {} ", code.replace('-', " ").to_uppercase());
        assert_eq!(&two_factor.recovery_code_hash(&typed), digest);
        assert_ne!(codes[0].1, codes[1].1);
        assert!(!digest.as_str().contains(&code.replace('-', "")));
    }

    #[test]
    fn mfa_tokens_are_random_and_stored_as_digests() {
        let two_factor = two_factor();
        let (token, digest) = two_factor.mfa_token();
        assert_eq!(token.expose_secret().len(), 64);
        assert_eq!(two_factor.mfa_token_hash(token.expose_secret()), digest);
        assert_ne!(digest.as_str(), token.expose_secret());
        assert_ne!(two_factor.mfa_token().1, digest);
    }

    #[test]
    fn a_key_must_be_256_bits_of_hex() {
        for key in ["", "abc", &"g".repeat(64), &"a".repeat(62)] {
            assert_eq!(
                TotpTwoFactor::new(&SecretString::from(key), "blog").err(),
                Some(KeyError),
                "{key:?}"
            );
        }
    }
}
