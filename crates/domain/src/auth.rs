//! Registration, login, and the life of a login session and its tokens.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use time::{Duration, OffsetDateTime};
use tracing::{info, warn};

use crate::ports::{
    Clock, IdGenerator, PasswordHasher, RepositoryError, SessionRepository, TokenCodec,
    UserRepository,
};
use crate::{
    AuthError, Claims, DomainError, LoginAttempt, NewUser, Page, PageRequest, Password, Principal,
    Resource, Session, TokenKind, TokenPair, User, UserId, Username,
};

/// The `tracing` target of authentication events, for filtering and alerts.
pub const AUTH_EVENTS: &str = "blog::auth";

/// How long tokens live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLifetimes {
    /// Lifetime of an access token.
    pub access: Duration,
    /// Lifetime of a login session, and so of its refresh tokens: refreshing
    /// rotates the token but never extends the session.
    pub refresh: Duration,
}

/// The ports [`AuthService`] works on.
pub struct AuthPorts {
    /// Stored users.
    pub users: Arc<dyn UserRepository>,
    /// Stored login sessions.
    pub sessions: Arc<dyn SessionRepository>,
    /// Password hashing.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Token signing and verification.
    pub tokens: Arc<dyn TokenCodec>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Random ids for sessions and tokens.
    pub ids: Arc<dyn IdGenerator>,
}

/// Users, logins, and their sessions and tokens.
///
/// A login opens a [`Session`]; both of its tokens name it (`sid`). Logout
/// revokes the session, so every token of that login dies at once. Each
/// refresh rotates the session's one valid refresh token id; presenting a
/// refresh token that was already rotated away is taken as theft and revokes
/// the session.
pub struct AuthService {
    ports: AuthPorts,
    lifetimes: TokenLifetimes,
}

impl AuthService {
    /// Builds the service on its ports.
    pub fn new(ports: AuthPorts, lifetimes: TokenLifetimes) -> Self {
        Self { ports, lifetimes }
    }

    /// Registers a user.
    ///
    /// # Errors
    /// [`DomainError::UsernameTaken`]; store and hasher failures.
    pub fn register(&self, username: Username, password: Password) -> Result<User, DomainError> {
        let password_hash = self.ports.hasher.hash(password.expose())?;
        let new_user = NewUser {
            username,
            password_hash,
            created_at: self.ports.clock.now(),
        };
        let user = self
            .ports
            .users
            .create(&new_user)
            .map_err(|error| match error {
                RepositoryError::Conflict => DomainError::UsernameTaken,
                other => other.into(),
            })?;
        info!(target: AUTH_EVENTS, user_id = %user.id, "user registered");
        Ok(user)
    }

    /// The user with this id.
    ///
    /// # Errors
    /// [`DomainError::NotFound`]; store failures.
    pub fn user(&self, id: UserId) -> Result<User, DomainError> {
        self.ports
            .users
            .find(id)?
            .ok_or(DomainError::NotFound(Resource::User))
    }

    /// One page of users, oldest first.
    ///
    /// # Errors
    /// Store failures.
    pub fn list_users(&self, page: PageRequest) -> Result<Page<User>, DomainError> {
        Ok(self.ports.users.list(page)?)
    }

    /// Checks a username and password and opens a session.
    ///
    /// Every attempt spends exactly one password verification, against a
    /// dummy hash when the username is unknown or malformed, so the answer
    /// takes as long whether the user exists or not.
    ///
    /// # Errors
    /// [`AuthError::InvalidCredentials`], the same for every reason; store,
    /// hasher and codec failures.
    pub fn login(&self, attempt: &LoginAttempt) -> Result<TokenPair, DomainError> {
        let credentials = match Username::parse(attempt.username.as_str()) {
            Ok(username) => self.ports.users.find_credentials(&username)?,
            Err(_) => None,
        };
        let password = attempt.password.expose_secret();
        let Some(credentials) = credentials else {
            self.ports
                .hasher
                .verify(password, &self.ports.hasher.dummy_hash())?;
            info!(target: AUTH_EVENTS, reason = "unknown_user", "login failed");
            return Err(AuthError::InvalidCredentials.into());
        };
        let user_id = credentials.user.id;
        let matches = self
            .ports
            .hasher
            .verify(password, &credentials.password_hash)?;
        // bcrypt reads 72 bytes only: a longer password would match its prefix.
        if !matches || password.len() > Password::MAX_BYTES {
            info!(target: AUTH_EVENTS, %user_id, reason = "wrong_password", "login failed");
            return Err(AuthError::InvalidCredentials.into());
        }

        let now = self.ports.clock.now();
        let session = Session {
            id: self.ports.ids.session_id(),
            user_id,
            refresh_token_id: self.ports.ids.token_id(),
            created_at: now,
            expires_at: now + self.lifetimes.refresh,
            revoked_at: None,
        };
        self.ports.sessions.create(&session)?;
        let pair = self.issue(&session, now)?;
        info!(target: AUTH_EVENTS, %user_id, session_id = %session.id, "login succeeded");
        Ok(pair)
    }

