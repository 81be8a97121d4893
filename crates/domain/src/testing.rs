//! A kit for adapter authors and for tests (the `testing` feature):
//! in-memory adapters for every port, and a conformance suite per
//! repository port that checks the rules the port's docs promise.
//!
//! The crate's front page shows the services wired on these adapters.
//!
//! An adapter of a repository port runs its conformance suite on a fresh,
//! empty store per check (see [`session_repository_contract`]).

use std::collections::{BTreeMap, HashMap};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use secrecy::SecretString;

use crate::ports::{
    Clock, HashError, IdGenerator, MfaRepository, PasswordHasher, Pending, PendingLoginRepository,
    PostRepository, RateLimiter, RepositoryError, SecurityEventRepository, SessionRepository,
    TokenCodec, TokenError, TwoFactor, TwoFactorError, UserRepository,
};
use crate::{
    Claims, Client, EventId, ExternalIdentity, MfaChallenge, MfaTokenHash, NewPost, NewUser, Page,
    PageRequest, PasswordHash, PendingLogin, Post, PostChanges, PostContent, PostId, PostTitle,
    ProviderName, RateDecision, RateLimit, RecordedEvent, RecoveryCodeHash, SealedSecret,
    SecurityEvent, SecurityEventKind, Session, SessionId, Subject, TokenId, TotpCredential,
    TotpEnrolment, User, UserAgent, UserCredentials, UserId, Username,
};

/// The time the in-memory adapters and the suites start from.
pub const EPOCH: OffsetDateTime = datetime!(2026-11-28 10:00:00 UTC);

/// Runs `future` to its end on this thread, parking it while the future
/// waits: enough to await a [`Pending`] write in a test or a suite.
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        // A wake before the park makes the park return at once.
        thread::park();
    }
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread leaves consistent data behind: go on with it.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn page_of<T: Clone>(items: &[T], page: PageRequest) -> Page<T> {
    let offset = usize::try_from(page.offset()).unwrap_or(usize::MAX);
    let per_page = usize::try_from(page.per_page()).unwrap_or(usize::MAX);
    Page {
        items: items.iter().skip(offset).take(per_page).cloned().collect(),
        total: u64::try_from(items.len()).unwrap_or(u64::MAX),
        request: page,
    }
}

/// Users, posts, sessions and security events in memory, with a database's
/// rules: unique usernames, posts, sessions and events only of existing
/// users, author-scoped writes, compare-and-swap rotation, a change and its
/// event stored together or not at all. It implements the four repository
/// ports, so one `Arc<InMemoryStore>` serves as each.
#[derive(Debug, Default)]
pub struct InMemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// In id order: id `n` is at `n - 1`.
    users: Vec<UserCredentials>,
    posts: BTreeMap<i64, Post>,
    next_post_id: i64,
    sessions: HashMap<SessionId, Session>,
    /// Oldest first.
    events: Vec<RecordedEvent>,
    next_event_id: i64,
    totp: HashMap<UserId, TotpCredential>,
    /// Digest, then whether it was used.
    recovery_codes: HashMap<UserId, Vec<(RecoveryCodeHash, bool)>>,
    challenges: HashMap<MfaTokenHash, MfaChallenge>,
    identities: HashMap<ExternalIdentity, UserId>,
    pending_logins: HashMap<String, PendingLogin>,
}

impl State {
    fn has_user(&self, id: UserId) -> bool {
        self.users.iter().any(|stored| stored.user.id == id)
    }

    /// Checks what a foreign key would: call before changing anything, so
    /// that a refused event leaves the change undone.
    fn check_event(&self, event: &SecurityEvent) -> Result<(), RepositoryError> {
        match event.user_id {
            Some(user) if !self.has_user(user) => Err(missing_user()),
            _ => Ok(()),
        }
    }

    fn push_event(&mut self, event: &SecurityEvent) -> Result<(), RepositoryError> {
        self.next_event_id += 1;
        let id = EventId::new(self.next_event_id)
            .map_err(|error| RepositoryError::Internal(Box::new(error)))?;
        self.events.push(RecordedEvent {
            id,
            event: event.clone(),
        });
        Ok(())
    }
}

fn missing_user() -> RepositoryError {
    RepositoryError::Internal("foreign key: no such user".into())
}

impl State {
    fn insert_user(
        &mut self,
        user: &NewUser,
        event: &SecurityEvent,
    ) -> Result<User, RepositoryError> {
        if self
            .users
            .iter()
            .any(|stored| stored.user.username == user.username)
        {
            return Err(RepositoryError::Conflict);
        }
        let id = i64::try_from(self.users.len() + 1)
            .map_err(|error| RepositoryError::Internal(Box::new(error)))?;
        let created = User {
            id: UserId::new(id).map_err(|error| RepositoryError::Internal(Box::new(error)))?,
            username: user.username.clone(),
            created_at: user.created_at,
        };
        self.users.push(UserCredentials {
            user: created.clone(),
            password_hash: user.password_hash.clone(),
        });
        self.push_event(&SecurityEvent {
            user_id: Some(created.id),
            ..event.clone()
        })?;
        Ok(created)
    }
}

impl UserRepository for InMemoryStore {
    fn create(&self, user: &NewUser, event: &SecurityEvent) -> Result<User, RepositoryError> {
        locked(&self.state).insert_user(user, event)
    }

    fn find_by_identity(
        &self,
        identity: &ExternalIdentity,
    ) -> Result<Option<User>, RepositoryError> {
        let state = locked(&self.state);
        Ok(state.identities.get(identity).and_then(|id| {
            state
                .users
                .iter()
                .find(|stored| stored.user.id == *id)
                .map(|stored| stored.user.clone())
        }))
    }

    fn create_linked(
        &self,
        user: &NewUser,
        identity: &ExternalIdentity,
        event: &SecurityEvent,
    ) -> Result<User, RepositoryError> {
        let mut state = locked(&self.state);
        if state.identities.contains_key(identity) {
            return Err(RepositoryError::Conflict);
        }
        let created = state.insert_user(user, event)?;
        state.identities.insert(identity.clone(), created.id);
        Ok(created)
    }

    fn find_credentials(
        &self,
        username: &Username,
    ) -> Result<Option<UserCredentials>, RepositoryError> {
        Ok(locked(&self.state)
            .users
            .iter()
            .find(|stored| &stored.user.username == username)
            .cloned())
    }

    fn find(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        Ok(locked(&self.state)
            .users
            .iter()
            .find(|stored| stored.user.id == id)
            .map(|stored| stored.user.clone()))
    }

    fn list(&self, page: PageRequest) -> Result<Page<User>, RepositoryError> {
        let users: Vec<User> = locked(&self.state)
            .users
            .iter()
            .map(|stored| stored.user.clone())
            .collect();
        Ok(page_of(&users, page))
    }

    fn change_password(
        &self,
        user: UserId,
        hash: &PasswordHash,
        keep: &SessionId,
        at: OffsetDateTime,
        event: &SecurityEvent,
    ) -> Result<bool, RepositoryError> {
        let mut state = locked(&self.state);
        state.check_event(event)?;
        let Some(stored) = state.users.iter_mut().find(|stored| stored.user.id == user) else {
            return Ok(false);
        };
        stored.password_hash = Some(hash.clone());
        for session in state.sessions.values_mut() {
            if session.user_id == user && &session.id != keep {
                session.revoked_at.get_or_insert(at);
            }
        }
        state.push_event(event)?;
        Ok(true)
    }
}

impl PendingLoginRepository for InMemoryStore {
    fn create(&self, state: &str, login: &PendingLogin) -> Result<(), RepositoryError> {
        locked(&self.state)
            .pending_logins
            .insert(state.to_owned(), login.clone());
        Ok(())
    }

    fn take(&self, state: &str) -> Result<Option<PendingLogin>, RepositoryError> {
        Ok(locked(&self.state).pending_logins.remove(state))
    }

    fn delete_expired(&self, now: OffsetDateTime) -> Result<u64, RepositoryError> {
        let mut state = locked(&self.state);
        let before = state.pending_logins.len();
        state
            .pending_logins
            .retain(|_, login| login.expires_at >= now);
        Ok(u64::try_from(before - state.pending_logins.len()).unwrap_or(u64::MAX))
    }
}

impl InMemoryStore {
    fn store_post(&self, post: &NewPost) -> Result<Post, RepositoryError> {
        let mut state = locked(&self.state);
        if !state.has_user(post.author_id) {
            return Err(missing_user());
        }
        state.next_post_id += 1;
        let id = PostId::new(state.next_post_id)
            .map_err(|error| RepositoryError::Internal(Box::new(error)))?;
        let created = Post {
            id,
            title: post.title.clone(),
            content: post.content.clone(),
            author_id: post.author_id,
            created_at: post.created_at,
            updated_at: post.created_at,
        };
        state.posts.insert(id.get(), created.clone());
        Ok(created)
    }
}

impl PostRepository for InMemoryStore {
    fn create(&self, post: &NewPost) -> Pending<Post> {
        Box::pin(std::future::ready(self.store_post(post)))
    }

    fn find(&self, id: PostId) -> Result<Option<Post>, RepositoryError> {
        Ok(locked(&self.state).posts.get(&id.get()).cloned())
    }

