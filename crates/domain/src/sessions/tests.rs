//! Unit tests of [`SessionService`](super::SessionService), on mocks.

use mockall::predicate::{always, eq};

use super::*;
use crate::ports::{
    MockClock, MockIdGenerator, MockMfaRepository, MockPasswordHasher, MockSecurityEventRepository,
    MockSessionRepository, MockTokenCodec, MockTwoFactor, MockUserRepository, RepositoryError,
    TokenError,
};
use crate::test_support::{NOW, SESSION_TTL, client, session, session_id, token_id, user_id};
use crate::{PasswordHash, User, UserCredentials};

const ACCESS_TTL: Duration = Duration::hours(1);

/// Mocks with the boring expectations set: a fixed clock, fixed ids, and a
/// codec that encodes a token as `type:jti`.
struct Mocks {
    users: MockUserRepository,
    sessions: MockSessionRepository,
    events: MockSecurityEventRepository,
    mfa: MockMfaRepository,
    hasher: MockPasswordHasher,
    tokens: MockTokenCodec,
}

impl Mocks {
    fn new() -> Self {
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_max_password_bytes().return_const(72_usize);
        // No user has two-factor login on: a right password logs in.
        let mut mfa = MockMfaRepository::new();
        mfa.expect_totp().returning(|_| Ok(None));
        let mut tokens = MockTokenCodec::new();
        tokens
            .expect_encode()
            .returning(|c| Ok(format!("{}:{}", c.kind.as_str(), c.token_id)));
        Self {
            users: MockUserRepository::new(),
            sessions: MockSessionRepository::new(),
            events: MockSecurityEventRepository::new(),
            mfa,
            hasher,
            tokens,
        }
    }

    /// The codec decodes every token to `claims`.
    fn decoding_to(mut self, claims: Claims) -> Self {
        self.tokens
            .expect_decode()
            .returning(move |_, _| Ok(claims.clone()));
        self
    }