    /// Trades a refresh token for a new pair, rotating the refresh token.
    ///
    /// # Errors
    /// [`AuthError::TokenExpired`], [`AuthError::InvalidToken`],
    /// [`AuthError::WrongTokenType`] for an access token,
    /// [`AuthError::TokenRevoked`] for a logged-out session or a reused
    /// refresh token (which revokes the session); store and codec failures.
    pub fn refresh(&self, refresh_token: &str) -> Result<TokenPair, DomainError> {
        let claims = self.verify(refresh_token, TokenKind::Refresh)?;
        let now = self.ports.clock.now();
        let session = self.session_of(&claims, now)?;
        let next = self.ports.ids.token_id();
        let rotated =
            self.ports
                .sessions
                .rotate_refresh_token(&session.id, &claims.token_id, &next, now)?;
        if !rotated {
            self.ports.sessions.revoke(&session.id, now)?;
            warn!(
                target: AUTH_EVENTS,
                user_id = %session.user_id,
                session_id = %session.id,
                "refresh token reuse detected: session revoked"
            );
            return Err(AuthError::TokenRevoked.into());
        }
        let session = Session {
            refresh_token_id: next,
            ..session
        };
        let pair = self.issue(&session, now)?;
        info!(target: AUTH_EVENTS, user_id = %session.user_id, session_id = %session.id, "tokens refreshed");
        Ok(pair)
    }

    /// Checks an access token and its session.
    ///
    /// # Errors
    /// [`AuthError::TokenExpired`], [`AuthError::InvalidToken`] (also for a
    /// session that does not exist), [`AuthError::WrongTokenType`] for a
    /// refresh token, [`AuthError::TokenRevoked`]; store failures.
    pub fn authenticate(&self, access_token: &str) -> Result<Principal, DomainError> {
        let claims = self.verify(access_token, TokenKind::Access)?;
        let session = self.session_of(&claims, self.ports.clock.now())?;
        Ok(Principal {
            user_id: session.user_id,
            session_id: session.id,
        })
    }

    /// Ends the caller's login session: its access and refresh tokens stop
    /// working at once, on every instance sharing the store.
    ///
    /// A `refresh_token` of another of the caller's own sessions, if given
    /// and valid, ends that session too; anything else in it is ignored.
    ///
    /// # Errors
    /// Store failures.
    pub fn logout(
        &self,
        principal: &Principal,
        refresh_token: Option<&SecretString>,
    ) -> Result<(), DomainError> {
        let now = self.ports.clock.now();
        self.ports.sessions.revoke(&principal.session_id, now)?;
        let other_session = refresh_token
            .and_then(|token| self.verify(token.expose_secret(), TokenKind::Refresh).ok())
            .filter(|claims| {
                claims.user_id == principal.user_id && claims.session_id != principal.session_id
            });
        if let Some(claims) = other_session {
            self.ports.sessions.revoke(&claims.session_id, now)?;
        }
        info!(
            target: AUTH_EVENTS,
            user_id = %principal.user_id,
            session_id = %principal.session_id,
            "logged out"
        );
        Ok(())
    }

    /// Deletes the sessions past their expiry; their tokens are expired too.
    ///
    /// # Errors
    /// Store failures.
    pub fn purge_expired_sessions(&self) -> Result<u64, DomainError> {
        Ok(self.ports.sessions.delete_expired(self.ports.clock.now())?)
    }

    fn verify(&self, token: &str, expected: TokenKind) -> Result<Claims, DomainError> {
        let claims = self.ports.tokens.decode(token)?;
        if claims.kind == expected {
            Ok(claims)
        } else {
            Err(AuthError::WrongTokenType.into())
        }
    }