    fn list(
        &self,
        author: Option<UserId>,
        page: PageRequest,
    ) -> Result<Page<Post>, RepositoryError> {
        let posts: Vec<Post> = locked(&self.state)
            .posts
            .values()
            .rev()
            .filter(|post| author.is_none_or(|author| post.author_id == author))
            .cloned()
            .collect();
        Ok(page_of(&posts, page))
    }

    fn update(
        &self,
        id: PostId,
        author: UserId,
        changes: &PostChanges,
        at: OffsetDateTime,
    ) -> Result<Option<Post>, RepositoryError> {
        let mut state = locked(&self.state);
        let Some(post) = state
            .posts
            .get_mut(&id.get())
            .filter(|post| post.author_id == author)
        else {
            return Ok(None);
        };
        if let Some(title) = &changes.title {
            post.title = title.clone();
        }
        if let Some(content) = &changes.content {
            post.content = content.clone();
        }
        post.updated_at = at;
        Ok(Some(post.clone()))
    }

    fn delete(&self, id: PostId, author: UserId) -> Result<bool, RepositoryError> {
        let mut state = locked(&self.state);
        let owned = state
            .posts
            .get(&id.get())
            .is_some_and(|post| post.author_id == author);
        if owned {
            state.posts.remove(&id.get());
        }
        Ok(owned)
    }
}

impl SessionRepository for InMemoryStore {
    fn create(&self, session: &Session, event: &SecurityEvent) -> Result<(), RepositoryError> {
        let mut state = locked(&self.state);
        if !state.has_user(session.user_id) {
            return Err(missing_user());
        }
        if state.sessions.contains_key(&session.id) {
            return Err(RepositoryError::Conflict);
        }
        state.check_event(event)?;
        state.sessions.insert(session.id.clone(), session.clone());
        state.push_event(event)
    }

    fn find(&self, id: &SessionId) -> Result<Option<Session>, RepositoryError> {
        Ok(locked(&self.state).sessions.get(id).cloned())
    }

    fn rotate_refresh_token(
        &self,
        id: &SessionId,
        current: &TokenId,
        next: &TokenId,
        now: OffsetDateTime,
        event: &SecurityEvent,
    ) -> Result<bool, RepositoryError> {
        let mut state = locked(&self.state);
        state.check_event(event)?;
        let Some(session) = state.sessions.get_mut(id).filter(|session| {
            &session.refresh_token_id == current
                && session.revoked_at.is_none()
                && session.expires_at > now
        }) else {
            return Ok(false);
        };
        session.refresh_token_id = next.clone();
        session.last_used_at = now;
        state.push_event(event)?;
        Ok(true)
    }

    fn revoke(
        &self,
        id: &SessionId,
        at: OffsetDateTime,
        event: &SecurityEvent,
    ) -> Result<(), RepositoryError> {
        let mut state = locked(&self.state);
        state.check_event(event)?;
        if let Some(session) = state.sessions.get_mut(id) {
            session.revoked_at.get_or_insert(at);
        }
        state.push_event(event)
    }

    fn revoke_of_user(
        &self,
        id: &SessionId,
        user: UserId,
        at: OffsetDateTime,
        event: &SecurityEvent,
    ) -> Result<bool, RepositoryError> {
        let mut state = locked(&self.state);
        state.check_event(event)?;
        let Some(session) = state.sessions.get_mut(id).filter(|session| {
            session.user_id == user && session.revoked_at.is_none() && session.expires_at > at
        }) else {
            return Ok(false);
        };
        session.revoked_at = Some(at);
        state.push_event(event)?;
        Ok(true)
    }

    fn revoke_all_of_user(
        &self,
        user: UserId,
        at: OffsetDateTime,
        event: &SecurityEvent,
    ) -> Result<u64, RepositoryError> {
        let mut state = locked(&self.state);
        state.check_event(event)?;
        let mut revoked = 0;
        for session in state.sessions.values_mut() {
            if session.user_id == user && session.revoked_at.is_none() {
                session.revoked_at = Some(at);
                revoked += 1;
            }
        }
        state.push_event(event)?;
        Ok(revoked)
    }

    fn list_live(
        &self,
        user: UserId,
        now: OffsetDateTime,
        page: PageRequest,
    ) -> Result<Page<Session>, RepositoryError> {
        let mut live: Vec<Session> = locked(&self.state)
            .sessions
            .values()
            .filter(|s| s.user_id == user && s.revoked_at.is_none() && s.expires_at > now)
            .cloned()
            .collect();
        live.sort_by(|a, b| (b.created_at, &b.id.as_str()).cmp(&(a.created_at, &a.id.as_str())));
        Ok(page_of(&live, page))
    }

    fn delete_expired(&self, now: OffsetDateTime) -> Result<u64, RepositoryError> {
        let mut state = locked(&self.state);
        let before = state.sessions.len();
        state.sessions.retain(|_, session| session.expires_at > now);
        Ok(u64::try_from(before - state.sessions.len()).unwrap_or(u64::MAX))
    }
}

impl SecurityEventRepository for InMemoryStore {
    fn record(&self, event: &SecurityEvent) -> Result<(), RepositoryError> {
        let mut state = locked(&self.state);
        state.check_event(event)?;
        state.push_event(event)
    }

    fn list_for_user(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> Result<Page<RecordedEvent>, RepositoryError> {
        let events: Vec<RecordedEvent> = locked(&self.state)
            .events
            .iter()
            .rev()
            .filter(|recorded| recorded.event.user_id == Some(user))
            .cloned()
            .collect();
        Ok(page_of(&events, page))
    }

    fn delete_before(&self, before: OffsetDateTime) -> Result<u64, RepositoryError> {
        let mut state = locked(&self.state);
        let count = state.events.len();
        state.events.retain(|recorded| recorded.event.at >= before);
        Ok(u64::try_from(count - state.events.len()).unwrap_or(u64::MAX))
    }
}

impl MfaRepository for InMemoryStore {
    fn totp(&self, user: UserId) -> Result<Option<TotpCredential>, RepositoryError> {
        Ok(locked(&self.state).totp.get(&user).cloned())
    }

    fn start_enrolment(
        &self,
        user: UserId,
        sealed: &SealedSecret,
        _at: OffsetDateTime,
    ) -> Result<bool, RepositoryError> {
        let mut state = locked(&self.state);
        if !state.has_user(user) {
            return Err(missing_user());
        }
        if state.totp.get(&user).is_some_and(|c| c.active) {
            return Ok(false);
        }
        let pending = TotpCredential {
            sealed: sealed.clone(),
            active: false,
            last_step: None,
        };
        state.totp.insert(user, pending);
        Ok(true)
    }

    fn activate(
        &self,
        user: UserId,
        step: u64,
        codes: &[RecoveryCodeHash],
        event: &SecurityEvent,
    ) -> Result<bool, RepositoryError> {
        let mut state = locked(&self.state);
        state.check_event(event)?;
        let Some(credential) = state.totp.get_mut(&user).filter(|c| !c.active) else {
            return Ok(false);
        };
        credential.active = true;
        credential.last_step = Some(step);
        let codes = codes.iter().map(|code| (code.clone(), false)).collect();
        state.recovery_codes.insert(user, codes);
        state.push_event(event)?;
        Ok(true)
    }

    fn deactivate(&self, user: UserId, event: &SecurityEvent) -> Result<bool, RepositoryError> {
        let mut state = locked(&self.state);
        state.check_event(event)?;
        if !state.totp.get(&user).is_some_and(|c| c.active) {
            return Ok(false);
        }
        state.totp.remove(&user);
        state.recovery_codes.remove(&user);
        state.push_event(event)?;
        Ok(true)
    }

    fn use_step(&self, user: UserId, step: u64) -> Result<bool, RepositoryError> {
        let mut state = locked(&self.state);
        let Some(credential) = state
            .totp
            .get_mut(&user)
            .filter(|c| c.active && c.last_step.is_none_or(|last| last < step))
        else {
            return Ok(false);
        };
        credential.last_step = Some(step);
        Ok(true)
    }

    fn use_recovery_code(
        &self,
        user: UserId,
        code: &RecoveryCodeHash,
        _at: OffsetDateTime,
        event: &SecurityEvent,
    ) -> Result<bool, RepositoryError> {
        let mut state = locked(&self.state);
        state.check_event(event)?;
        let unused = state
            .recovery_codes
            .get_mut(&user)
            .and_then(|codes| codes.iter_mut().find(|(hash, used)| hash == code && !used));
        let Some((_, used)) = unused else {
            return Ok(false);
        };
        *used = true;
        state.push_event(event)?;
        Ok(true)
    }

    fn create_challenge(
        &self,
        token: &MfaTokenHash,
        user: UserId,
        expires_at: OffsetDateTime,
    ) -> Result<(), RepositoryError> {
        let mut state = locked(&self.state);
        if !state.has_user(user) {
            return Err(missing_user());
        }
        let challenge = MfaChallenge {
            user_id: user,
            expires_at,
            failures: 0,
            used: false,
        };
        state.challenges.insert(token.clone(), challenge);
        Ok(())
    }

    fn challenge(&self, token: &MfaTokenHash) -> Result<Option<MfaChallenge>, RepositoryError> {
        Ok(locked(&self.state).challenges.get(token).cloned())
    }

    fn fail_challenge(
        &self,
        token: &MfaTokenHash,
        event: &SecurityEvent,
    ) -> Result<(), RepositoryError> {
        let mut state = locked(&self.state);
        state.check_event(event)?;
        if let Some(challenge) = state.challenges.get_mut(token) {
            challenge.failures = challenge.failures.saturating_add(1);
        }
        state.push_event(event)
    }

