//! The ports: what the domain needs from the outside world.
//!
//! All are synchronous, so they are easy to implement and to mock; callers in
//! async code run the services on a blocking thread. One call is the
//! exception: [`PostRepository::create`] returns a [`Pending`] write, which
//! the caller awaits where it is, so that the write that arrives in volume
//! keeps no thread waiting for the store. With the `mocks` feature (or in
//! this crate's tests) each trait `X` has a mockall mock `MockX`.

use std::pin::Pin;

use time::OffsetDateTime;

use secrecy::SecretString;

use crate::{
    Authorization, BoxError, Claims, ExternalIdentity, MfaChallenge, MfaTokenHash, NewPost,
    NewUser, Page, PageRequest, PasswordHash, PendingLogin, Post, PostChanges, PostId,
    ProviderName, RateDecision, RateLimit, RecordedEvent, RecoveryCodeHash, SealedSecret,
    SecurityEvent, Session, SessionId, TokenId, TotpCredential, TotpEnrolment, User,
    UserCredentials, UserId, Username, VerifiedIdentity,
};

/// How a repository call failed.
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    /// A uniqueness rule refused the write (a taken username).
    #[error("a unique constraint refused the write")]
    Conflict,
    /// The store cannot be reached now (pool timeout, lost connection).
    #[error("the store is unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else: a bug or a broken store.
    #[error("the store failed")]
    Internal(#[source] BoxError),
}

/// A write under way in the store: a future that completes once the write
/// is committed (or has failed), on any executor.
///
/// Making it MUST NOT block the caller (it may be an async worker): an
/// adapter hands the write to a thread of its own, or to its runtime's
/// blocking pool, and the future only waits for the answer. It is
/// `'static`, so it owns everything the write needs, and the write is made
/// whether or not the future is awaited.
pub type Pending<T> = Pin<Box<dyn Future<Output = Result<T, RepositoryError>> + Send + 'static>>;

/// Stored users.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait UserRepository: Send + Sync {
    /// Stores a new user and returns it with its new id, and records
    /// `event` as the new user's (whatever its `user_id`), in the same
    /// transaction: both are stored or neither.
    ///
    /// # Errors
    /// MUST return [`RepositoryError::Conflict`] when the username is taken;
    /// [`RepositoryError::Unavailable`] when the store cannot be reached.
    fn create(&self, user: &NewUser, event: &SecurityEvent) -> Result<User, RepositoryError>;

    /// The user with this exact username, with the password hash.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`]; an
    /// unknown username is `Ok(None)`.
    fn find_credentials(
        &self,
        username: &Username,
    ) -> Result<Option<UserCredentials>, RepositoryError>;

    /// The user with this id.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`]; an
    /// unknown id is `Ok(None)`.
    fn find(&self, id: UserId) -> Result<Option<User>, RepositoryError>;

    /// One page of users, oldest first.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn list(&self, page: PageRequest) -> Result<Page<User>, RepositoryError>;

    /// In one transaction: sets the password hash of `user`, revokes at
    /// `at` every session of the user but `keep` (so no login made with the
    /// old password survives it), and records `event`. Returns whether the
    /// user exists; when it does not, nothing is changed or recorded.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn change_password(
        &self,
        user: UserId,
        hash: &PasswordHash,
        keep: &SessionId,
        at: OffsetDateTime,
        event: &SecurityEvent,
    ) -> Result<bool, RepositoryError>;

    /// The user linked to this identity at a provider.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`]; an
    /// identity linked to no user is `Ok(None)`.
    fn find_by_identity(
        &self,
        identity: &ExternalIdentity,
    ) -> Result<Option<User>, RepositoryError>;

    /// Like [`create`](Self::create), and links `identity` to the new user
    /// in the same transaction: user, link and event are stored together or
    /// not at all.
    ///
    /// # Errors
    /// MUST return [`RepositoryError::Conflict`] when the username is taken
    /// or the identity is linked already (both can happen when two first
    /// logins race); [`RepositoryError::Unavailable`] when the store cannot
    /// be reached.
    fn create_linked(
        &self,
        user: &NewUser,
        identity: &ExternalIdentity,
        event: &SecurityEvent,
    ) -> Result<User, RepositoryError>;
}