    /// The live session a verified token names.
    fn session_of(&self, claims: &Claims, now: OffsetDateTime) -> Result<Session, DomainError> {
        let session = self
            .ports
            .sessions
            .find(&claims.session_id)?
            .filter(|session| session.user_id == claims.user_id)
            .ok_or(AuthError::InvalidToken)?;
        session.ensure_active(now)?;
        Ok(session)
    }

    fn issue(&self, session: &Session, now: OffsetDateTime) -> Result<TokenPair, DomainError> {
        let claims = |kind, token_id, expires_at| Claims {
            user_id: session.user_id,
            session_id: session.id.clone(),
            token_id,
            kind,
            issued_at: now,
            expires_at,
        };
        let access = claims(
            TokenKind::Access,
            self.ports.ids.token_id(),
            now + self.lifetimes.access,
        );
        let refresh = claims(
            TokenKind::Refresh,
            session.refresh_token_id.clone(),
            session.expires_at,
        );
        Ok(TokenPair {
            access_token: self.ports.tokens.encode(&access)?.into(),
            refresh_token: self.ports.tokens.encode(&refresh)?.into(),
            expires_in: self.lifetimes.access.whole_seconds(),
        })
    }
}

#[cfg(test)]
mod tests {
    use mockall::predicate::{always, eq};

    use super::*;
    use crate::ports::{
        HashError, MockClock, MockIdGenerator, MockPasswordHasher, MockSessionRepository,
        MockTokenCodec, MockUserRepository, TokenError,
    };
    use crate::test_support::{NOW, SESSION_TTL, session, session_id, token_id, user_id};
    use crate::{PasswordHash, UserCredentials};

    const ACCESS_TTL: Duration = Duration::hours(1);

    /// Mocks with the boring expectations set: a fixed clock, fixed ids, and a
    /// codec that encodes a token as `type:jti`.
    struct Mocks {
        users: MockUserRepository,
        sessions: MockSessionRepository,
        hasher: MockPasswordHasher,
        tokens: MockTokenCodec,
    }

    impl Mocks {
        fn new() -> Self {
            let mut tokens = MockTokenCodec::new();
            tokens
                .expect_encode()
                .returning(|c| Ok(format!("{}:{}", c.kind.as_str(), c.token_id)));
            Self {
                users: MockUserRepository::new(),
                sessions: MockSessionRepository::new(),
                hasher: MockPasswordHasher::new(),
                tokens,
            }
        }

        /// The codec decodes every token to `claims`.
        fn decoding_to(mut self, claims: Claims) -> Self {
            self.tokens
                .expect_decode()
                .returning(move |_| Ok(claims.clone()));
            self
        }

        fn service(self) -> AuthService {
            let mut clock = MockClock::new();
            clock.expect_now().return_const(NOW);
            let mut ids = MockIdGenerator::new();
            ids.expect_session_id().returning(|| session_id(1));
            ids.expect_token_id().returning(|| token_id(2));
            AuthService::new(
                AuthPorts {
                    users: Arc::new(self.users),
                    sessions: Arc::new(self.sessions),
                    hasher: Arc::new(self.hasher),
                    tokens: Arc::new(self.tokens),
                    clock: Arc::new(clock),
                    ids: Arc::new(ids),
                },
                TokenLifetimes {
                    access: ACCESS_TTL,
                    refresh: SESSION_TTL,
                },
            )
        }
    }

    fn claims(kind: TokenKind, user: i64) -> Claims {
        Claims {
            user_id: user_id(user),
            session_id: session_id(1),
            token_id: token_id(1),
            kind,
            issued_at: NOW,
            expires_at: NOW + ACCESS_TTL,
        }
    }

    fn alice() -> User {
        User {
            id: user_id(1),
            username: Username::parse("alice").unwrap(),
            created_at: NOW,
        }
    }

    fn attempt(username: &str, password: &str) -> LoginAttempt {
        LoginAttempt {
            username: username.into(),
            password: SecretString::from(password),
        }
    }

    fn hash(raw: &str) -> PasswordHash {
        PasswordHash::new(raw.into())
    }

    fn assert_auth_error<T: std::fmt::Debug>(result: Result<T, DomainError>, expected: AuthError) {
        match result {
            Err(DomainError::Unauthorized(actual)) => assert_eq!(actual, expected),
            other => panic!("expected {expected:?}, got {other:?}"),
        }
    }

    fn new_password() -> Password {
        Password::parse(SecretString::from("correct horse")).unwrap()
    }