    fn consume_challenge(
        &self,
        token: &MfaTokenHash,
        now: OffsetDateTime,
    ) -> Result<bool, RepositoryError> {
        let mut state = locked(&self.state);
        let Some(challenge) = state.challenges.get_mut(token).filter(|c| c.is_open(now)) else {
            return Ok(false);
        };
        challenge.used = true;
        Ok(true)
    }

    fn delete_expired_challenges(&self, now: OffsetDateTime) -> Result<u64, RepositoryError> {
        let mut state = locked(&self.state);
        let count = state.challenges.len();
        state
            .challenges
            .retain(|_, challenge| challenge.expires_at > now);
        Ok(u64::try_from(count - state.challenges.len()).unwrap_or(u64::MAX))
    }
}

/// A [`TwoFactor`] for tests: secrets are sealed in the clear (`user:n`),
/// a step's code is a fixed function of the secret and the step (see
/// [`FakeTwoFactor::code`]), and codes and tokens count up. It checks the
/// step of `now` and one each side, like the real one.
#[derive(Debug, Default)]
pub struct FakeTwoFactor {
    made: AtomicU64,
}

impl FakeTwoFactor {
    fn next(&self) -> u64 {
        self.made.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The code of the secret `sealed` for the 30-second step of `at`.
    pub fn code(sealed: &SealedSecret, at: OffsetDateTime) -> String {
        let seed: u64 = sealed.as_str().bytes().fold(7, |seed, b| {
            seed.wrapping_mul(31).wrapping_add(u64::from(b))
        });
        let step = u64::try_from(at.unix_timestamp() / 30).unwrap_or(0);
        format!(
            "{:06}",
            seed.wrapping_add(step.wrapping_mul(7919)) % 1_000_000
        )
    }
}

impl TwoFactor for FakeTwoFactor {
    fn enrol(&self, user: UserId, account: &Username) -> Result<TotpEnrolment, TwoFactorError> {
        let sealed = SealedSecret::new(format!("{user}:{}", self.next()));
        Ok(TotpEnrolment {
            secret: SecretString::from(sealed.as_str().to_owned()),
            otpauth_uri: SecretString::from(format!("otpauth://totp/blog:{}", account.as_str())),
            sealed,
        })
    }

    fn check(
        &self,
        user: UserId,
        sealed: &SealedSecret,
        code: &str,
        now: OffsetDateTime,
    ) -> Result<Option<u64>, TwoFactorError> {
        if !sealed.as_str().starts_with(&format!("{user}:")) {
            return Err(TwoFactorError("sealed for another user".into()));
        }
        let step = now.unix_timestamp() / 30;
        Ok((step - 1..=step + 1)
            .find(|s| {
                Self::code(
                    sealed,
                    OffsetDateTime::UNIX_EPOCH + Duration::seconds(s * 30),
                ) == code
            })
            .and_then(|s| u64::try_from(s).ok()))
    }

    fn recovery_codes(&self) -> Vec<(SecretString, RecoveryCodeHash)> {
        (0..crate::RECOVERY_CODES)
            .map(|_| {
                let code = format!("recovery-{}", self.next());
                let digest = self.recovery_code_hash(&code);
                (SecretString::from(code), digest)
            })
            .collect()
    }

    fn recovery_code_hash(&self, code: &str) -> RecoveryCodeHash {
        RecoveryCodeHash::new(format!("digest-of-{}", code.trim().to_lowercase()))
    }

    fn mfa_token(&self) -> (SecretString, MfaTokenHash) {
        let token = format!("mfa-{}", self.next());
        let digest = self.mfa_token_hash(&token);
        (SecretString::from(token), digest)
    }

    fn mfa_token_hash(&self, token: &str) -> MfaTokenHash {
        MfaTokenHash::new(format!("digest-of-{token}"))
    }
}

/// A [`PasswordHasher`] that stores passwords as `plain$<password>`: fast
/// and transparent, for tests only. It reads 72 bytes, like bcrypt.
#[derive(Debug, Default, Clone, Copy)]
pub struct PlainHasher;

const PLAIN_PREFIX: &str = "plain$";
const PLAIN_DUMMY: &str = "plain-dummy";

impl PasswordHasher for PlainHasher {
    fn max_password_bytes(&self) -> usize {
        72
    }

    fn hash(&self, password: &str) -> Result<PasswordHash, HashError> {
        Ok(PasswordHash::new(format!("{PLAIN_PREFIX}{password}")))
    }

    fn verify(&self, password: &str, hash: &PasswordHash) -> Result<bool, HashError> {
        if hash.as_str() == PLAIN_DUMMY {
            return Ok(false);
        }
        hash.as_str()
            .strip_prefix(PLAIN_PREFIX)
            .map(|stored| stored == password)
            .ok_or_else(|| HashError::Failed("not a plain$ hash".into()))
    }

    fn dummy_hash(&self) -> PasswordHash {
        PasswordHash::new(PLAIN_DUMMY.into())
    }
}

/// A [`Clock`] that moves only when told to; it starts at [`EPOCH`].
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<OffsetDateTime>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::at(EPOCH)
    }
}

impl ManualClock {
    /// A clock showing `now` (kept to whole seconds, as the port asks).
    pub fn at(now: OffsetDateTime) -> Self {
        Self {
            now: Mutex::new(now.replace_nanosecond(0).unwrap_or(now)),
        }
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        *locked(&self.now) += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *locked(&self.now)
    }
}

/// An [`IdGenerator`] counting up: distinct and predictable ids.
#[derive(Debug, Default)]
pub struct SequentialIds {
    next: AtomicU64,
}

impl SequentialIds {
    fn bytes(&self) -> [u8; 16] {
        let n = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        u128::from(n).to_be_bytes()
    }
}

impl IdGenerator for SequentialIds {
    fn session_id(&self) -> SessionId {
        SessionId::from_bytes(self.bytes())
    }

    fn token_id(&self) -> TokenId {
        TokenId::from_bytes(self.bytes())
    }
}

/// A [`TokenCodec`] that keeps the claims in memory and hands out opaque
/// `token-N` strings; expiry is judged by the time passed to `decode`.
#[derive(Debug, Default)]
pub struct InMemoryTokens {
    issued: Mutex<HashMap<String, Claims>>,
}

impl TokenCodec for InMemoryTokens {
    fn encode(&self, claims: &Claims) -> Result<String, TokenError> {
        let mut issued = locked(&self.issued);
        let token = format!("token-{}", issued.len() + 1);
        issued.insert(token.clone(), claims.clone());
        Ok(token)
    }

    fn decode(&self, token: &str, now: OffsetDateTime) -> Result<Claims, TokenError> {
        let claims = locked(&self.issued)
            .get(token)
            .cloned()
            .ok_or(TokenError::Invalid)?;
        if claims.issued_at > now {
            Err(TokenError::Invalid)
        } else if claims.expires_at <= now {
            Err(TokenError::Expired)
        } else {
            Ok(claims)
        }
    }
}

/// A [`RateLimiter`] in memory: the windows of one process.
#[derive(Debug, Default)]
pub struct InMemoryRateLimiter {
    /// Start and hits of each key's current window.
    windows: Mutex<HashMap<String, (OffsetDateTime, u32)>>,
}

fn decision(
    start: OffsetDateTime,
    over: bool,
    limit: RateLimit,
    now: OffsetDateTime,
) -> RateDecision {
    if over {
        RateDecision::Limited {
            retry_after: start + limit.window - now,
        }
    } else {
        RateDecision::Allowed
    }
}

impl RateLimiter for InMemoryRateLimiter {
    fn hit(
        &self,
        key: &str,
        limit: RateLimit,
        now: OffsetDateTime,
    ) -> Result<RateDecision, RepositoryError> {
        let mut windows = locked(&self.windows);
        let window = windows.entry(key.to_owned()).or_insert((now, 0));
        if window.0 + limit.window <= now {
            *window = (now, 0);
        }
        window.1 = window.1.saturating_add(1);
        Ok(decision(window.0, window.1 > limit.max, limit, now))
    }

    fn peek(
        &self,
        key: &str,
        limit: RateLimit,
        now: OffsetDateTime,
    ) -> Result<RateDecision, RepositoryError> {
        Ok(match locked(&self.windows).get(key) {
            Some(&(start, hits)) if start + limit.window > now => {
                decision(start, hits >= limit.max, limit, now)
            }
            _ => RateDecision::Allowed,
        })
    }

    fn delete_started_before(&self, before: OffsetDateTime) -> Result<u64, RepositoryError> {
        let mut windows = locked(&self.windows);
        let count = windows.len();
        windows.retain(|_, (start, _)| *start >= before);
        Ok(u64::try_from(count - windows.len()).unwrap_or(u64::MAX))
    }
}

// ---------------------------------------------------------------------------
// Conformance suites.

fn username(name: &str) -> Username {
    Username::parse(name).unwrap_or_else(|error| panic!("{name}: {error}"))
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: username(name),
        password_hash: Some(PasswordHash::new(format!("hash-of-{name}"))),
        created_at: EPOCH,
    }
}

fn store_user(users: &dyn UserRepository, name: &str) -> User {
    users
        .create(
            &new_user(name),
            &event_of(SecurityEventKind::Registered, None),
        )
        .unwrap_or_else(|error| panic!("creating user {name}: {error}"))
}