/// Stored posts.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait PostRepository: Send + Sync {
    /// Stores a new post; the [`Pending`] write gives it back with its new
    /// id once it is committed. It returns at once, without blocking.
    ///
    /// # Errors
    /// The write fails with [`RepositoryError::Unavailable`] or
    /// [`RepositoryError::Internal`].
    fn create(&self, post: &NewPost) -> Pending<Post>;

    /// The post with this id.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`]; an
    /// unknown id is `Ok(None)`.
    fn find(&self, id: PostId) -> Result<Option<Post>, RepositoryError>;

    /// One page of posts, newest first, of one author if `author` is set.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn list(
        &self,
        author: Option<UserId>,
        page: PageRequest,
    ) -> Result<Page<Post>, RepositoryError>;

    /// Applies `changes` and sets `updated_at` to `at`, only where the post
    /// `id` exists AND belongs to `author` (one statement), and returns the
    /// post as stored; `Ok(None)` when no such post of that author exists.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn update(
        &self,
        id: PostId,
        author: UserId,
        changes: &PostChanges,
        at: OffsetDateTime,
    ) -> Result<Option<Post>, RepositoryError>;

    /// Deletes the post `id` only if it belongs to `author`; `Ok(false)`
    /// when no such post of that author exists.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn delete(&self, id: PostId, author: UserId) -> Result<bool, RepositoryError>;
}

/// Stored login sessions: the revocation state shared by every instance.
///
/// Each change records the [`SecurityEvent`] it is given in the same
/// transaction: the change and its event are stored together or not at all.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SessionRepository: Send + Sync {
    /// Stores a new session, and records `event`.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`]
    /// (including a foreign-key failure when the user is gone).
    fn create(&self, session: &Session, event: &SecurityEvent) -> Result<(), RepositoryError>;

    /// The session with this id, revoked or not.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`]; an
    /// unknown id is `Ok(None)`.
    fn find(&self, id: &SessionId) -> Result<Option<Session>, RepositoryError>;

    /// Compare-and-swap in one statement: sets the current refresh token id
    /// of session `id` from `current` to `next` (and its `last_used_at` to
    /// `now`), only while it is `current`, the session is not revoked and
    /// has not expired at `now`, and then records `event`. Returns whether it swapped: `false` means `current`
    /// was already used (or a concurrent refresh won), and nothing is
    /// recorded.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn rotate_refresh_token(
        &self,
        id: &SessionId,
        current: &TokenId,
        next: &TokenId,
        now: OffsetDateTime,
        event: &SecurityEvent,
    ) -> Result<bool, RepositoryError>;

    /// Marks the session revoked at `at`, if it is not already
    /// (idempotent), and records `event` either way.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn revoke(
        &self,
        id: &SessionId,
        at: OffsetDateTime,
        event: &SecurityEvent,
    ) -> Result<(), RepositoryError>;

    /// Revokes session `id` at `at` only if it belongs to `user` and is
    /// live (not revoked, not expired at `at`), and then records `event`.
    /// Returns whether it did; when not, nothing is recorded.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn revoke_of_user(
        &self,
        id: &SessionId,
        user: UserId,
        at: OffsetDateTime,
        event: &SecurityEvent,
    ) -> Result<bool, RepositoryError>;

    /// Revokes at `at` every session of `user` not yet revoked, and records
    /// `event`, in one transaction; returns how many it revoked.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn revoke_all_of_user(
        &self,
        user: UserId,
        at: OffsetDateTime,
        event: &SecurityEvent,
    ) -> Result<u64, RepositoryError>;

    /// One page of the live sessions of `user` at `now` (not revoked, not
    /// expired), newest first.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn list_live(
        &self,
        user: UserId,
        now: OffsetDateTime,
        page: PageRequest,
    ) -> Result<Page<Session>, RepositoryError>;

    /// Deletes every session whose expiry is at or before `now`; returns how many.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn delete_expired(&self, now: OffsetDateTime) -> Result<u64, RepositoryError>;
}

