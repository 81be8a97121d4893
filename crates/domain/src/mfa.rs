//! Two-factor login with TOTP (RFC 6238): the values the ports exchange,
//! and the check of a second factor both services make.
//! The rules live in [`UserService`](crate::UserService) (enrolment) and
//! [`SessionService`](crate::SessionService) (the second login step).

use secrecy::SecretString;
use time::{Duration, OffsetDateTime};

use crate::ports::{MfaRepository, TwoFactor};
use crate::{DomainError, SecurityEvent, UserId};

/// How long the `mfa_token` of a second login step lives.
pub const MFA_TOKEN_LIFETIME: Duration = Duration::minutes(5);

/// Wrong codes an `mfa_token` survives; the next wrong one ends it.
pub const MFA_MAX_FAILURES: u32 = 5;

/// How many recovery codes an enrolment hands out.
pub const RECOVERY_CODES: usize = 10;

/// Declares an opaque text that only an adapter makes and reads.
macro_rules! opaque_text {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// Wraps what the adapter made (or stored).
            pub fn new(text: String) -> Self {
                Self(text)
            }

            /// The text, to store.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

opaque_text!(
    /// A TOTP secret sealed for storage (encrypted and authenticated with a
    /// key the store never sees): only the [`TwoFactor`](crate::ports::TwoFactor)
    /// port opens it.
    SealedSecret
);

opaque_text!(
    /// The digest of a recovery code: what is stored, never the code.
    RecoveryCodeHash
);

opaque_text!(
    /// The digest of an `mfa_token`: what is stored, never the token.
    MfaTokenHash
);

/// What starting a TOTP enrolment makes: the sealed secret to store, and
/// what the user sees once to set up an authenticator app.
#[derive(Debug)]
pub struct TotpEnrolment {
    /// To store.
    pub sealed: SealedSecret,
    /// The secret in base32, for typing into an app.
    pub secret: SecretString,
    /// The `otpauth://totp/...` URI, for a QR code.
    pub otpauth_uri: SecretString,
}

/// A user's stored TOTP state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpCredential {
    /// The sealed secret.
    pub sealed: SealedSecret,
    /// Confirmed with a first code: logins need a second factor. Until then
    /// the enrolment is pending and changes nothing.
    pub active: bool,
    /// The time step of the last code accepted: a code is accepted only for
    /// a later step, so none is accepted twice.
    pub last_step: Option<u64>,
}

/// A second login step waiting for its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaChallenge {
    /// Whose password was right.
    pub user_id: UserId,
    /// When the `mfa_token` dies.
    pub expires_at: OffsetDateTime,
    /// Wrong codes so far.
    pub failures: u32,
    /// Whether it completed a login already.
    pub used: bool,
}

impl MfaChallenge {
    /// Whether a code may still be tried with it at `now`.
    pub fn is_open(&self, now: OffsetDateTime) -> bool {
        !self.used && self.failures < MFA_MAX_FAILURES && now < self.expires_at
    }
}

/// What a right password leads to.
#[derive(Debug)]
pub enum LoginOutcome {
    /// Logged in.
    Tokens(crate::TokenPair),
    /// Two-factor login is active: `POST /login/mfa` with this token and a
    /// code completes the login. No session exists yet.
    SecondFactorRequired {
        /// Opaque, single use, for [`MFA_TOKEN_LIFETIME`] and at most
        /// [`MFA_MAX_FAILURES`] wrong codes; no other token.
        mfa_token: SecretString,
    },
}

impl LoginOutcome {
    /// The token pair, if the login is complete.
    pub fn into_tokens(self) -> Option<crate::TokenPair> {
        match self {
            Self::Tokens(pair) => Some(pair),
            Self::SecondFactorRequired { .. } => None,
        }
    }
}

/// Whether `code` is a second factor of `user`'s active `credential`: a
/// TOTP code of a step not used yet (which it then uses), or an unused
/// recovery code (which it spends, recording `spent`).
pub(crate) fn second_factor_holds(
    two_factor: &dyn TwoFactor,
    mfa: &dyn MfaRepository,
    (user, credential): (UserId, &TotpCredential),
    code: &str,
    spent: &SecurityEvent,
) -> Result<bool, DomainError> {
    let now = spent.at;
    let code = code.trim();
    let looks_like_totp = code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit());
    if looks_like_totp {
        return Ok(
            match two_factor.check(user, &credential.sealed, code, now)? {
                Some(step) => mfa.use_step(user, step)?,
                None => false,
            },
        );
    }
    let digest = two_factor.recovery_code_hash(code);
    let spent_one = mfa.use_recovery_code(user, &digest, now, spent)?;
    if spent_one {
        spent.log();
    }
    Ok(spent_one)
}