/// An event at [`EPOCH`] from a fixed client.
fn event_of(kind: SecurityEventKind, user_id: Option<UserId>) -> SecurityEvent {
    SecurityEvent {
        kind,
        user_id,
        session_id: None,
        client: Client {
            address: Some(std::net::IpAddr::from([203, 0, 113, 7])),
            user_agent: UserAgent::new("contract/1.0"),
        },
        provider: None,
        at: EPOCH,
    }
}

/// The kinds of `user`'s first 100 events, newest first.
fn kinds_of(events: &dyn SecurityEventRepository, user: &User) -> Vec<SecurityEventKind> {
    events
        .list_for_user(user.id, page(1, 100))
        .unwrap_or_else(|error| panic!("listing events: {error}"))
        .items
        .into_iter()
        .map(|recorded| recorded.event.kind)
        .collect()
}

fn page(number: u32, per_page: u32) -> PageRequest {
    PageRequest::new(Some(number), Some(per_page)).unwrap_or_default()
}

/// Checks the rules of [`UserRepository`]: a created user reads back by id
/// and by exact (case-sensitive) name, with its hash, and its event is
/// recorded as the new user's; a taken username is
/// [`RepositoryError::Conflict`] and records nothing; unknown ids and names
/// are `None`; the list is oldest first, in pages, with the total.
///
/// `make` returns a fresh, empty repository, the event repository of the
/// same store, and anything that must live as long as they do (a temporary
/// database); it is called once per check.
///
/// # Panics
/// When the repository breaks a rule: the message names it.
pub fn user_repository_contract<G>(
    make: impl Fn() -> (Arc<dyn UserRepository>, Arc<dyn SecurityEventRepository>, G),
) {
    {
        let (users, events, _guard) = make();
        let alice = store_user(users.as_ref(), "alice");
        let recorded = events
            .list_for_user(alice.id, page(1, 10))
            .unwrap_or_else(|error| panic!("{error}"))
            .items;
        assert_eq!(
            recorded.into_iter().map(|r| r.event).collect::<Vec<_>>(),
            vec![event_of(SecurityEventKind::Registered, Some(alice.id))],
            "create records its event, as the new user's, with every field"
        );
        assert_eq!(alice.username, username("alice"), "create returns the user");
        assert_eq!(alice.created_at, EPOCH, "create keeps created_at");
        assert_eq!(
            users.find(alice.id).ok().flatten(),
            Some(alice.clone()),
            "find by id"
        );
        let credentials = users.find_credentials(&username("alice")).ok().flatten();
        assert_eq!(
            credentials.map(|found| (found.user, found.password_hash)),
            Some((alice, Some(PasswordHash::new("hash-of-alice".into())))),
            "find_credentials by name, with the hash"
        );
    }
    {
        let (users, events, _guard) = make();
        let alice = store_user(users.as_ref(), "alice");
        let again = users.create(
            &new_user("alice"),
            &event_of(SecurityEventKind::Registered, Some(alice.id)),
        );
        assert!(
            matches!(again, Err(RepositoryError::Conflict)),
            "a taken username MUST be Conflict: {again:?}"
        );
        assert_eq!(
            kinds_of(events.as_ref(), &alice),
            [SecurityEventKind::Registered],
            "a refused create records nothing"
        );
        assert_eq!(
            users.find_credentials(&username("Alice")).ok().flatten(),
            None,
            "names are case-sensitive"
        );
        store_user(users.as_ref(), "Alice");
    }
    {
        let (users, _events, _guard) = make();
        let unknown = UserId::new(42).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(users.find(unknown).ok().flatten(), None, "unknown id");
        assert_eq!(
            users.find_credentials(&username("nobody")).ok().flatten(),
            None,
            "unknown name"
        );
    }
    {
        let (users, _events, _guard) = make();
        for name in ["u01", "u02", "u03", "u04", "u05"] {
            store_user(users.as_ref(), name);
        }
        let second = users
            .list(page(2, 2))
            .unwrap_or_else(|error| panic!("{error}"));
        let names: Vec<_> = second.items.iter().map(|u| u.username.as_str()).collect();
        assert_eq!(
            (names, second.total),
            (vec!["u03", "u04"], 5),
            "oldest first, paged"
        );
        let past = users
            .list(page(9, 2))
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!((past.items.len(), past.total), (0, 5), "past the end");
    }
    {
        let (users, events, _guard) = make();
        let identity = identity_of("idp", "sub-1");
        assert_eq!(
            users.find_by_identity(&identity).ok().flatten(),
            None,
            "an identity links to nobody at first"
        );
        let bare = NewUser {
            password_hash: None,
            ..new_user("jane")
        };
        let registered = SecurityEvent {
            provider: identity.provider.clone().into(),
            ..event_of(SecurityEventKind::Registered, None)
        };
        let jane = users
            .create_linked(&bare, &identity, &registered)
            .unwrap_or_else(|error| panic!("create_linked: {error}"));
        assert_eq!(
            users.find_by_identity(&identity).ok().flatten(),
            Some(jane.clone()),
            "the identity finds its user"
        );
        assert_eq!(
            users
                .find_credentials(&username("jane"))
                .ok()
                .flatten()
                .map(|found| found.password_hash),
            Some(None),
            "a linked user may have no password"
        );
        let recorded: Vec<SecurityEvent> = events
            .list_for_user(jane.id, page(1, 10))
            .unwrap_or_else(|error| panic!("{error}"))
            .items
            .into_iter()
            .map(|r| r.event)
            .collect();
        assert_eq!(
            recorded,
            vec![SecurityEvent {
                user_id: Some(jane.id),
                ..registered.clone()
            }],
            "create_linked records its event, with the provider"
        );
        for (user, identity, rule) in [
            (
                new_user("jane2"),
                identity.clone(),
                "a linked identity MUST be Conflict",
            ),
            (
                new_user("jane"),
                identity_of("idp", "sub-2"),
                "a taken username MUST be Conflict",
            ),
        ] {
            let refused = users.create_linked(&user, &identity, &registered);
            assert!(
                matches!(refused, Err(RepositoryError::Conflict)),
                "{rule}: {refused:?}"
            );
        }
        assert_eq!(
            users
                .find_by_identity(&identity_of("idp", "sub-2"))
                .ok()
                .flatten(),
            None,
            "a refused create_linked links nothing"
        );
        assert_eq!(
            users.find_credentials(&username("jane2")).ok().flatten(),
            None,
            "a refused create_linked stores no user"
        );
        assert_eq!(
            users
                .find_by_identity(&identity_of("other", "sub-1"))
                .ok()
                .flatten(),
            None,
            "the same subject at another provider is another identity"
        );
        assert_eq!(
            users
                .find_by_identity(&identity_of("idp", "SUB-1"))
                .ok()
                .flatten(),
            None,
            "subjects are case-sensitive"
        );
    }
}

fn identity_of(provider: &str, subject: &str) -> ExternalIdentity {
    ExternalIdentity {
        provider: ProviderName::parse(provider).unwrap_or_else(|error| panic!("{error}")),
        subject: Subject::parse(subject).unwrap_or_else(|error| panic!("{error}")),
    }
}

fn pending_login(provider: &str, expires_at: OffsetDateTime) -> PendingLogin {
    PendingLogin {
        provider: ProviderName::parse(provider).unwrap_or_else(|error| panic!("{error}")),
        nonce: SecretString::from(format!("nonce-of-{provider}")),
        pkce_verifier: SecretString::from(format!("verifier-of-{provider}")),
        expires_at,
    }
}

/// Checks the rules of [`PendingLoginRepository`]: a stored login is taken
/// back whole once, and then never again; unknown states are `None`;
/// `delete_expired` removes exactly the logins expired before `now`.
///
/// `make` returns a fresh, empty repository and a guard kept alive meanwhile.
///
/// # Panics
/// When the repository breaks a rule: the message names it.
pub fn pending_login_repository_contract<G>(
    make: impl Fn() -> (Arc<dyn PendingLoginRepository>, G),
) {
    use secrecy::ExposeSecret;
    let taken = |pending: &dyn PendingLoginRepository, state: &str| {
        pending
            .take(state)
            .unwrap_or_else(|error| panic!("take: {error}"))
            .map(|login| {
                (
                    login.provider,
                    login.nonce.expose_secret().to_owned(),
                    login.pkce_verifier.expose_secret().to_owned(),
                    login.expires_at,
                )
            })
    };
    {
        let (pending, _guard) = make();
        let login = pending_login("idp", EPOCH + Duration::MINUTE);
        pending
            .create("state-1", &login)
            .unwrap_or_else(|error| panic!("create: {error}"));
        pending
            .create("state-2", &pending_login("other", EPOCH))
            .unwrap_or_else(|error| panic!("create: {error}"));
        assert_eq!(taken(pending.as_ref(), "state-0"), None, "unknown state");
        assert_eq!(
            taken(pending.as_ref(), "state-1"),
            Some((
                login.provider.clone(),
                "nonce-of-idp".to_owned(),
                "verifier-of-idp".to_owned(),
                EPOCH + Duration::MINUTE
            )),
            "a login is taken back whole"
        );
        assert_eq!(taken(pending.as_ref(), "state-1"), None, "and only once");
        assert!(
            taken(pending.as_ref(), "state-2").is_some(),
            "other states are kept"
        );
    }
    {
        let (pending, _guard) = make();
        for (state, at) in [
            ("old", EPOCH - Duration::SECOND),
            ("now", EPOCH),
            ("new", EPOCH + Duration::SECOND),
        ] {
            pending
                .create(state, &pending_login("idp", at))
                .unwrap_or_else(|error| panic!("create: {error}"));
        }
        assert_eq!(
            pending.delete_expired(EPOCH).ok(),
            Some(1),
            "delete_expired removes what expired before now"
        );
        assert_eq!(
            taken(pending.as_ref(), "old"),
            None,
            "the expired one is gone"
        );
        assert!(
            taken(pending.as_ref(), "now").is_some(),
            "expiring now is kept"
        );
        assert!(
            taken(pending.as_ref(), "new").is_some(),
            "a live one is kept"
        );
    }
}