/// The audit trail: stored [`SecurityEvent`]s.
///
/// Events that go with a state change are recorded by the repository that
/// makes the change, in its transaction; this port records the others (a
/// failed login changes nothing) and reads them back.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SecurityEventRepository: Send + Sync {
    /// Records an event that goes with no state change.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`]
    /// (including a foreign-key failure when the user is gone).
    fn record(&self, event: &SecurityEvent) -> Result<(), RepositoryError>;

    /// One page of the events of `user`, newest first.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn list_for_user(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> Result<Page<RecordedEvent>, RepositoryError>;

    /// Deletes the events that happened before `before`; returns how many.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn delete_before(&self, before: OffsetDateTime) -> Result<u64, RepositoryError>;
}

/// Stored two-factor state: TOTP credentials, recovery codes, and the
/// pending second login steps. Changes that have an event record it in the
/// same transaction.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait MfaRepository: Send + Sync {
    /// The TOTP state of `user`, pending or active.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn totp(&self, user: UserId) -> Result<Option<TotpCredential>, RepositoryError>;

    /// Stores a pending enrolment of `user` with `sealed`, replacing a
    /// pending one; returns `false`, changing nothing, when one is active.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn start_enrolment(
        &self,
        user: UserId,
        sealed: &SealedSecret,
        at: OffsetDateTime,
    ) -> Result<bool, RepositoryError>;

    /// Activates the pending enrolment of `user`, with `step` as the last
    /// code used and `codes` as its recovery codes (replacing any), and
    /// records `event`, in one transaction; `false`, changing nothing, when
    /// no enrolment is pending.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn activate(
        &self,
        user: UserId,
        step: u64,
        codes: &[RecoveryCodeHash],
        event: &SecurityEvent,
    ) -> Result<bool, RepositoryError>;

    /// Deletes the active TOTP credential of `user` and its recovery codes
    /// and records `event`, in one transaction; `false`, changing nothing,
    /// when none is active.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn deactivate(&self, user: UserId, event: &SecurityEvent) -> Result<bool, RepositoryError>;

    /// Compare-and-swap: records `step` as the last used step of `user`'s
    /// active credential only if it is later than the last one. Returns
    /// whether it did: `false` means the code was used already (a replay,
    /// or a concurrent use that won).
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn use_step(&self, user: UserId, step: u64) -> Result<bool, RepositoryError>;

    /// Spends the unused recovery code of `user` with this digest at `at`
    /// and records `event`; `false`, recording nothing, when there is none.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn use_recovery_code(
        &self,
        user: UserId,
        code: &RecoveryCodeHash,
        at: OffsetDateTime,
        event: &SecurityEvent,
    ) -> Result<bool, RepositoryError>;

    /// Stores a second login step of `user`.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn create_challenge(
        &self,
        token: &MfaTokenHash,
        user: UserId,
        expires_at: OffsetDateTime,
    ) -> Result<(), RepositoryError>;

    /// The second login step of this token digest, open or not.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn challenge(&self, token: &MfaTokenHash) -> Result<Option<MfaChallenge>, RepositoryError>;

    /// Counts a wrong code against the step and records `event`.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn fail_challenge(
        &self,
        token: &MfaTokenHash,
        event: &SecurityEvent,
    ) -> Result<(), RepositoryError>;

    /// Compare-and-swap: marks the step used, only while it is
    /// [open](MfaChallenge::is_open) at `now`. Returns whether it did: a
    /// token completes one login at most.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn consume_challenge(
        &self,
        token: &MfaTokenHash,
        now: OffsetDateTime,
    ) -> Result<bool, RepositoryError>;

    /// Deletes the steps that expired at or before `now`; returns how many.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn delete_expired_challenges(&self, now: OffsetDateTime) -> Result<u64, RepositoryError>;
}

/// Logins sent to an identity provider, waiting for its callback: kept by
/// their `state`, shared by every instance of the service.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait PendingLoginRepository: Send + Sync {
    /// Stores `login` under `state`. An adapter may keep a digest of
    /// `state` only: it is never read back.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn create(&self, state: &str, login: &PendingLogin) -> Result<(), RepositoryError>;

    /// Removes the login stored under `state` and returns it, expired or
    /// not: each `state` is taken at most once, even by concurrent callers
    /// on several instances.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`]; an
    /// unknown `state` is `Ok(None)`.
    fn take(&self, state: &str) -> Result<Option<PendingLogin>, RepositoryError>;

    /// Deletes the logins that expired before `now`; returns how many.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn delete_expired(&self, now: OffsetDateTime) -> Result<u64, RepositoryError>;
}