    #[test]
    fn register_stores_the_hash_not_the_password() {
        let mut mocks = Mocks::new();
        mocks
            .hasher
            .expect_hash()
            .with(eq("correct horse"))
            .times(1)
            .returning(|_| Ok(hash("$2b$hash")));
        mocks
            .users
            .expect_create()
            .withf(|new| new.password_hash == hash("$2b$hash") && new.created_at == NOW)
            .times(1)
            .returning(|_| Ok(alice()));
        let user = mocks
            .service()
            .register(Username::parse("alice").unwrap(), new_password());
        assert_eq!(user.unwrap(), alice());
    }

    #[test]
    fn register_of_a_taken_username_is_a_conflict() {
        let mut mocks = Mocks::new();
        mocks
            .hasher
            .expect_hash()
            .returning(|_| Ok(hash("$2b$hash")));
        mocks
            .users
            .expect_create()
            .returning(|_| Err(RepositoryError::Conflict));
        let result = mocks
            .service()
            .register(Username::parse("alice").unwrap(), new_password());
        assert!(
            matches!(result, Err(DomainError::UsernameTaken)),
            "{result:?}"
        );
    }

    #[test]
    fn register_reports_a_hasher_failure_as_internal() {
        let mut mocks = Mocks::new();
        mocks
            .hasher
            .expect_hash()
            .returning(|_| Err(HashError("broken".into())));
        mocks.users.expect_create().never();
        let result = mocks
            .service()
            .register(Username::parse("alice").unwrap(), new_password());
        assert!(
            matches!(result, Err(DomainError::Internal(_))),
            "{result:?}"
        );
    }

    #[test]
    fn login_opens_a_session_and_returns_a_pair() {
        let mut mocks = Mocks::new();
        mocks.users.expect_find_credentials().returning(|_| {
            Ok(Some(UserCredentials {
                user: alice(),
                password_hash: hash("$2b$alice"),
            }))
        });
        mocks
            .hasher
            .expect_verify()
            .with(eq("correct horse"), eq(hash("$2b$alice")))
            .times(1)
            .returning(|_, _| Ok(true));
        mocks
            .sessions
            .expect_create()
            .withf(|s| {
                s.user_id == user_id(1)
                    && s.id == session_id(1)
                    && s.refresh_token_id == token_id(2)
                    && s.expires_at == NOW + SESSION_TTL
                    && s.revoked_at.is_none()
            })
            .times(1)
            .returning(|_| Ok(()));
        let pair = mocks
            .service()
            .login(&attempt("alice", "correct horse"))
            .unwrap();
        assert_eq!(pair.expires_in, 3600);
        assert_eq!(
            pair.access_token.expose_secret(),
            format!("access:{}", token_id(2))
        );
        assert_eq!(
            pair.refresh_token.expose_secret(),
            format!("refresh:{}", token_id(2))
        );
    }

    #[test]
    fn login_of_an_unknown_user_still_spends_one_verification_on_the_dummy_hash() {
        let mut mocks = Mocks::new();
        mocks
            .users
            .expect_find_credentials()
            .times(1)
            .returning(|_| Ok(None));
        mocks
            .hasher
            .expect_dummy_hash()
            .times(1)
            .returning(|| hash("$2b$dummy"));
        mocks
            .hasher
            .expect_verify()
            .with(always(), eq(hash("$2b$dummy")))
            .times(1)
            .returning(|_, _| Ok(false));
        mocks.sessions.expect_create().never();
        assert_auth_error(
            mocks.service().login(&attempt("nobody", "whatever1")),
            AuthError::InvalidCredentials,
        );
    }

    #[test]
    fn login_with_a_malformed_username_also_spends_one_verification() {
        let mut mocks = Mocks::new();
        mocks.users.expect_find_credentials().never();
        mocks
            .hasher
            .expect_dummy_hash()
            .returning(|| hash("$2b$dummy"));
        mocks
            .hasher
            .expect_verify()
            .times(1)
            .returning(|_, _| Ok(false));
        assert_auth_error(
            mocks.service().login(&attempt("' OR 1=1 --", "x")),
            AuthError::InvalidCredentials,
        );
    }

    #[test]
    fn login_with_a_wrong_password_opens_no_session() {
        let mut mocks = Mocks::new();
        mocks.users.expect_find_credentials().returning(|_| {
            Ok(Some(UserCredentials {
                user: alice(),
                password_hash: hash("$2b$alice"),
            }))
        });
        mocks
            .hasher
            .expect_verify()
            .times(1)
            .returning(|_, _| Ok(false));
        mocks.sessions.expect_create().never();
        assert_auth_error(
            mocks.service().login(&attempt("alice", "wrong one")),
            AuthError::InvalidCredentials,
        );
    }