fn new_post(author: &User, title: &str) -> NewPost {
    NewPost {
        title: PostTitle::parse(title).unwrap_or_else(|error| panic!("{error}")),
        content: PostContent::parse("content".into()).unwrap_or_else(|error| panic!("{error}")),
        author_id: author.id,
        created_at: EPOCH,
    }
}

/// Checks the rules of [`PostRepository`]: a created post reads back
/// exactly; the list is newest first, filtered by author, in pages, with
/// the total; update changes only the given fields and stamps `updated_at`;
/// update and delete touch only the author's own post.
///
/// `make` returns a fresh, empty user and post repository sharing one store
/// (posts need authors), and a guard kept alive meanwhile.
///
/// # Panics
/// When the repository breaks a rule: the message names it.
pub fn post_repository_contract<G>(
    make: impl Fn() -> (Arc<dyn UserRepository>, Arc<dyn PostRepository>, G),
) {
    let create = |posts: &dyn PostRepository, author: &User, title: &str| {
        block_on(posts.create(&new_post(author, title)))
            .unwrap_or_else(|error| panic!("creating a post: {error}"))
    };
    {
        let (users, posts, _guard) = make();
        let alice = store_user(users.as_ref(), "alice");
        let tricky = "Robert'); DROP TABLE posts;-- \u{1F600} \"quotes\" \\ \n\t 終わり";
        let post = block_on(posts.create(&NewPost {
            content: PostContent::parse(tricky.into()).unwrap_or_else(|error| panic!("{error}")),
            ..new_post(&alice, "🎉 Title")
        }))
        .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            (post.content.as_str(), post.title.as_str(), post.author_id),
            (tricky, "🎉 Title", alice.id),
            "text is kept exactly"
        );
        assert_eq!((post.created_at, post.updated_at), (EPOCH, EPOCH));
        assert_eq!(posts.find(post.id).ok().flatten(), Some(post), "find by id");
    }
    {
        let (users, posts, _guard) = make();
        let (alice, bob) = (
            store_user(users.as_ref(), "alice"),
            store_user(users.as_ref(), "bob"),
        );
        for (author, title) in [(&alice, "a1"), (&bob, "b1"), (&alice, "a2"), (&alice, "a3")] {
            create(posts.as_ref(), author, title);
        }
        let titles = |author, request| {
            let found = posts
                .list(author, request)
                .unwrap_or_else(|error| panic!("{error}"));
            let titles: Vec<String> = found
                .items
                .iter()
                .map(|post| post.title.as_str().to_owned())
                .collect();
            (titles, found.total)
        };
        assert_eq!(
            titles(None, PageRequest::default()),
            (vec!["a3".into(), "a2".into(), "b1".into(), "a1".into()], 4),
            "newest first"
        );
        assert_eq!(
            titles(Some(alice.id), page(1, 2)),
            (vec!["a3".into(), "a2".into()], 3),
            "filtered and paged"
        );
        assert_eq!(
            titles(Some(bob.id), page(2, 2)),
            (vec![], 1),
            "past the end"
        );
    }
    {
        let (users, posts, _guard) = make();
        let (alice, bob) = (
            store_user(users.as_ref(), "alice"),
            store_user(users.as_ref(), "bob"),
        );
        let post = create(posts.as_ref(), &alice, "old");
        let later = EPOCH + Duration::minutes(5);
        let changes = PostChanges {
            title: PostTitle::parse("new").ok(),
            content: None,
        };
        assert_eq!(
            posts
                .update(post.id, bob.id, &changes, later)
                .ok()
                .flatten(),
            None,
            "update is scoped to the author"
        );
        assert_eq!(
            posts.delete(post.id, bob.id).ok(),
            Some(false),
            "delete is scoped to the author"
        );
        assert_eq!(
            posts.find(post.id).ok().flatten(),
            Some(post.clone()),
            "untouched"
        );
        let updated = posts
            .update(post.id, alice.id, &changes, later)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("the author's update"));
        assert_eq!(
            (
                updated.title.as_str(),
                updated.content.as_str(),
                updated.created_at,
                updated.updated_at
            ),
            ("new", "content", EPOCH, later),
            "only the given fields change, and updated_at"
        );
        assert_eq!(
            posts.delete(post.id, alice.id).ok(),
            Some(true),
            "the author deletes"
        );
        assert_eq!(posts.find(post.id).ok().flatten(), None, "deleted");
        assert_eq!(
            posts.delete(post.id, alice.id).ok(),
            Some(false),
            "deleted once"
        );
        let kept = create(posts.as_ref(), &bob, "kept");
        let total = |author| {
            posts
                .list(author, PageRequest::default())
                .map(|page| page.total)
                .ok()
        };
        assert_eq!(
            (total(None), total(Some(alice.id)), total(Some(bob.id))),
            (Some(1), Some(0), Some(1)),
            "totals count what is left"
        );
        assert_eq!(posts.delete(kept.id, bob.id).ok(), Some(true));
        assert_eq!((total(None), total(Some(bob.id))), (Some(0), Some(0)));
    }
}

/// Session `n` of `user`, made `n` seconds after [`EPOCH`], from the
/// client of [`event_of`].
fn session_of(user: &User, n: u8) -> Session {
    let created_at = EPOCH + Duration::seconds(i64::from(n));
    Session {
        id: SessionId::from_bytes([n; 16]),
        user_id: user.id,
        refresh_token_id: TokenId::from_bytes([n; 16]),
        created_at,
        last_used_at: created_at,
        expires_at: EPOCH + Duration::days(7),
        revoked_at: None,
        client: event_of(SecurityEventKind::LoginSucceeded, None).client,
    }
}