/// How an [`IdentityProviders`] call failed.
#[derive(Debug, thiserror::Error)]
pub enum IdentityProviderError {
    /// No provider of that name is configured.
    #[error("no such identity provider")]
    UnknownProvider,
    /// The provider cannot be reached, or did not answer in time.
    #[error("the identity provider is unavailable")]
    Unavailable(#[source] BoxError),
    /// The provider's token endpoint refused the code (an OAuth 2.0 error
    /// response: a used, expired or foreign code, a wrong PKCE verifier).
    #[error("the identity provider refused the code")]
    CodeRefused(#[source] BoxError),
    /// The ID token failed a check: its signature by the provider's keys,
    /// `iss`, `aud`, `exp`, `nonce`, or its algorithm.
    #[error("the ID token failed verification")]
    InvalidIdToken(#[source] BoxError),
    /// Anything else: a bug, or a provider answering nonsense.
    #[error("the identity provider call failed")]
    Internal(#[source] BoxError),
}

/// The relying party of OpenID Connect providers: it builds the
/// authorization requests (code flow with PKCE S256, `state`, `nonce`)
/// and trades codes for verified identities. Calls to a provider are
/// bounded by a timeout.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait IdentityProviders: Send + Sync {
    /// The configured providers, in configuration order.
    fn names(&self) -> Vec<ProviderName>;

    /// A new authorization request to `provider`, with fresh random
    /// `state`, `nonce` and PKCE verifier.
    ///
    /// # Errors
    /// [`IdentityProviderError::UnknownProvider`]; `Unavailable` when the
    /// provider's discovery document cannot be had.
    fn authorization(
        &self,
        provider: &ProviderName,
    ) -> Result<Authorization, IdentityProviderError>;

    /// Trades `code` at `login`'s provider, with its PKCE verifier, and
    /// verifies the ID token against `login`'s nonce.
    ///
    /// # Errors
    /// [`IdentityProviderError::CodeRefused`],
    /// [`IdentityProviderError::InvalidIdToken`],
    /// [`IdentityProviderError::Unavailable`], or the others.
    fn identify(
        &self,
        code: &str,
        login: &PendingLogin,
    ) -> Result<VerifiedIdentity, IdentityProviderError>;
}

/// Why the [`TwoFactor`] port failed (a wrong code is not an error).
#[derive(Debug, thiserror::Error)]
#[error("the second factor failed")]
pub struct TwoFactorError(#[source] pub BoxError);

/// The cryptography of two-factor login: TOTP secrets (made, sealed,
/// opened, checked), recovery codes and `mfa_token`s (made, digested).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TwoFactor: Send + Sync {
    /// A new TOTP secret of `user` (named `account` in authenticator apps),
    /// sealed for storage and bound to `user`, so a sealed secret copied to
    /// another user's row does not open.
    ///
    /// # Errors
    /// [`TwoFactorError`] when sealing fails.
    fn enrol(&self, user: UserId, account: &Username) -> Result<TotpEnrolment, TwoFactorError>;

    /// The time step whose code `code` is, among the step of `now` and one
    /// each side (SHA-1, 6 digits, 30 s steps); `None` for a wrong code.
    ///
    /// # Errors
    /// [`TwoFactorError`] when `sealed` does not open for `user`.
    fn check(
        &self,
        user: UserId,
        sealed: &SealedSecret,
        code: &str,
        now: OffsetDateTime,
    ) -> Result<Option<u64>, TwoFactorError>;

    /// [`RECOVERY_CODES`](crate::RECOVERY_CODES) new random recovery codes,
    /// each with its digest.
    fn recovery_codes(&self) -> Vec<(SecretString, RecoveryCodeHash)>;

    /// The digest of a recovery code as typed (case, spaces and dashes do
    /// not matter).
    fn recovery_code_hash(&self, code: &str) -> RecoveryCodeHash;

    /// A new random `mfa_token`, with its digest.
    fn mfa_token(&self) -> (SecretString, MfaTokenHash);

    /// The digest of an `mfa_token`.
    fn mfa_token_hash(&self, token: &str) -> MfaTokenHash;
}

/// Error of a [`PasswordHasher`] (a mismatch is not an error).
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Too many hashes are waiting already: try again later. Hashing is
    /// slow on purpose, so implementations bound how much runs at once.
    #[error("password hashing is at capacity")]
    Busy,
    /// The hasher failed, or a stored hash is malformed.
    #[error("password hashing failed")]
    Failed(#[source] BoxError),
}

/// Slow, salted password hashing.
///
/// Implementations bound how many hashes run at once themselves (see
/// `blog_infra::HashingPool`), so no caller can forget to: a burst of
/// logins must leave CPU for everything else.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait PasswordHasher: Send + Sync {
    /// The longest password, in bytes, that this hasher reads whole (bcrypt
    /// ignores what is past its 72nd byte). Longer passwords are refused at
    /// registration and never match at login.
    fn max_password_bytes(&self) -> usize;

    /// Hashes a password that passed the policy.
    ///
    /// # Errors
    /// [`HashError::Busy`] when at capacity; [`HashError::Failed`] when the
    /// hasher fails.
    fn hash(&self, password: &str) -> Result<PasswordHash, HashError>;

    /// Whether `password` matches `hash`; a mismatch is `Ok(false)`.
    ///
    /// # Errors
    /// [`HashError::Busy`] when at capacity; [`HashError::Failed`] when
    /// `hash` is malformed or the hasher fails.
    fn verify(&self, password: &str, hash: &PasswordHash) -> Result<bool, HashError>;

    /// A valid hash of no user's password, made with the same cost as real
    /// ones: a login for an unknown username verifies against it, so that it
    /// takes as long as a wrong password and does not reveal which names exist.
    fn dummy_hash(&self) -> PasswordHash;
}

/// How a token was refused by a [`TokenCodec`].
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Well signed and well formed, but past its `exp`.
    #[error("token has expired")]
    Expired,
    /// Anything else: malformed, badly signed, wrong algorithm, a claim
    /// missing or of the wrong type, not yet valid.
    #[error("token is invalid")]
    Invalid,
    /// Encoding failed (a bug or a broken key).
    #[error("token encoding failed")]
    Internal(#[source] BoxError),
}

/// Signs and verifies tokens.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TokenCodec: Send + Sync {
    /// Encodes and signs `claims`.
    ///
    /// # Errors
    /// [`TokenError::Internal`] only.
    fn encode(&self, claims: &Claims) -> Result<String, TokenError>;

    /// Verifies the signature with the pinned algorithm, and the time
    /// claims against `now` (the service's [`Clock`], so that one clock
    /// judges tokens and sessions alike), and returns the claims. Does not
    /// look at `type`: callers do.
    ///
    /// # Errors
    /// MUST return [`TokenError::Expired`] only for a token whose signature
    /// is valid and whose `exp` is past at `now`; [`TokenError::Invalid`]
    /// for every other refusal, including a token not yet valid at `now`.
    fn decode(&self, token: &str, now: OffsetDateTime) -> Result<Claims, TokenError>;
}

/// The time.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now, in UTC, truncated to whole seconds (the precision of token claims).
    fn now(&self) -> OffsetDateTime;
}

