#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod error;
mod event;
mod id;
mod identity;
mod limits;
mod mfa;
mod page;
pub mod ports;
mod post;
mod purge;
mod session;
mod sessions;
mod token;
mod user;
mod users;

pub use error::{
    AuthError, BoxError, CallbackRefusal, DomainError, ForbiddenAction, PasswordRule, Resource,
    ValidationError,
};
pub use event::{
    Client, EventId, RecordedEvent, SecurityEvent, SecurityEventKind, UnknownEventKind, UserAgent,
};
pub use id::{PostId, SessionId, TokenId, UserId};
pub use identity::{
    Authorization, Callback, ExternalIdentity, ExternalProfile, PENDING_LOGIN_LIFETIME,
    PendingLogin, ProviderName, Subject, VerifiedIdentity,
};
pub use limits::{RateDecision, RateLimit, RateLimits};
pub use mfa::{
    LoginOutcome, MFA_MAX_FAILURES, MFA_TOKEN_LIFETIME, MfaChallenge, MfaTokenHash, RECOVERY_CODES,
    RecoveryCodeHash, SealedSecret, TotpCredential, TotpEnrolment,
};
pub use page::{Page, PageRequest};
pub use post::{NewPost, Post, PostChanges, PostContent, PostService, PostTitle};
pub use purge::{Purge, PurgeReport};
pub use session::Session;
pub use sessions::{SessionPorts, SessionService, TokenLifetimes};
pub use token::{Claims, Principal, TokenKind, TokenPair, VerifiedAccess};
pub use user::{LoginAttempt, NewUser, Password, PasswordHash, User, UserCredentials, Username};
pub use users::{UserPorts, UserService};

// The foreign crates of public signatures, so that a reuser needs no
// version-matched dependency of their own.
#[cfg(feature = "mocks")]
pub use mockall;
pub use secrecy;
pub use time;

/// The `tracing` target of security events, for filtering and alerts.
/// Each has an `event` field with a stable name: a [`SecurityEventKind`]'s.
pub const AUTH_EVENTS: &str = "blog::auth";

#[cfg(test)]
mod test_support;
#[cfg(feature = "testing")]
pub mod testing;