/// Checks the rules of [`SessionRepository`]: a created session reads
/// back; a session of an unknown user is refused; rotation is a
/// compare-and-swap that succeeds once per token id and never on a revoked
/// or expired session, and records the use; revoke is idempotent and keeps
/// the first time; `revoke_of_user` ends only the user's own live sessions,
/// `revoke_all_of_user` all of them; `list_live` lists the live ones, newest
/// first; [`UserRepository::change_password`] revokes every other session
/// of the user; `delete_expired` removes exactly the sessions expired at
/// `now`. Each
/// change records its event, and a change whose event is refused (an
/// unknown user) is not made: both are stored or neither.
///
/// `make` returns fresh, empty user, session and event repositories sharing
/// one store (sessions need users), and a guard kept alive meanwhile.
///
/// # Panics
/// When the repository breaks a rule: the message names it.
pub fn session_repository_contract<G>(
    make: impl Fn() -> (
        Arc<dyn UserRepository>,
        Arc<dyn SessionRepository>,
        Arc<dyn SecurityEventRepository>,
        G,
    ),
) {
    use SecurityEventKind::{
        LoggedOut, LoggedOutAll, LoginSucceeded, PasswordChanged, Refreshed, Registered,
        SessionRevoked,
    };
    let find = |sessions: &dyn SessionRepository, id: &SessionId| {
        sessions
            .find(id)
            .unwrap_or_else(|error| panic!("finding a session: {error}"))
    };
    let create = |sessions: &dyn SessionRepository, session: &Session| {
        sessions
            .create(session, &event_of(LoginSucceeded, Some(session.user_id)))
            .unwrap_or_else(|error| panic!("creating a session: {error}"));
    };
    let revoke = |sessions: &dyn SessionRepository, session: &Session, at| {
        sessions
            .revoke(&session.id, at, &event_of(LoggedOut, Some(session.user_id)))
            .unwrap_or_else(|error| panic!("revoking a session: {error}"));
    };
    {
        let (users, sessions, events, _guard) = make();
        let alice = store_user(users.as_ref(), "alice");
        create(sessions.as_ref(), &session_of(&alice, 1));
        assert_eq!(
            sessions
                .find(&SessionId::from_bytes([1; 16]))
                .ok()
                .flatten(),
            Some(session_of(&alice, 1)),
            "a created session reads back"
        );
        assert_eq!(
            sessions
                .find(&SessionId::from_bytes([2; 16]))
                .ok()
                .flatten(),
            None,
            "unknown session"
        );
        let orphan = Session {
            user_id: UserId::new(alice.id.get() + 100).unwrap_or(alice.id),
            ..session_of(&alice, 3)
        };
        assert!(
            sessions
                .create(&orphan, &event_of(LoginSucceeded, Some(orphan.user_id)))
                .is_err(),
            "a session of an unknown user MUST be refused"
        );
        assert_eq!(
            kinds_of(events.as_ref(), &alice),
            [LoginSucceeded, Registered],
            "create records its event"
        );
        let unrecordable = event_of(LoginSucceeded, Some(orphan.user_id));
        assert!(
            sessions
                .create(&session_of(&alice, 4), &unrecordable)
                .is_err(),
            "a session whose event is refused MUST be refused"
        );
        assert_eq!(
            sessions
                .find(&SessionId::from_bytes([4; 16]))
                .ok()
                .flatten(),
            None,
            "a session whose event was refused MUST NOT be stored"
        );
    }
    {
        let (users, sessions, events, _guard) = make();
        let alice = store_user(users.as_ref(), "alice");
        let live = session_of(&alice, 1);
        create(sessions.as_ref(), &live);
        let next = TokenId::from_bytes([9; 16]);
        let rotate = |current: &TokenId| {
            sessions
                .rotate_refresh_token(
                    &live.id,
                    current,
                    &next,
                    EPOCH,
                    &event_of(Refreshed, Some(alice.id)),
                )
                .unwrap_or_else(|error| panic!("{error}"))
        };
        assert!(
            rotate(&live.refresh_token_id),
            "rotation from the current id"
        );
        assert!(!rotate(&live.refresh_token_id), "the old id is spent");
        assert_eq!(
            sessions
                .find(&live.id)
                .ok()
                .flatten()
                .map(|s| s.refresh_token_id),
            Some(next.clone()),
            "the new id is stored"
        );
        assert_eq!(
            kinds_of(events.as_ref(), &alice),
            [Refreshed, LoginSucceeded, Registered],
            "a rotation records its event; a refused one records nothing"
        );
        let unrecordable = event_of(Refreshed, UserId::new(alice.id.get() + 100).ok());
        let refused = sessions.rotate_refresh_token(
            &live.id,
            &next,
            &live.refresh_token_id,
            EPOCH,
            &unrecordable,
        );
        assert!(
            refused.is_err(),
            "a rotation whose event is refused MUST fail"
        );
        assert_eq!(
            sessions
                .find(&live.id)
                .ok()
                .flatten()
                .map(|s| s.refresh_token_id),
            Some(next),
            "a rotation whose event was refused MUST NOT be made"
        );
    }
    {
        let (users, sessions, events, _guard) = make();
        let alice = store_user(users.as_ref(), "alice");
        let (revoked, expiring) = (session_of(&alice, 1), session_of(&alice, 2));
        create(sessions.as_ref(), &revoked);
        create(sessions.as_ref(), &expiring);
        let next = TokenId::from_bytes([9; 16]);
        let unrecordable = event_of(LoggedOut, UserId::new(alice.id.get() + 100).ok());
        assert!(
            sessions.revoke(&revoked.id, EPOCH, &unrecordable).is_err(),
            "a revocation whose event is refused MUST fail"
        );
        assert_eq!(
            sessions
                .find(&revoked.id)
                .ok()
                .flatten()
                .and_then(|s| s.revoked_at),
            None,
            "a revocation whose event was refused MUST NOT be made"
        );
        revoke(sessions.as_ref(), &revoked, EPOCH);
        let refreshed = event_of(Refreshed, Some(alice.id));
        assert_eq!(
            sessions
                .rotate_refresh_token(
                    &revoked.id,
                    &revoked.refresh_token_id,
                    &next,
                    EPOCH,
                    &refreshed
                )
                .ok(),
            Some(false),
            "no rotation on a revoked session"
        );
        assert_eq!(
            sessions
                .rotate_refresh_token(
                    &expiring.id,
                    &expiring.refresh_token_id,
                    &next,
                    expiring.expires_at,
                    &refreshed
                )
                .ok(),
            Some(false),
            "no rotation on an expired session"
        );
        revoke(sessions.as_ref(), &revoked, EPOCH + Duration::HOUR);
        assert_eq!(
            sessions
                .find(&revoked.id)
                .ok()
                .flatten()
                .and_then(|s| s.revoked_at),
            Some(EPOCH),
            "revoke is idempotent and keeps the first time"
        );
        revoke(
            sessions.as_ref(),
            &session_of(&alice, 7),
            EPOCH + Duration::HOUR,
        );
        assert_eq!(
            kinds_of(events.as_ref(), &alice),
            [
                LoggedOut,
                LoggedOut,
                LoggedOut,
                LoginSucceeded,
                LoginSucceeded,
                Registered
            ],
            "revoke records its event every time, even for an unknown session"
        );
    }
    {
        let (users, sessions, _events, _guard) = make();
        let alice = store_user(users.as_ref(), "alice");
        let old = Session {
            expires_at: EPOCH - Duration::SECOND,
            ..session_of(&alice, 1)
        };
        let boundary = Session {
            expires_at: EPOCH,
            ..session_of(&alice, 2)
        };
        create(sessions.as_ref(), &old);
        create(sessions.as_ref(), &boundary);
        create(sessions.as_ref(), &session_of(&alice, 3));
        assert_eq!(
            sessions.delete_expired(EPOCH).ok(),
            Some(2),
            "expired at or before now"
        );
        assert_eq!(sessions.find(&old.id).ok().flatten(), None);
        assert!(
            sessions
                .find(&SessionId::from_bytes([3; 16]))
                .ok()
                .flatten()
                .is_some(),
            "live sessions stay"
        );
    }
    {
        let (users, sessions, _events, _guard) = make();
        let alice = store_user(users.as_ref(), "alice");
        let live = session_of(&alice, 1);
        create(sessions.as_ref(), &live);
        let later = EPOCH + Duration::HOUR;
        let rotated = sessions.rotate_refresh_token(
            &live.id,
            &live.refresh_token_id,
            &TokenId::from_bytes([9; 16]),
            later,
            &event_of(Refreshed, Some(alice.id)),
        );
        assert_eq!(rotated.ok(), Some(true));
        assert_eq!(
            find(sessions.as_ref(), &live.id).map(|s| s.last_used_at),
            Some(later),
            "a rotation records when the session was used"
        );
    }
    {
        let (users, sessions, events, _guard) = make();
        let alice = store_user(users.as_ref(), "alice");
        let bob = store_user(users.as_ref(), "bob");
        let (own, expired, bobs) = (
            session_of(&alice, 1),
            Session {
                expires_at: EPOCH,
                ..session_of(&alice, 2)
            },
            session_of(&bob, 3),
        );
        for session in [&own, &expired, &bobs] {
            create(sessions.as_ref(), session);
        }
        let end = |id: &SessionId| {
            sessions
                .revoke_of_user(
                    id,
                    alice.id,
                    EPOCH,
                    &event_of(SessionRevoked, Some(alice.id)),
                )
                .unwrap_or_else(|error| panic!("{error}"))
        };
        assert!(!end(&bobs.id), "another user's session is not ended");
        assert!(!end(&expired.id), "an expired session is not ended");
        assert!(!end(&SessionId::from_bytes([7; 16])), "unknown session");
        assert_eq!(
            find(sessions.as_ref(), &bobs.id).and_then(|s| s.revoked_at),
            None,
            "bob's session lives on"
        );
        assert_eq!(
            kinds_of(events.as_ref(), &alice),
            [LoginSucceeded, LoginSucceeded, Registered],
            "nothing ended, nothing recorded"
        );
        assert!(end(&own.id), "an own live session is ended");
        assert!(!end(&own.id), "once");
        assert_eq!(
            find(sessions.as_ref(), &own.id).and_then(|s| s.revoked_at),
            Some(EPOCH)
        );
        assert_eq!(
            kinds_of(events.as_ref(), &alice)[0],
            SessionRevoked,
            "an ended session records its event"
        );
    }
    {
        let (users, sessions, events, _guard) = make();
        let alice = store_user(users.as_ref(), "alice");
        let bob = store_user(users.as_ref(), "bob");
        let revoked = session_of(&alice, 3);
        let expired = Session {
            expires_at: EPOCH,
            ..session_of(&alice, 4)
        };
        for session in [
            &session_of(&alice, 1),
            &session_of(&alice, 2),
            &revoked,
            &expired,
            &session_of(&bob, 5),
        ] {
            create(sessions.as_ref(), session);
        }
        revoke(sessions.as_ref(), &revoked, EPOCH);
        let live = |user: &User, number, per_page| {
            let page = sessions
                .list_live(user.id, EPOCH, page(number, per_page))
                .unwrap_or_else(|error| panic!("{error}"));
            let ids: Vec<SessionId> = page.items.into_iter().map(|s| s.id).collect();
            (ids, page.total)
        };
        assert_eq!(
            live(&alice, 1, 10),
            (vec![session_of(&alice, 2).id, session_of(&alice, 1).id], 2),
            "live ones only, newest first"
        );
        assert_eq!(
            live(&alice, 2, 1),
            (vec![session_of(&alice, 1).id], 2),
            "in pages"
        );
        let ended = sessions
            .revoke_all_of_user(alice.id, EPOCH, &event_of(LoggedOutAll, Some(alice.id)))
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(ended, 3, "every session not yet revoked, expired ones too");
        assert_eq!(live(&alice, 1, 10), (vec![], 0));
        assert_eq!(live(&bob, 1, 10).1, 1, "another user's sessions live on");
        assert_eq!(
            find(sessions.as_ref(), &revoked.id).and_then(|s| s.revoked_at),
            Some(EPOCH),
            "a revoked session keeps its first time"
        );
        assert_eq!(kinds_of(events.as_ref(), &alice)[0], LoggedOutAll);
    }
    {
        let (users, sessions, events, _guard) = make();
        let alice = store_user(users.as_ref(), "alice");
        let bob = store_user(users.as_ref(), "bob");
        let (keep, other, bobs) = (
            session_of(&alice, 1),
            session_of(&alice, 2),
            session_of(&bob, 3),
        );
        for session in [&keep, &other, &bobs] {
            create(sessions.as_ref(), session);
        }
        let new_hash = PasswordHash::new("new-hash".into());
        let change = |user: UserId, event: &SecurityEvent| {
            users.change_password(user, &new_hash, &keep.id, EPOCH, event)
        };
        let unknown = UserId::new(bob.id.get() + 100).unwrap_or(bob.id);
        assert!(
            change(alice.id, &event_of(PasswordChanged, Some(unknown))).is_err(),
            "a change whose event is refused MUST fail"
        );
        assert_eq!(
            find(sessions.as_ref(), &other.id).and_then(|s| s.revoked_at),
            None,
            "a change whose event was refused MUST NOT revoke"
        );
        assert_eq!(
            change(unknown, &event_of(PasswordChanged, None)).ok(),
            Some(false),
            "an unknown user"
        );
        assert_eq!(
            change(alice.id, &event_of(PasswordChanged, Some(alice.id))).ok(),
            Some(true)
        );
        assert_eq!(
            users
                .find_credentials(&alice.username)
                .ok()
                .flatten()
                .and_then(|c| c.password_hash),
            Some(new_hash.clone()),
            "the new hash is stored"
        );
        let revoked_at = |id: &SessionId| find(sessions.as_ref(), id).and_then(|s| s.revoked_at);
        assert_eq!(
            (
                revoked_at(&keep.id),
                revoked_at(&other.id),
                revoked_at(&bobs.id)
            ),
            (None, Some(EPOCH), None),
            "every other session of the user is revoked, the kept one and others' not"
        );
        assert_eq!(kinds_of(events.as_ref(), &alice)[0], PasswordChanged);
    }
}