/// A source of unpredictable ids.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait IdGenerator: Send + Sync {
    /// A new session id from a cryptographically secure source.
    fn session_id(&self) -> SessionId;
    /// A new token id from a cryptographically secure source.
    fn token_id(&self) -> TokenId;
}

/// Fixed-window counters, shared by every instance of the service.
///
/// A window of a key starts at its first event after the previous window
/// ended, and lasts `limit.window`; an event is over the limit when more
/// than `limit.max` events fell in the current window.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait RateLimiter: Send + Sync {
    /// Counts one event of `key` at `now`, atomically (two instances
    /// counting at once never both see the same count), and says whether
    /// it is over the limit and until when.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn hit(
        &self,
        key: &str,
        limit: RateLimit,
        now: OffsetDateTime,
    ) -> Result<RateDecision, RepositoryError>;

    /// Whether `key` has had `limit.max` events in its current window
    /// already (so the next one would be over), counting nothing.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn peek(
        &self,
        key: &str,
        limit: RateLimit,
        now: OffsetDateTime,
    ) -> Result<RateDecision, RepositoryError>;

    /// Deletes the windows that started before `before` (the caller passes
    /// now less the longest window, so only ended ones go); returns how many.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Internal`].
    fn delete_started_before(&self, before: OffsetDateTime) -> Result<u64, RepositoryError>;
}