    #[test]
    fn login_with_a_password_past_72_bytes_fails_even_if_the_prefix_matches() {
        let mut mocks = Mocks::new();
        mocks.users.expect_find_credentials().returning(|_| {
            Ok(Some(UserCredentials {
                user: alice(),
                password_hash: hash("$2b$alice"),
            }))
        });
        // bcrypt would say yes: it only reads the first 72 bytes.
        mocks
            .hasher
            .expect_verify()
            .times(1)
            .returning(|_, _| Ok(true));
        mocks.sessions.expect_create().never();
        let long = "p".repeat(73);
        assert_auth_error(
            mocks.service().login(&attempt("alice", &long)),
            AuthError::InvalidCredentials,
        );
    }

    #[test]
    fn refresh_rotates_the_refresh_token() {
        let mut mocks = Mocks::new().decoding_to(claims(TokenKind::Refresh, 1));
        mocks
            .sessions
            .expect_find()
            .with(eq(session_id(1)))
            .returning(|_| Ok(Some(session(1))));
        mocks
            .sessions
            .expect_rotate_refresh_token()
            .with(eq(session_id(1)), eq(token_id(1)), eq(token_id(2)), eq(NOW))
            .times(1)
            .returning(|_, _, _, _| Ok(true));
        mocks.sessions.expect_revoke().never();
        let pair = mocks.service().refresh("refresh-token").unwrap();
        assert_eq!(
            pair.refresh_token.expose_secret(),
            format!("refresh:{}", token_id(2))
        );
    }

    #[test]
    fn reuse_of_a_rotated_refresh_token_revokes_the_session() {
        let mut mocks = Mocks::new().decoding_to(claims(TokenKind::Refresh, 1));
        mocks
            .sessions
            .expect_find()
            .returning(|_| Ok(Some(session(1))));
        mocks
            .sessions
            .expect_rotate_refresh_token()
            .returning(|_, _, _, _| Ok(false));
        mocks
            .sessions
            .expect_revoke()
            .with(eq(session_id(1)), eq(NOW))
            .times(1)
            .returning(|_, _| Ok(()));
        assert_auth_error(
            mocks.service().refresh("old-refresh-token"),
            AuthError::TokenRevoked,
        );
    }

    #[test]
    fn an_access_token_cannot_refresh() {
        let mut mocks = Mocks::new().decoding_to(claims(TokenKind::Access, 1));
        mocks.sessions.expect_find().never();
        mocks.sessions.expect_rotate_refresh_token().never();
        assert_auth_error(
            mocks.service().refresh("access-token"),
            AuthError::WrongTokenType,
        );
    }

    #[test]
    fn refresh_of_a_logged_out_session_is_revoked_without_rotation() {
        let mut mocks = Mocks::new().decoding_to(claims(TokenKind::Refresh, 1));
        mocks.sessions.expect_find().returning(|_| {
            Ok(Some(Session {
                revoked_at: Some(NOW),
                ..session(1)
            }))
        });
        mocks.sessions.expect_rotate_refresh_token().never();
        assert_auth_error(
            mocks.service().refresh("refresh-token"),
            AuthError::TokenRevoked,
        );
    }

    #[test]
    fn refresh_with_an_expired_or_invalid_token_says_which() {
        for (error, expected) in [
            (TokenError::Expired, AuthError::TokenExpired),
            (TokenError::Invalid, AuthError::InvalidToken),
        ] {
            let mut mocks = Mocks::new();
            let mut error = Some(error);
            mocks
                .tokens
                .expect_decode()
                .returning(move |_| Err(error.take().unwrap()));
            mocks.sessions.expect_find().never();
            assert_auth_error(mocks.service().refresh("token"), expected);
        }
    }

    #[test]
    fn a_token_naming_a_session_of_another_user_is_invalid() {
        let mut mocks = Mocks::new().decoding_to(claims(TokenKind::Refresh, 2));
        mocks
            .sessions
            .expect_find()
            .returning(|_| Ok(Some(session(1))));
        mocks.sessions.expect_rotate_refresh_token().never();
        assert_auth_error(mocks.service().refresh("forged"), AuthError::InvalidToken);
    }