    fn service(self) -> SessionService {
        let mut clock = MockClock::new();
        clock.expect_now().return_const(NOW);
        let mut ids = MockIdGenerator::new();
        ids.expect_session_id().returning(|| session_id(1));
        ids.expect_token_id().returning(|| token_id(2));
        SessionService::new(
            SessionPorts {
                users: Arc::new(self.users),
                sessions: Arc::new(self.sessions),
                events: Arc::new(self.events),
                mfa: Arc::new(self.mfa),
                two_factor: Arc::new(MockTwoFactor::new()),
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

/// Whether `event` is a `kind` of user 1 from [`client`], now, in `session`.
fn is_event(event: &SecurityEvent, kind: SecurityEventKind, session: Option<SessionId>) -> bool {
    *event
        == SecurityEvent {
            kind,
            user_id: Some(user_id(1)),
            session_id: session,
            client: client(),
            provider: None,
            at: NOW,
        }
}

fn assert_auth_error<T: fmt::Debug>(result: Result<T, DomainError>, expected: AuthError) {
    match result {
        Err(DomainError::Unauthorized(actual)) => assert_eq!(actual, expected),
        other => panic!("expected {expected:?}, got {other:?}"),
    }
}

#[test]
fn login_opens_a_session_and_returns_a_pair() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().returning(|_| {
        Ok(Some(UserCredentials {
            user: alice(),
            password_hash: Some(hash("$2b$alice")),
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
        .withf(|s, event| {
            s.user_id == user_id(1)
                && s.id == session_id(1)
                && s.refresh_token_id == token_id(2)
                && s.expires_at == NOW + SESSION_TTL
                && s.revoked_at.is_none()
                && is_event(
                    event,
                    SecurityEventKind::LoginSucceeded,
                    Some(session_id(1)),
                )
        })
        .times(1)
        .returning(|_, _| Ok(()));
    mocks.events.expect_record().never();
    let pair = mocks
        .service()
        .login(&attempt("alice", "correct horse"), &client())
        .unwrap()
        .into_tokens()
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
    mocks
        .events
        .expect_record()
        .withf(|event| {
            *event
                == SecurityEvent {
                    kind: SecurityEventKind::LoginFailed,
                    user_id: None,
                    session_id: None,
                    client: client(),
                    provider: None,
                    at: NOW,
                }
        })
        .times(1)
        .returning(|_| Ok(()));
    assert_auth_error(
        mocks
            .service()
            .login(&attempt("nobody", "whatever1"), &client()),
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
    mocks.events.expect_record().times(1).returning(|_| Ok(()));
    assert_auth_error(
        mocks
            .service()
            .login(&attempt("' OR 1=1 --", "x"), &client()),
        AuthError::InvalidCredentials,
    );
}

#[test]
fn login_with_a_wrong_password_opens_no_session() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().returning(|_| {
        Ok(Some(UserCredentials {
            user: alice(),
            password_hash: Some(hash("$2b$alice")),
        }))
    });
    mocks
        .hasher
        .expect_verify()
        .times(1)
        .returning(|_, _| Ok(false));
    mocks.sessions.expect_create().never();
    mocks
        .events
        .expect_record()
        .withf(|event| is_event(event, SecurityEventKind::LoginFailed, None))
        .times(1)
        .returning(|_| Ok(()));
    assert_auth_error(
        mocks
            .service()
            .login(&attempt("alice", "wrong one"), &client()),
        AuthError::InvalidCredentials,
    );
}

#[test]
fn login_with_a_password_past_72_bytes_fails_even_if_the_prefix_matches() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().returning(|_| {
        Ok(Some(UserCredentials {
            user: alice(),
            password_hash: Some(hash("$2b$alice")),
        }))
    });
    // bcrypt would say yes: it only reads the first 72 bytes.
    mocks
        .hasher
        .expect_verify()
        .times(1)
        .returning(|_, _| Ok(true));
    mocks.sessions.expect_create().never();
    mocks.events.expect_record().times(1).returning(|_| Ok(()));
    let long = "p".repeat(73);
    assert_auth_error(
        mocks.service().login(&attempt("alice", &long), &client()),
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
        .withf(|id, current, next, now, event| {
            (id, current, next, now) == (&session_id(1), &token_id(1), &token_id(2), &NOW)
                && is_event(event, SecurityEventKind::Refreshed, Some(session_id(1)))
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(true));
    mocks.sessions.expect_revoke().never();
    let pair = mocks.service().refresh("refresh-token", &client()).unwrap();
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
        .returning(|_, _, _, _, _| Ok(false));
    mocks
        .sessions
        .expect_revoke()
        .withf(|id, at, event| {
            (id, at) == (&session_id(1), &NOW)
                && is_event(
                    event,
                    SecurityEventKind::RefreshReuseDetected,
                    Some(session_id(1)),
                )
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    assert_auth_error(
        mocks.service().refresh("old-refresh-token", &client()),
        AuthError::TokenRevoked,
    );
}

#[test]
fn an_access_token_cannot_refresh() {
    let mut mocks = Mocks::new().decoding_to(claims(TokenKind::Access, 1));
    mocks.sessions.expect_find().never();
    mocks.sessions.expect_rotate_refresh_token().never();
    assert_auth_error(
        mocks.service().refresh("access-token", &client()),
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
        mocks.service().refresh("refresh-token", &client()),
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
            .returning(move |_, _| Err(error.take().unwrap()));
        mocks.sessions.expect_find().never();
        assert_auth_error(mocks.service().refresh("token", &client()), expected);
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
    assert_auth_error(
        mocks.service().refresh("forged", &client()),
        AuthError::InvalidToken,
    );
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
fn verify_access_checks_the_token_alone_and_the_session_comes_after() {
    let mut mocks = Mocks::new().decoding_to(claims(TokenKind::Access, 1));
    mocks
        .sessions
        .expect_find()
        .times(1)
        .returning(|_| Ok(Some(session(1))));
    let service = mocks.service();
    let access = service.verify_access("access-token").unwrap();
    assert_eq!(access.claims(), &claims(TokenKind::Access, 1));
    assert_eq!(
        service.authenticate_verified(&access).unwrap(),
        Principal {
            user_id: user_id(1),
            session_id: session_id(1)
        },
        "one session read, in the second step only"
    );
}

#[test]
fn verify_access_refuses_a_bad_token_without_the_store() {
    let mut mocks = Mocks::new();
    mocks
        .tokens
        .expect_decode()
        .returning(|_, _| Err(TokenError::Invalid));
    mocks.sessions.expect_find().never();
    assert_auth_error(
        mocks.service().verify_access("forged"),
        AuthError::InvalidToken,
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
        .withf(|id, at, event| {
            (id, at) == (&session_id(1), &NOW)
                && is_event(event, SecurityEventKind::LoggedOut, Some(session_id(1)))
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    assert!(
        mocks
            .service()
            .logout(&principal(), None, &client())
            .is_ok()
    );
}

#[test]
fn logout_with_a_refresh_token_of_another_own_session_revokes_both() {
    let other = Claims {
        session_id: session_id(9),
        ..claims(TokenKind::Refresh, 1)
    };
    let mut mocks = Mocks::new().decoding_to(other);
    for ended in [1, 9] {
        mocks
            .sessions
            .expect_revoke()
            .withf(move |id, at, event| {
                (id, at) == (&session_id(ended), &NOW)
                    && is_event(event, SecurityEventKind::LoggedOut, Some(session_id(ended)))
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
    }
    assert!(
        mocks
            .service()
            .logout(
                &principal(),
                Some(&SecretString::from("refresh")),
                &client()
            )
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
        .with(eq(session_id(1)), eq(NOW), always())
        .times(1)
        .returning(|_, _, _| Ok(()));
    mocks
        .sessions
        .expect_revoke()
        .with(eq(session_id(9)), always(), always())
        .never();
    assert!(
        mocks
            .service()
            .logout(&principal(), Some(&SecretString::from("stolen")), &client())
            .is_ok()
    );
}

#[test]
fn a_limited_login_costs_no_hash_and_no_lookup() {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_verify().never();
    mocks.users.expect_find_credentials().never();
    let mut limiter = crate::ports::MockRateLimiter::new();
    limiter.expect_hit().returning(|_, _, _| {
        Ok(crate::RateDecision::Limited {
            retry_after: Duration::milliseconds(1500),
        })
    });
    let limit = crate::RateLimit {
        max: 1,
        window: Duration::MINUTE,
    };
    let service = mocks.service().with_rate_limits(
        Arc::new(limiter),
        RateLimits {
            login_failures_per_username: limit,
            login_per_address: limit,
            register_per_address: limit,
            refresh_per_address: limit,
        },
    );
    let result = service.login(&attempt("alice", "correct horse"), &client());
    // Whole seconds, rounded up.
    assert!(
        matches!(
            result,
            Err(DomainError::RateLimited {
                retry_after_secs: 2
            })
        ),
        "{result:?}"
    );
}

/// The whole life of a login on the in-memory adapters, where mocks would
/// only restate the code: the clock moves, tokens expire, a reuse revokes.
mod on_in_memory_adapters {
    use std::net::IpAddr;

    use secrecy::ExposeSecret;

    use super::*;
    use crate::testing::{
        EPOCH, FakeTwoFactor, InMemoryRateLimiter, InMemoryStore, InMemoryTokens, ManualClock,
        PlainHasher, SequentialIds,
    };
    use crate::{PageRequest, RateLimit, RateLimits, UserPorts, UserService};

    const LIMITS: RateLimits = RateLimits {
        login_failures_per_username: RateLimit {
            max: 5,
            window: Duration::minutes(15),
        },
        login_per_address: RateLimit {
            max: 30,
            window: Duration::minutes(1),
        },
        register_per_address: RateLimit {
            max: 20,
            window: Duration::hours(1),
        },
        refresh_per_address: RateLimit {
            max: 2,
            window: Duration::minutes(1),
        },
    };

    fn address(last: u8) -> Client {
        Client {
            address: Some(IpAddr::from([192, 0, 2, last])),
            user_agent: None,
        }
    }

    fn attempt_of(username: &str, password: &str) -> LoginAttempt {
        LoginAttempt {
            username: username.into(),
            password: SecretString::from(password),
        }
    }

    #[test]
    fn five_failures_lock_a_username_even_for_the_right_password_until_the_window_ends() {
        let (users, sessions, clock) = services();
        let sessions = sessions.with_rate_limits(Arc::new(InMemoryRateLimiter::default()), LIMITS);
        users
            .register(
                Username::parse("bob").unwrap(),
                SecretString::from("battery staple"),
                &Client::default(),
            )
            .unwrap();
        for n in 0..5 {
            assert_auth_error(
                sessions.login(&attempt_of("alice", "wrong password"), &address(n)),
                AuthError::InvalidCredentials,
            );
        }
        clock.advance(Duration::minutes(5));
        let limited = sessions.login(&attempt_of("alice", "correct horse"), &address(9));
        assert!(
            matches!(
                limited,
                Err(DomainError::RateLimited {
                    retry_after_secs: 600
                })
            ),
            "{limited:?}"
        );
        assert!(
            sessions
                .login(&attempt_of("bob", "battery staple"), &address(9))
                .is_ok(),
            "another name is not limited"
        );
        clock.advance(Duration::minutes(10));
        assert!(
            sessions
                .login(&attempt_of("alice", "correct horse"), &address(9))
                .is_ok()
        );
    }

    #[test]
    fn every_step_of_a_login_leaves_its_event_in_the_users_trail() {
        use SecurityEventKind::{
            LoggedOut, LoginFailed, LoginRateLimited, LoginSucceeded, RefreshReuseDetected,
            Refreshed, Registered,
        };
        let (users, sessions, clock) = services();
        let sessions = sessions.with_rate_limits(Arc::new(InMemoryRateLimiter::default()), LIMITS);
        let from = address(7);
        sessions
            .login(&attempt_of("alice", "wrong password"), &from)
            .unwrap_err();
        sessions
            .login(&attempt_of("nobody", "wrong password"), &from)
            .unwrap_err();
        let pair = login_as(&sessions, "alice", &from);
        let renewed = sessions
            .refresh(pair.refresh_token.expose_secret(), &from)
            .unwrap();
        let principal = sessions
            .authenticate(renewed.access_token.expose_secret())
            .unwrap();
        sessions
            .refresh(pair.refresh_token.expose_secret(), &from)
            .unwrap_err();
        let second = login_as(&sessions, "alice", &from);
        let second = sessions
            .authenticate(second.access_token.expose_secret())
            .unwrap();
        sessions.logout(&second, None, &from).unwrap();
        for _ in 0..4 {
            sessions
                .login(&attempt_of("alice", "wrong password"), &from)
                .unwrap_err();
        }
        clock.advance(Duration::SECOND);
        sessions
            .login(&attempt_of("alice", "correct horse"), &from)
            .unwrap_err();

        let trail = users
            .events(
                principal.user_id,
                PageRequest::new(None, Some(100)).unwrap(),
            )
            .unwrap();
        let kinds: Vec<_> = trail.items.iter().map(|r| r.event.kind).collect();
        let mut expected = vec![LoginRateLimited];
        expected.extend([LoginFailed; 4]);
        expected.extend([
            LoggedOut,
            LoginSucceeded,
            RefreshReuseDetected,
            Refreshed,
            LoginSucceeded,
            LoginFailed,
            Registered,
        ]);
        assert_eq!(
            kinds, expected,
            "newest first; the unknown name's failure is no one's"
        );
        let sessions_named: Vec<_> = trail.items[5..9]
            .iter()
            .map(|r| r.event.session_id.clone())
            .collect();
        assert_eq!(
            sessions_named,
            [
                Some(second.session_id.clone()),
                Some(second.session_id),
                Some(principal.session_id.clone()),
                Some(principal.session_id)
            ]
        );
        assert!(
            trail.items[..9]
                .iter()
                .all(|r| r.event.client == from && r.event.user_id == Some(principal.user_id)),
            "each names the user and the client"
        );
        assert_eq!(trail.items[0].event.at, EPOCH + Duration::SECOND);
    }

    #[test]
    fn refreshes_are_limited_per_address() {
        let (_, sessions, _) = services();
        let pair = login(&sessions);
        let sessions = sessions.with_rate_limits(Arc::new(InMemoryRateLimiter::default()), LIMITS);
        let renewed = sessions
            .refresh(pair.refresh_token.expose_secret(), &address(1))
            .unwrap();
        let again = sessions
            .refresh(renewed.refresh_token.expose_secret(), &address(1))
            .unwrap();
        let limited = sessions.refresh(again.refresh_token.expose_secret(), &address(1));
        assert!(
            matches!(limited, Err(DomainError::RateLimited { .. })),
            "{limited:?}"
        );
        assert!(
            sessions
                .refresh(again.refresh_token.expose_secret(), &address(2))
                .is_ok(),
            "another address is not limited, and the limited refresh spent no token"
        );
    }

    fn services() -> (UserService, SessionService, Arc<ManualClock>) {
        services_with(&["alice"])
    }

    /// The services on one in-memory store, with `names` registered, each
    /// with the password `correct horse`.
    pub(super) fn services_with(names: &[&str]) -> (UserService, SessionService, Arc<ManualClock>) {
        let store = Arc::new(InMemoryStore::default());
        let clock = Arc::new(ManualClock::default());
        let two_factor = Arc::new(FakeTwoFactor::default());
        let users = UserService::new(UserPorts {
            users: store.clone(),
            events: store.clone(),
            mfa: store.clone(),
            two_factor: two_factor.clone(),
            hasher: Arc::new(PlainHasher),
            clock: clock.clone(),
        });
        let sessions = SessionService::new(
            SessionPorts {
                users: store.clone(),
                sessions: store.clone(),
                events: store.clone(),
                mfa: store,
                two_factor,
                hasher: Arc::new(PlainHasher),
                tokens: Arc::new(InMemoryTokens::default()),
                clock: clock.clone(),
                ids: Arc::new(SequentialIds::default()),
            },
            TokenLifetimes {
                access: ACCESS_TTL,
                refresh: SESSION_TTL,
            },
        );
        for name in names {
            users
                .register(
                    Username::parse(*name).unwrap(),
                    SecretString::from("correct horse"),
                    &Client::default(),
                )
                .unwrap();
        }
        (users, sessions, clock)
    }

    /// Logs `name` in with the password of [`services_with`].
    pub(super) fn login_as(sessions: &SessionService, name: &str, client: &Client) -> TokenPair {
        let attempt = LoginAttempt {
            username: name.into(),
            password: SecretString::from("correct horse"),
        };
        sessions
            .login(&attempt, client)
            .unwrap()
            .into_tokens()
            .unwrap()
    }

    fn login(sessions: &SessionService) -> TokenPair {
        login_as(sessions, "alice", &Client::default())
    }

    #[test]
    fn an_access_token_expires_with_the_clock_and_a_refresh_renews_it() {
        let (_, sessions, clock) = services();
        let pair = login(&sessions);
        clock.advance(ACCESS_TTL);
        assert_auth_error(
            sessions.authenticate(pair.access_token.expose_secret()),
            AuthError::TokenExpired,
        );
        let renewed = sessions
            .refresh(pair.refresh_token.expose_secret(), &Client::default())
            .unwrap();
        assert!(
            sessions
                .authenticate(renewed.access_token.expose_secret())
                .is_ok()
        );
        clock.advance(SESSION_TTL);
        assert_auth_error(
            sessions.refresh(renewed.refresh_token.expose_secret(), &Client::default()),
            AuthError::TokenExpired,
        );
    }

    #[test]
    fn a_reused_refresh_token_ends_the_session_for_every_token_of_it() {
        let (_, sessions, _) = services();
        let pair = login(&sessions);
        let other_login = login(&sessions);
        let renewed = sessions
            .refresh(pair.refresh_token.expose_secret(), &Client::default())
            .unwrap();
        assert_auth_error(
            sessions.refresh(pair.refresh_token.expose_secret(), &Client::default()),
            AuthError::TokenRevoked,
        );
        assert_auth_error(
            sessions.refresh(renewed.refresh_token.expose_secret(), &Client::default()),
            AuthError::TokenRevoked,
        );
        assert_auth_error(
            sessions.authenticate(renewed.access_token.expose_secret()),
            AuthError::TokenRevoked,
        );
        assert!(
            sessions
                .authenticate(other_login.access_token.expose_secret())
                .is_ok(),
            "another login of the same user lives on"
        );
    }
}

/// The account-security operations, on the in-memory adapters.
mod account_security {
    use secrecy::ExposeSecret;

    use super::on_in_memory_adapters::{login_as, services_with};
    use super::*;
    use crate::testing::{EPOCH, InMemoryRateLimiter};
    use crate::{PageRequest, PasswordRule, RateLimit, ValidationError};

    fn caller(sessions: &SessionService, pair: &TokenPair) -> Principal {
        sessions
            .authenticate(pair.access_token.expose_secret())
            .unwrap()
    }

    fn all() -> PageRequest {
        PageRequest::new(None, Some(100)).unwrap()
    }

    #[test]
    fn the_session_list_shows_live_sessions_newest_first_with_their_client_and_last_use() {
        let (_, sessions, clock) = services_with(&["alice", "bob"]);
        let first = login_as(&sessions, "alice", &client());
        clock.advance(Duration::MINUTE);
        let from_elsewhere = Client {
            address: Some(std::net::IpAddr::from([198, 51, 100, 4])),
            user_agent: None,
        };
        let second = login_as(&sessions, "alice", &from_elsewhere);
        let ended = login_as(&sessions, "alice", &client());
        login_as(&sessions, "bob", &client());
        sessions
            .logout(&caller(&sessions, &ended), None, &client())
            .unwrap();
        clock.advance(Duration::MINUTE);
        let renewed = sessions
            .refresh(first.refresh_token.expose_secret(), &client())
            .unwrap();

        let me = caller(&sessions, &renewed);
        let listed = sessions.sessions(&me, all()).unwrap();
        let seen: Vec<_> = listed
            .items
            .iter()
            .map(|s| (s.id.clone(), s.client.clone(), s.created_at, s.last_used_at))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    caller(&sessions, &second).session_id,
                    from_elsewhere,
                    EPOCH + Duration::MINUTE,
                    EPOCH + Duration::MINUTE
                ),
                (me.session_id, client(), EPOCH, EPOCH + Duration::minutes(2)),
            ],
            "live sessions of alice only, newest first, with the login's client and the last refresh"
        );
    }

    #[test]
    fn a_user_ends_another_of_their_sessions_but_never_someone_elses() {
        let (_, sessions, _) = services_with(&["alice", "bob"]);
        let first = login_as(&sessions, "alice", &client());
        let second = login_as(&sessions, "alice", &client());
        let bobs = login_as(&sessions, "bob", &client());
        let me = caller(&sessions, &first);
        let not_found = |result: Result<(), DomainError>| {
            assert!(
                matches!(result, Err(DomainError::NotFound(Resource::Session))),
                "{result:?}"
            );
        };
        not_found(sessions.end_session(&me, &caller(&sessions, &bobs).session_id, &client()));
        assert!(
            sessions
                .authenticate(bobs.access_token.expose_secret())
                .is_ok()
        );
        not_found(sessions.end_session(&me, &SessionId::from_bytes([7; 16]), &client()));

        let other = caller(&sessions, &second).session_id;
        sessions.end_session(&me, &other, &client()).unwrap();
        assert_auth_error(
            sessions.authenticate(second.access_token.expose_secret()),
            AuthError::TokenRevoked,
        );
        assert_auth_error(
            sessions.refresh(second.refresh_token.expose_secret(), &client()),
            AuthError::TokenRevoked,
        );
        assert!(
            sessions
                .authenticate(first.access_token.expose_secret())
                .is_ok()
        );
        not_found(sessions.end_session(&me, &other, &client()));
    }

    #[test]
    fn logout_all_ends_every_session_of_the_caller_and_no_one_elses() {
        let (users, sessions, _) = services_with(&["alice", "bob"]);
        let first = login_as(&sessions, "alice", &client());
        let second = login_as(&sessions, "alice", &client());
        let bobs = login_as(&sessions, "bob", &client());
        let me = caller(&sessions, &first);
        sessions.logout_all(&me, &client()).unwrap();
        for pair in [&first, &second] {
            assert_auth_error(
                sessions.authenticate(pair.access_token.expose_secret()),
                AuthError::TokenRevoked,
            );
        }
        assert!(
            sessions
                .authenticate(bobs.access_token.expose_secret())
                .is_ok()
        );
        let trail = users.events(me.user_id, all()).unwrap();
        assert_eq!(
            (
                trail.items[0].event.kind,
                trail.items[0].event.session_id.clone()
            ),
            (SecurityEventKind::LoggedOutAll, Some(me.session_id))
        );
    }

    #[test]
    fn a_password_change_keeps_the_callers_session_and_ends_the_others() {
        let (users, sessions, _) = services_with(&["alice"]);
        let first = login_as(&sessions, "alice", &client());
        let second = login_as(&sessions, "alice", &client());
        let me = caller(&sessions, &first);
        users
            .change_password(
                &me,
                &SecretString::from("correct horse"),
                SecretString::from("a new passphrase"),
                &client(),
            )
            .unwrap();
        assert!(
            sessions
                .authenticate(first.access_token.expose_secret())
                .is_ok()
        );
        assert_auth_error(
            sessions.refresh(second.refresh_token.expose_secret(), &client()),
            AuthError::TokenRevoked,
        );
        let old = LoginAttempt {
            username: "alice".into(),
            password: SecretString::from("correct horse"),
        };
        assert_auth_error(
            sessions.login(&old, &client()),
            AuthError::InvalidCredentials,
        );
        let new = LoginAttempt {
            password: SecretString::from("a new passphrase"),
            ..old
        };
        assert!(sessions.login(&new, &client()).is_ok());
        let trail = users.events(me.user_id, all()).unwrap();
        let kinds: Vec<_> = trail.items[..3].iter().map(|r| r.event.kind).collect();
        assert_eq!(
            kinds,
            [
                SecurityEventKind::LoginSucceeded,
                SecurityEventKind::LoginFailed,
                SecurityEventKind::PasswordChanged
            ]
        );
        assert_eq!(trail.items[2].event.session_id, Some(me.session_id));
    }

    #[test]
    fn a_password_change_needs_the_current_password_and_a_strong_new_one() {
        let (users, sessions, _) = services_with(&["alice"]);
        let pair = login_as(&sessions, "alice", &client());
        let me = caller(&sessions, &pair);
        let change = |current: &str, new: &str| {
            users.change_password(
                &me,
                &SecretString::from(current),
                SecretString::from(new.to_owned()),
                &client(),
            )
        };
        let wrong = change("not my password", "a new passphrase");
        assert!(
            matches!(wrong, Err(DomainError::WrongPassword)),
            "{wrong:?}"
        );
        let weak = change("correct horse", "alice-1234");
        assert!(
            matches!(
                weak,
                Err(DomainError::Validation(ValidationError::WeakPassword(
                    PasswordRule::ContainsUsername
                )))
            ),
            "{weak:?}"
        );
        assert!(
            sessions
                .authenticate(pair.access_token.expose_secret())
                .is_ok(),
            "nothing changed"
        );
    }

    #[test]
    fn wrong_current_passwords_count_like_failed_logins() {
        let (users, sessions, clock) = services_with(&["alice"]);
        let pair = login_as(&sessions, "alice", &client());
        let me = caller(&sessions, &pair);
        let limit = |max, window| RateLimit { max, window };
        let limits = RateLimits {
            login_failures_per_username: limit(5, Duration::minutes(15)),
            login_per_address: limit(100, Duration::MINUTE),
            register_per_address: limit(100, Duration::HOUR),
            refresh_per_address: limit(100, Duration::MINUTE),
        };
        let limiter = Arc::new(InMemoryRateLimiter::default());
        let users = users.with_rate_limits(limiter.clone(), limits);
        let sessions = sessions.with_rate_limits(limiter, limits);
        let change = |current: &str| {
            users.change_password(
                &me,
                &SecretString::from(current),
                SecretString::from("a new passphrase"),
                &client(),
            )
        };
        for _ in 0..5 {
            assert!(matches!(change("guess"), Err(DomainError::WrongPassword)));
        }
        let limited = change("correct horse");
        assert!(
            matches!(limited, Err(DomainError::RateLimited { .. })),
            "the right password too: {limited:?}"
        );
        let login = sessions.login(
            &LoginAttempt {
                username: "alice".into(),
                password: SecretString::from("correct horse"),
            },
            &client(),
        );
        assert!(
            matches!(login, Err(DomainError::RateLimited { .. })),
            "and logins of the name: {login:?}"
        );
        clock.advance(Duration::minutes(15));
        assert!(change("correct horse").is_ok());
    }
}

/// Two-factor login with TOTP, on the in-memory adapters and a manual clock.
mod two_factor {
    use secrecy::ExposeSecret;

    use super::on_in_memory_adapters::{login_as, services_with};
    use super::*;
    use crate::testing::{EPOCH, FakeTwoFactor, ManualClock};
    use crate::{PageRequest, SealedSecret, UserService, ValidationError};

    /// Alice with two-factor login on (confirmed at [`EPOCH`]), her caller,
    /// her sealed secret and her recovery codes.
    struct Enrolled {
        users: UserService,
        sessions: SessionService,
        clock: Arc<ManualClock>,
        caller: Principal,
        sealed: SealedSecret,
        recovery: Vec<SecretString>,
    }

    fn enrolled() -> Enrolled {
        let (users, sessions, clock) = services_with(&["alice"]);
        let pair = login_as(&sessions, "alice", &client());
        let caller = sessions
            .authenticate(pair.access_token.expose_secret())
            .unwrap();
        let enrolment = users.start_totp(&caller).unwrap();
        let code = FakeTwoFactor::code(&enrolment.sealed, EPOCH);
        let recovery = users.confirm_totp(&caller, &code, &client()).unwrap();
        Enrolled {
            users,
            sessions,
            clock,
            caller,
            sealed: enrolment.sealed,
            recovery,
        }
    }

    fn attempt() -> LoginAttempt {
        LoginAttempt {
            username: "alice".into(),
            password: SecretString::from("correct horse"),
        }
    }

    impl Enrolled {
        /// The first step: a right password; returns the `mfa_token`.
        fn first_step(&self) -> String {
            match self.sessions.login(&attempt(), &client()).unwrap() {
                LoginOutcome::SecondFactorRequired { mfa_token } => {
                    mfa_token.expose_secret().to_owned()
                }
                LoginOutcome::Tokens(_) => panic!("logged in without a second factor"),
            }
        }

        fn code_at(&self, at: OffsetDateTime) -> String {
            FakeTwoFactor::code(&self.sealed, at)
        }

        fn second_step(&self, token: &str, code: &str) -> Result<TokenPair, DomainError> {
            self.sessions.login_mfa(token, code, &client())
        }

        fn kinds(&self) -> Vec<SecurityEventKind> {
            let all = PageRequest::new(None, Some(100)).unwrap();
            let trail = self.users.events(self.caller.user_id, all).unwrap();
            trail.items.iter().map(|r| r.event.kind).collect()
        }
    }

    #[test]
    fn with_totp_on_a_right_password_opens_no_session_until_the_code() {
        let alice = enrolled();
        alice.clock.advance(Duration::minutes(1));
        let token = alice.first_step();
        let listed = alice
            .sessions
            .sessions(&alice.caller, PageRequest::default())
            .unwrap();
        assert_eq!(listed.total, 1, "only the enrolling session");
        let pair = alice
            .second_step(&token, &alice.code_at(alice.clock.now()))
            .unwrap();
        assert!(
            alice
                .sessions
                .authenticate(pair.access_token.expose_secret())
                .is_ok()
        );
        assert_eq!(
            alice.kinds()[..2],
            [
                SecurityEventKind::LoginSucceeded,
                SecurityEventKind::MfaEnabled
            ]
        );
    }

    #[test]
    fn codes_of_the_previous_current_and_next_step_are_accepted_and_others_refused() {
        for (offset, accepted) in [
            (-60, false),
            (-30, true),
            (0, true),
            (30, true),
            (60, false),
        ] {
            let alice = enrolled();
            alice.clock.advance(Duration::minutes(10));
            let token = alice.first_step();
            let code = alice.code_at(alice.clock.now() + Duration::seconds(offset));
            let result = alice.second_step(&token, &code);
            assert_eq!(result.is_ok(), accepted, "offset {offset}: {result:?}");
            if !accepted {
                assert_auth_error(result, AuthError::InvalidMfaCode);
            }
        }
    }

    #[test]
    fn a_code_is_accepted_once_and_the_confirming_one_never_again() {
        let alice = enrolled();
        let token = alice.first_step();
        assert_auth_error(
            alice.second_step(&token, &alice.code_at(EPOCH)),
            AuthError::InvalidMfaCode,
        );
        alice.clock.advance(Duration::seconds(30));
        let code = alice.code_at(alice.clock.now());
        assert!(alice.second_step(&token, &code).is_ok());
        let again = alice.first_step();
        assert_auth_error(alice.second_step(&again, &code), AuthError::InvalidMfaCode);
    }

    #[test]
    fn a_recovery_code_works_once() {
        let alice = enrolled();
        let code = alice.recovery[3].expose_secret().to_uppercase();
        let token = alice.first_step();
        assert!(
            alice.second_step(&token, &code).is_ok(),
            "case does not matter"
        );
        let again = alice.first_step();
        assert_auth_error(alice.second_step(&again, &code), AuthError::InvalidMfaCode);
        assert!(
            alice
                .second_step(&again, alice.recovery[4].expose_secret())
                .is_ok()
        );
        let kinds = alice.kinds();
        assert_eq!(
            kinds[..4],
            [
                SecurityEventKind::LoginSucceeded,
                SecurityEventKind::RecoveryCodeUsed,
                SecurityEventKind::MfaFailed,
                SecurityEventKind::LoginSucceeded,
            ]
        );
    }

    #[test]
    fn an_mfa_token_dies_after_five_wrong_codes_five_minutes_or_one_login() {
        let alice = enrolled();
        alice.clock.advance(Duration::minutes(1));
        let token = alice.first_step();
        for _ in 0..5 {
            assert_auth_error(
                alice.second_step(&token, "000000"),
                AuthError::InvalidMfaCode,
            );
        }
        let right = alice.code_at(alice.clock.now());
        assert_auth_error(alice.second_step(&token, &right), AuthError::InvalidToken);

        let slow = alice.first_step();
        alice.clock.advance(Duration::minutes(5));
        let right = alice.code_at(alice.clock.now());
        assert_auth_error(alice.second_step(&slow, &right), AuthError::InvalidToken);

        let used = alice.first_step();
        assert!(alice.second_step(&used, &right).is_ok());
        alice.clock.advance(Duration::seconds(30));
        let next = alice.code_at(alice.clock.now());
        assert_auth_error(alice.second_step(&used, &next), AuthError::InvalidToken);
        assert_auth_error(alice.second_step("forged", &next), AuthError::InvalidToken);
    }

    #[test]
    fn an_mfa_token_is_no_other_token() {
        let alice = enrolled();
        let token = alice.first_step();
        let codec_refuses = |result: Result<_, DomainError>| {
            assert!(
                matches!(
                    result,
                    Err(DomainError::Unauthorized(AuthError::InvalidToken))
                ),
                "{result:?}"
            );
        };
        codec_refuses(alice.sessions.authenticate(&token).map(drop));
        codec_refuses(alice.sessions.refresh(&token, &client()).map(drop));
    }

    #[test]
    fn enrolment_needs_a_confirming_code_and_leaving_needs_password_and_code() {
        let (users, sessions, clock) = services_with(&["alice"]);
        let pair = login_as(&sessions, "alice", &client());
        let me = sessions
            .authenticate(pair.access_token.expose_secret())
            .unwrap();
        assert!(
            matches!(
                users.confirm_totp(&me, "123456", &client()),
                Err(DomainError::Conflict)
            ),
            "nothing pending"
        );
        let first = users.start_totp(&me).unwrap();
        let second = users.start_totp(&me).unwrap();
        let stale = FakeTwoFactor::code(&first.sealed, EPOCH);
        let wrong = users.confirm_totp(&me, &stale, &client());
        assert!(
            matches!(
                wrong,
                Err(DomainError::Validation(ValidationError::InvalidMfaCode))
            ),
            "a restart replaces the secret: {wrong:?}"
        );
        assert!(
            matches!(
                sessions.login(&attempt(), &client()),
                Ok(LoginOutcome::Tokens(_))
            ),
            "a pending enrolment changes nothing"
        );
        users
            .confirm_totp(&me, &FakeTwoFactor::code(&second.sealed, EPOCH), &client())
            .unwrap();
        assert!(matches!(users.start_totp(&me), Err(DomainError::Conflict)));

        clock.advance(Duration::seconds(30));
        let code = FakeTwoFactor::code(&second.sealed, clock.now());
        let password = SecretString::from("correct horse");
        let wrong_password = users.disable_totp(&me, &SecretString::from("nope"), &code, &client());
        assert!(matches!(wrong_password, Err(DomainError::WrongPassword)));
        let wrong_code = users.disable_totp(&me, &password, "999999", &client());
        assert!(matches!(wrong_code, Err(DomainError::WrongMfaCode)));
        users
            .disable_totp(&me, &password, &code, &client())
            .unwrap();
        assert!(matches!(
            users.disable_totp(&me, &password, &code, &client()),
            Err(DomainError::NotFound(Resource::SecondFactor))
        ));
        assert!(
            matches!(
                sessions.login(&attempt(), &client()),
                Ok(LoginOutcome::Tokens(_))
            ),
            "one step again"
        );
        let all = PageRequest::new(None, Some(100)).unwrap();
        let kinds: Vec<_> = users
            .events(me.user_id, all)
            .unwrap()
            .items
            .iter()
            .map(|r| r.event.kind)
            .collect();
        assert_eq!(
            kinds[..4],
            [
                SecurityEventKind::LoginSucceeded,
                SecurityEventKind::MfaDisabled,
                SecurityEventKind::MfaFailed,
                SecurityEventKind::MfaEnabled,
            ]
        );
    }

    #[test]
    fn wrong_codes_count_as_failed_logins_of_the_username() {
        use crate::testing::InMemoryRateLimiter;
        use crate::{RateLimit, RateLimits};

        let alice = enrolled();
        let limit = |max, window| RateLimit { max, window };
        let limits = RateLimits {
            login_failures_per_username: limit(5, Duration::minutes(15)),
            login_per_address: limit(100, Duration::MINUTE),
            register_per_address: limit(100, Duration::HOUR),
            refresh_per_address: limit(100, Duration::MINUTE),
        };
        let sessions = alice
            .sessions
            .clone()
            .with_rate_limits(Arc::new(InMemoryRateLimiter::default()), limits);
        let token_of = |sessions: &SessionService| match sessions.login(&attempt(), &client()) {
            Ok(LoginOutcome::SecondFactorRequired { mfa_token }) => {
                mfa_token.expose_secret().to_owned()
            }
            other => panic!("{other:?}"),
        };
        let first = token_of(&sessions);
        let spare = token_of(&sessions);
        for _ in 0..5 {
            assert_auth_error(
                sessions.login_mfa(&first, "000000", &client()),
                AuthError::InvalidMfaCode,
            );
        }
        alice.clock.advance(Duration::seconds(30));
        let right = alice.code_at(alice.clock.now());
        let locked = sessions.login_mfa(&spare, &right, &client());
        assert!(
            matches!(locked, Err(DomainError::RateLimited { .. })),
            "another token, the right code: {locked:?}"
        );
        assert!(matches!(
            sessions.login(&attempt(), &client()),
            Err(DomainError::RateLimited { .. })
        ));
        alice.clock.advance(Duration::minutes(15));
        let right = alice.code_at(alice.clock.now());
        let token = token_of(&sessions);
        assert!(sessions.login_mfa(&token, &right, &client()).is_ok());
    }
}