/// Checks the rules of [`SecurityEventRepository`]: an event reads back
/// whole among its user's, newest first, in pages, with the total, never
/// among another user's; one of no user is stored but listed to nobody;
/// one of an unknown user is refused; `delete_before` removes exactly the
/// events that happened earlier.
///
/// `make` returns fresh, empty user and event repositories sharing one
/// store, and a guard kept alive meanwhile.
///
/// # Panics
/// When the repository breaks a rule: the message names it.
pub fn security_event_repository_contract<G>(
    make: impl Fn() -> (Arc<dyn UserRepository>, Arc<dyn SecurityEventRepository>, G),
) {
    use SecurityEventKind::{LoginFailed, LoginSucceeded, Registered};
    let record = |events: &dyn SecurityEventRepository, event: &SecurityEvent| {
        events
            .record(event)
            .unwrap_or_else(|error| panic!("recording an event: {error}"));
    };
    {
        let (users, events, _guard) = make();
        let alice = store_user(users.as_ref(), "alice");
        let bob = store_user(users.as_ref(), "bob");
        let full = SecurityEvent {
            session_id: Some(SessionId::from_bytes([5; 16])),
            ..event_of(LoginSucceeded, Some(alice.id))
        };
        let bare = SecurityEvent {
            client: Client::default(),
            provider: None,
            at: EPOCH + Duration::SECOND,
            ..event_of(LoginFailed, Some(alice.id))
        };
        record(events.as_ref(), &full);
        record(events.as_ref(), &event_of(LoginFailed, None));
        record(events.as_ref(), &event_of(LoginFailed, Some(bob.id)));
        record(events.as_ref(), &bare);
        let first = events
            .list_for_user(alice.id, page(1, 2))
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(first.total, 3, "only alice's events count");
        let read: Vec<SecurityEvent> = first.items.iter().map(|r| r.event.clone()).collect();
        assert_eq!(read, [bare, full], "newest first, every field read back");
        assert!(
            first.items[0].id > first.items[1].id,
            "later events have greater ids"
        );
        let second = events
            .list_for_user(alice.id, page(2, 2))
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            second
                .items
                .iter()
                .map(|r| r.event.kind)
                .collect::<Vec<_>>(),
            [Registered],
            "the second page"
        );
        assert_eq!(
            kinds_of(events.as_ref(), &bob),
            [LoginFailed, Registered],
            "bob sees only his"
        );
        let unknown = UserId::new(bob.id.get() + 100).unwrap_or(bob.id);
        assert!(
            events
                .record(&event_of(LoginFailed, Some(unknown)))
                .is_err(),
            "an event of an unknown user MUST be refused"
        );
    }
    {
        let (users, events, _guard) = make();
        let alice = store_user(users.as_ref(), "alice");
        let at = |seconds| SecurityEvent {
            at: EPOCH + Duration::seconds(seconds),
            ..event_of(LoginFailed, Some(alice.id))
        };
        record(events.as_ref(), &at(10));
        record(events.as_ref(), &at(20));
        record(
            events.as_ref(),
            &SecurityEvent {
                user_id: None,
                ..at(5)
            },
        );
        assert_eq!(
            events.delete_before(EPOCH + Duration::seconds(20)).ok(),
            Some(3),
            "strictly before: the registration, the anonymous one and the first"
        );
        let left = events
            .list_for_user(alice.id, page(1, 10))
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            left.items.into_iter().map(|r| r.event).collect::<Vec<_>>(),
            [at(20)],
            "later events stay"
        );
    }
}

/// Checks the rules of [`MfaRepository`]: an enrolment is pending until
/// activated, restarts replace it, and an active one refuses a restart;
/// activation stores the step and the recovery codes; a step is used only
/// once and only after the last; a recovery code is spent once, by its
/// user only; deactivation removes the credential and its codes; a
/// challenge counts failures and is consumed once, while open; expired
/// challenges are purged. Changes with an event record it, and a change
/// whose event is refused is not made.
///
/// `make` returns fresh, empty user, MFA and event repositories sharing one
/// store, and a guard kept alive meanwhile.
///
/// # Panics
/// When the repository breaks a rule: the message names it.
pub fn mfa_repository_contract<G>(
    make: impl Fn() -> (
        Arc<dyn UserRepository>,
        Arc<dyn MfaRepository>,
        Arc<dyn SecurityEventRepository>,
        G,
    ),
) {
    use SecurityEventKind::{MfaDisabled, MfaEnabled, MfaFailed, RecoveryCodeUsed, Registered};
    let ok =
        |result: Result<bool, RepositoryError>| result.unwrap_or_else(|error| panic!("{error}"));
    let sealed = |text: &str| SealedSecret::new(text.to_owned());
    let digests = |prefix: &str| -> Vec<RecoveryCodeHash> {
        (0..3)
            .map(|n| RecoveryCodeHash::new(format!("{prefix}-{n}")))
            .collect()
    };
    {
        let (users, mfa, events, _guard) = make();
        let alice = store_user(users.as_ref(), "alice");
        let read = || mfa.totp(alice.id).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(read(), None, "no credential yet");
        assert!(ok(mfa.start_enrolment(alice.id, &sealed("first"), EPOCH)));
        assert!(ok(mfa.start_enrolment(alice.id, &sealed("second"), EPOCH)));
        assert_eq!(
            read(),
            Some(TotpCredential {
                sealed: sealed("second"),
                active: false,
                last_step: None
            }),
            "a restarted enrolment replaces the pending one"
        );
        let unknown = UserId::new(alice.id.get() + 100).unwrap_or(alice.id);
        assert!(
            mfa.activate(
                alice.id,
                10,
                &digests("a"),
                &event_of(MfaEnabled, Some(unknown))
            )
            .is_err(),
            "an activation whose event is refused MUST fail"
        );
        assert_eq!(read().map(|c| c.active), Some(false), "and change nothing");
        assert!(ok(mfa.activate(
            alice.id,
            10,
            &digests("a"),
            &event_of(MfaEnabled, Some(alice.id))
        )));
        assert_eq!(
            read(),
            Some(TotpCredential {
                sealed: sealed("second"),
                active: true,
                last_step: Some(10)
            })
        );
        assert!(
            !ok(mfa.start_enrolment(alice.id, &sealed("third"), EPOCH)),
            "an active credential refuses a new enrolment"
        );
        assert!(
            !ok(mfa.activate(
                alice.id,
                11,
                &digests("b"),
                &event_of(MfaEnabled, Some(alice.id))
            )),
            "nothing pending to activate"
        );
        assert_eq!(read().map(|c| c.sealed), Some(sealed("second")));
        assert_eq!(
            kinds_of(events.as_ref(), &alice),
            [MfaEnabled, Registered],
            "one activation, one event"
        );

        assert!(
            !ok(mfa.use_step(alice.id, 10)),
            "the confirming step is used"
        );
        assert!(!ok(mfa.use_step(alice.id, 9)), "an earlier step");
        assert!(ok(mfa.use_step(alice.id, 11)), "a later step");
        assert!(!ok(mfa.use_step(alice.id, 11)), "once");

        let bob = store_user(users.as_ref(), "bob");
        assert!(!ok(mfa.use_step(bob.id, 50)), "no credential, no step");
        let spend = |user: &User, code: &RecoveryCodeHash| {
            mfa.use_recovery_code(
                user.id,
                code,
                EPOCH,
                &event_of(RecoveryCodeUsed, Some(user.id)),
            )
            .unwrap_or_else(|error| panic!("{error}"))
        };
        assert!(!spend(&bob, &digests("a")[0]), "another user's code");
        assert!(spend(&alice, &digests("a")[0]), "an unused code");
        assert!(!spend(&alice, &digests("a")[0]), "spent once");
        assert!(
            !spend(&alice, &RecoveryCodeHash::new("nope".into())),
            "an unknown code"
        );
        assert_eq!(kinds_of(events.as_ref(), &alice)[0], RecoveryCodeUsed);
        assert_eq!(kinds_of(events.as_ref(), &bob), [Registered]);

        assert!(ok(
            mfa.deactivate(alice.id, &event_of(MfaDisabled, Some(alice.id)))
        ));
        assert_eq!(read(), None, "deactivation removes the credential");
        assert!(!spend(&alice, &digests("a")[1]), "and its recovery codes");
        assert!(!ok(
            mfa.deactivate(alice.id, &event_of(MfaDisabled, Some(alice.id)))
        ));
        assert_eq!(
            kinds_of(events.as_ref(), &alice)[..2],
            [MfaDisabled, RecoveryCodeUsed]
        );
    }
    {
        let (users, mfa, events, _guard) = make();
        let alice = store_user(users.as_ref(), "alice");
        let token = |n: u8| MfaTokenHash::new(format!("token-{n}"));
        let expires_at = EPOCH + Duration::minutes(5);
        for n in 1..=4 {
            mfa.create_challenge(&token(n), alice.id, expires_at)
                .unwrap_or_else(|error| panic!("{error}"));
        }
        assert_eq!(
            mfa.challenge(&token(1)).ok().flatten(),
            Some(MfaChallenge {
                user_id: alice.id,
                expires_at,
                failures: 0,
                used: false
            }),
            "a challenge reads back"
        );
        assert_eq!(mfa.challenge(&token(9)).ok().flatten(), None);
        mfa.fail_challenge(&token(1), &event_of(MfaFailed, Some(alice.id)))
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            mfa.challenge(&token(1)).ok().flatten().map(|c| c.failures),
            Some(1),
            "a failure counts"
        );
        assert_eq!(kinds_of(events.as_ref(), &alice)[0], MfaFailed);
        assert!(
            ok(mfa.consume_challenge(&token(1), EPOCH)),
            "an open challenge"
        );
        assert!(
            !ok(mfa.consume_challenge(&token(1), EPOCH)),
            "consumed once"
        );
        assert!(
            !ok(mfa.consume_challenge(&token(2), expires_at)),
            "not once expired"
        );
        for _ in 0..crate::MFA_MAX_FAILURES {
            mfa.fail_challenge(&token(3), &event_of(MfaFailed, Some(alice.id)))
                .unwrap_or_else(|error| panic!("{error}"));
        }
        assert!(
            !ok(mfa.consume_challenge(&token(3), EPOCH)),
            "not after the most failures"
        );
        mfa.create_challenge(&token(5), alice.id, expires_at + Duration::SECOND)
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            mfa.delete_expired_challenges(expires_at).ok(),
            Some(4),
            "expired at or before now"
        );
        assert!(
            mfa.challenge(&token(5)).ok().flatten().is_some(),
            "live ones stay"
        );
    }
}