    #[test]
    fn authenticate_accepts_an_access_token_of_a_live_session() {
        let mut mocks = Mocks::new().decoding_to(claims(TokenKind::Access, 1));
        mocks
            .sessions
            .expect_find()
            .returning(|_| Ok(Some(session(1))));
        let principal = mocks.service().authenticate("access-token").unwrap();
        assert_eq!(
            principal,
            Principal {
                user_id: user_id(1),
                session_id: session_id(1)
            }
        );
    }

    #[test]
    fn a_refresh_token_cannot_authenticate() {
        let mut mocks = Mocks::new().decoding_to(claims(TokenKind::Refresh, 1));
        mocks.sessions.expect_find().never();
        assert_auth_error(
            mocks.service().authenticate("refresh-token"),
            AuthError::WrongTokenType,
        );
    }

    #[test]
    fn authenticate_refuses_revoked_expired_and_unknown_sessions() {
        let cases = [
            (
                Some(Session {
                    revoked_at: Some(NOW),
                    ..session(1)
                }),
                AuthError::TokenRevoked,
            ),
            (
                Some(Session {
                    expires_at: NOW,
                    ..session(1)
                }),
                AuthError::TokenExpired,
            ),
            (None, AuthError::InvalidToken),
        ];
        for (stored, expected) in cases {
            let mut mocks = Mocks::new().decoding_to(claims(TokenKind::Access, 1));
            mocks
                .sessions
                .expect_find()
                .returning(move |_| Ok(stored.clone()));
            assert_auth_error(mocks.service().authenticate("access-token"), expected);
        }
    }

    #[test]
    fn authenticate_reports_a_store_outage_as_unavailable() {
        let mut mocks = Mocks::new().decoding_to(claims(TokenKind::Access, 1));
        mocks
            .sessions
            .expect_find()
            .returning(|_| Err(RepositoryError::Unavailable("down".into())));
        let result = mocks.service().authenticate("access-token");
        assert!(
            matches!(result, Err(DomainError::Unavailable(_))),
            "{result:?}"
        );
    }

    fn principal() -> Principal {
        Principal {
            user_id: user_id(1),
            session_id: session_id(1),
        }
    }

    #[test]
    fn logout_revokes_the_session_of_the_access_token() {
        let mut mocks = Mocks::new();
        mocks
            .sessions
            .expect_revoke()
            .with(eq(session_id(1)), eq(NOW))
            .times(1)
            .returning(|_, _| Ok(()));
        assert!(mocks.service().logout(&principal(), None).is_ok());
    }

    #[test]
    fn logout_with_a_refresh_token_of_another_own_session_revokes_both() {
        let other = Claims {
            session_id: session_id(9),
            ..claims(TokenKind::Refresh, 1)
        };
        let mut mocks = Mocks::new().decoding_to(other);
        mocks
            .sessions
            .expect_revoke()
            .with(eq(session_id(1)), eq(NOW))
            .times(1)
            .returning(|_, _| Ok(()));
        mocks
            .sessions
            .expect_revoke()
            .with(eq(session_id(9)), eq(NOW))
            .times(1)
            .returning(|_, _| Ok(()));
        assert!(
            mocks
                .service()
                .logout(&principal(), Some(&SecretString::from("refresh")))
                .is_ok()
        );
    }

    #[test]
    fn logout_never_revokes_a_session_of_someone_else() {
        let foreign = Claims {
            session_id: session_id(9),
            ..claims(TokenKind::Refresh, 2)
        };
        let mut mocks = Mocks::new().decoding_to(foreign);
        mocks
            .sessions
            .expect_revoke()
            .with(eq(session_id(1)), eq(NOW))
            .times(1)
            .returning(|_, _| Ok(()));
        mocks
            .sessions
            .expect_revoke()
            .with(eq(session_id(9)), always())
            .never();
        assert!(
            mocks
                .service()
                .logout(&principal(), Some(&SecretString::from("stolen")))
                .is_ok()
        );
    }

    #[test]
    fn user_lookup_of_a_missing_user_is_not_found() {
        let mut mocks = Mocks::new();
        mocks.users.expect_find().returning(|_| Ok(None));
        assert!(matches!(
            mocks.service().user(user_id(5)),
            Err(DomainError::NotFound(Resource::User))
        ));
    }

    #[test]
    fn purge_deletes_sessions_expired_now() {
        let mut mocks = Mocks::new();
        mocks
            .sessions
            .expect_delete_expired()
            .with(eq(NOW))
            .times(1)
            .returning(|_| Ok(3));
        assert_eq!(mocks.service().purge_expired_sessions().unwrap(), 3);
    }
}