/// Checks the rules of [`RateLimiter`]: `max` hits in a window are allowed
/// and the next is limited until the window ends (`retry_after` says
/// exactly when); a new window starts after it; `peek` counts nothing and
/// says whether the next hit would be over; keys are independent;
/// `delete_started_before` removes only windows that started earlier.
///
/// `make` returns a fresh limiter and a guard kept alive meanwhile.
///
/// # Panics
/// When the limiter breaks a rule: the message names it.
pub fn rate_limiter_contract<G>(make: impl Fn() -> (Arc<dyn RateLimiter>, G)) {
    let limit = RateLimit {
        max: 3,
        window: Duration::minutes(1),
    };
    let hit = |limiter: &dyn RateLimiter, key: &str, at: OffsetDateTime| {
        limiter
            .hit(key, limit, at)
            .unwrap_or_else(|error| panic!("{error}"))
    };
    let peek = |limiter: &dyn RateLimiter, key: &str, at: OffsetDateTime| {
        limiter
            .peek(key, limit, at)
            .unwrap_or_else(|error| panic!("{error}"))
    };
    {
        let (limiter, _guard) = make();
        let limiter = limiter.as_ref();
        for second in 0..3 {
            assert_eq!(
                hit(limiter, "a", EPOCH + Duration::seconds(second)),
                RateDecision::Allowed,
                "hit {second} is within the limit"
            );
        }
        assert_eq!(
            hit(limiter, "a", EPOCH + Duration::seconds(20)),
            RateDecision::Limited {
                retry_after: Duration::seconds(40)
            },
            "the hit past the limit waits for the window's end"
        );
        assert_eq!(
            hit(limiter, "b", EPOCH + Duration::seconds(20)),
            RateDecision::Allowed,
            "keys are independent"
        );
        assert_eq!(
            hit(limiter, "a", EPOCH + Duration::seconds(60)),
            RateDecision::Allowed,
            "a new window starts when the old one ends"
        );
    }
    {
        let (limiter, _guard) = make();
        let limiter = limiter.as_ref();
        assert_eq!(
            peek(limiter, "a", EPOCH),
            RateDecision::Allowed,
            "nothing counted yet"
        );
        for _ in 0..5 {
            peek(limiter, "a", EPOCH);
        }
        for _ in 0..2 {
            hit(limiter, "a", EPOCH);
        }
        assert_eq!(
            peek(limiter, "a", EPOCH),
            RateDecision::Allowed,
            "peek counts nothing"
        );
        hit(limiter, "a", EPOCH);
        assert_eq!(
            peek(limiter, "a", EPOCH + Duration::seconds(10)),
            RateDecision::Limited {
                retry_after: Duration::seconds(50)
            },
            "peek says the next hit would be over"
        );
        assert_eq!(
            peek(limiter, "a", EPOCH + Duration::minutes(1)),
            RateDecision::Allowed,
            "not after the window"
        );
    }
    {
        let (limiter, _guard) = make();
        let limiter = limiter.as_ref();
        for _ in 0..3 {
            hit(limiter, "old", EPOCH);
            hit(limiter, "new", EPOCH + Duration::minutes(1));
        }
        let deleted = limiter
            .delete_started_before(EPOCH + Duration::seconds(30))
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(deleted, 1, "only the window that started before");
        assert_eq!(
            peek(limiter, "old", EPOCH + Duration::seconds(30)),
            RateDecision::Allowed
        );
        assert!(
            matches!(
                peek(limiter, "new", EPOCH + Duration::minutes(1)),
                RateDecision::Limited { .. }
            ),
            "the newer window stays"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_in_memory_store_meets_every_repository_contract() {
        user_repository_contract(|| {
            let store = Arc::new(InMemoryStore::default());
            (store.clone(), store, ())
        });
        post_repository_contract(|| {
            let store = Arc::new(InMemoryStore::default());
            (store.clone(), store, ())
        });
        session_repository_contract(|| {
            let store = Arc::new(InMemoryStore::default());
            (store.clone(), store.clone(), store, ())
        });
        security_event_repository_contract(|| {
            let store = Arc::new(InMemoryStore::default());
            (store.clone(), store, ())
        });
        mfa_repository_contract(|| {
            let store = Arc::new(InMemoryStore::default());
            (store.clone(), store.clone(), store, ())
        });
        rate_limiter_contract(|| (Arc::new(InMemoryRateLimiter::default()), ()));
        pending_login_repository_contract(|| (Arc::new(InMemoryStore::default()), ()));
    }

    #[test]
    fn in_memory_tokens_judge_time_by_the_clock_given() {
        let tokens = InMemoryTokens::default();
        let ids = SequentialIds::default();
        let claims = Claims {
            user_id: UserId::new(1).unwrap_or_else(|error| panic!("{error}")),
            session_id: ids.session_id(),
            token_id: ids.token_id(),
            kind: crate::TokenKind::Access,
            issued_at: EPOCH,
            expires_at: EPOCH + Duration::MINUTE,
        };
        let token = tokens.encode(&claims).unwrap_or_default();
        assert_eq!(tokens.decode(&token, EPOCH).ok(), Some(claims));
        assert!(matches!(
            tokens.decode(&token, EPOCH + Duration::MINUTE),
            Err(TokenError::Expired)
        ));
        assert!(matches!(
            tokens.decode(&token, EPOCH - Duration::SECOND),
            Err(TokenError::Invalid)
        ));
        assert!(matches!(
            tokens.decode("forged", EPOCH),
            Err(TokenError::Invalid)
        ));
    }

    #[test]
    fn the_plain_hasher_verifies_only_its_own_hashes() {
        let hash = PlainHasher
            .hash("pw")
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(PlainHasher.verify("pw", &hash).ok(), Some(true));
        assert_eq!(PlainHasher.verify("other", &hash).ok(), Some(false));
        assert_eq!(
            PlainHasher.verify("pw", &PlainHasher.dummy_hash()).ok(),
            Some(false)
        );
        assert!(
            PlainHasher
                .verify("pw", &PasswordHash::new("$2b$x".into()))
                .is_err()
        );
    }
}
