//! Unit tests of third-party logins: the in-memory store, and a mock of the
//! identity providers.

use std::sync::Mutex;

use mockall::predicate::always;
use secrecy::SecretString;
use time::Duration;

use super::*;
use crate::ports::{
    MockIdentityProviders, MockSecurityEventRepository, SecurityEventRepository, UserRepository,
};
use crate::testing::{
    FakeTwoFactor, InMemoryStore, InMemoryTokens, ManualClock, PlainHasher, SequentialIds,
};
use crate::{
    Authorization, ExternalIdentity, ExternalProfile, LoginAttempt, SessionPorts, Subject,
    TokenLifetimes, User,
};

fn provider(name: &str) -> ProviderName {
    ProviderName::parse(name).unwrap()
}

fn verified(subject: &str, preferred_username: &str) -> VerifiedIdentity {
    VerifiedIdentity {
        identity: ExternalIdentity {
            provider: provider("idp"),
            subject: Subject::parse(subject).unwrap(),
        },
        profile: ExternalProfile {
            preferred_username: Some(preferred_username.to_owned()),
            name: None,
        },
    }
}

/// Providers `idp` and `other`; each authorization gets state `state-N`.
fn providers() -> MockIdentityProviders {
    let mut providers = MockIdentityProviders::new();
    providers
        .expect_names()
        .returning(|| vec![provider("idp"), provider("other")]);
    let counter = Mutex::new(0);
    providers.expect_authorization().returning(move |name| {
        let mut n = counter.lock().unwrap();
        *n += 1;
        Ok(Authorization {
            url: format!("https://{name}.example/authorize?state=state-{n}"),
            state: SecretString::from(format!("state-{n}")),
            nonce: SecretString::from(format!("nonce-{n}")),
            pkce_verifier: SecretString::from(format!("verifier-{n}")),
        })
    });
    providers
}

struct Setup {
    sessions: SessionService,
    store: Arc<InMemoryStore>,
    clock: Arc<ManualClock>,
}

impl Setup {
    fn start(&self) {
        self.sessions
            .start_external_login("idp", &client())
            .unwrap();
    }

    fn finish(&self, state: &str) -> Result<TokenPair, DomainError> {
        self.sessions
            .finish_external_login("idp", &callback(state, "code"), &client())
    }

    fn users(&self) -> u64 {
        self.store
            .list(crate::PageRequest::default())
            .unwrap()
            .total
    }
}

/// The service on one in-memory store, with `providers`, and `events` as
/// the port of events that change nothing else.
fn setup(providers: MockIdentityProviders, events: MockSecurityEventRepository) -> Setup {
    let store = Arc::new(InMemoryStore::default());
    let clock = Arc::new(ManualClock::default());
    let sessions = SessionService::new(
        SessionPorts {
            users: store.clone(),
            sessions: store.clone(),
            events: Arc::new(events),
            mfa: store.clone(),
            two_factor: Arc::new(FakeTwoFactor::default()),
            hasher: Arc::new(PlainHasher),
            tokens: Arc::new(InMemoryTokens::default()),
            clock: clock.clone(),
            ids: Arc::new(SequentialIds::default()),
        },
        TokenLifetimes {
            access: Duration::hours(1),
            refresh: Duration::days(7),
        },
    )
    .with_identity_providers(Arc::new(providers), store.clone());
    Setup {
        sessions,
        store,
        clock,
    }
}

/// No event goes through the events port: the happy path records its
/// events with its changes.
fn no_events() -> MockSecurityEventRepository {
    let mut events = MockSecurityEventRepository::new();
    events.expect_record().never();
    events
}

fn callback(state: &str, code: &str) -> Callback {
    Callback {
        state: Some(state.to_owned()),
        code: Some(code.to_owned()),
        error: None,
    }
}

fn client() -> Client {
    crate::test_support::client()
}

fn user_of(store: &InMemoryStore, subject: &str) -> Option<User> {
    store
        .find_by_identity(&verified(subject, "x").identity)
        .unwrap()
}

#[test]
fn a_first_login_makes_a_user_without_password_and_the_next_finds_it() {
    let mut providers = providers();
    providers
        .expect_identify()
        .withf(|code, login| {
            code == "code-1"
                && login.provider == provider("idp")
                && login.nonce.expose_secret().starts_with("nonce-")
                && login.pkce_verifier.expose_secret().starts_with("verifier-")
        })
        .times(2)
        .returning(|_, _| Ok(verified("sub-1", "Jane Doe")));
    // Only the password login at the end goes through the events port.
    let mut events = MockSecurityEventRepository::new();
    events
        .expect_record()
        .withf(|event| event.kind == SecurityEventKind::LoginFailed && event.user_id.is_some())
        .times(1)
        .returning(|_| Ok(()));
    let Setup {
        sessions, store, ..
    } = setup(providers, events);

    let url = sessions.start_external_login("idp", &client()).unwrap();
    assert_eq!(url, "https://idp.example/authorize?state=state-1");
    let first = sessions
        .finish_external_login("idp", &callback("state-1", "code-1"), &client())
        .unwrap();
    let jane = user_of(&store, "sub-1").expect("the first login links a user");
    assert_eq!(jane.username.as_str(), "Jane_Doe");
    assert_eq!(
        sessions
            .authenticate(first.access_token.expose_secret())
            .unwrap()
            .user_id,
        jane.id,
        "the pair is a normal session of the linked user"
    );

    sessions.start_external_login("idp", &client()).unwrap();
    let second = sessions
        .finish_external_login("idp", &callback("state-2", "code-1"), &client())
        .unwrap();
    assert_eq!(
        sessions
            .authenticate(second.access_token.expose_secret())
            .unwrap()
            .user_id,
        jane.id,
        "the second login finds the same user"
    );
    let trail: Vec<_> = store
        .list_for_user(jane.id, crate::PageRequest::default())
        .unwrap()
        .items
        .into_iter()
        .map(|recorded| (recorded.event.kind, recorded.event.provider))
        .collect();
    assert_eq!(
        trail,
        [
            (SecurityEventKind::LoginSucceeded, Some(provider("idp"))),
            (SecurityEventKind::LoginSucceeded, Some(provider("idp"))),
            (SecurityEventKind::Registered, Some(provider("idp"))),
        ],
        "one registration, two logins, each naming the provider"
    );

    let password_login = sessions.login(
        &LoginAttempt {
            username: "Jane_Doe".into(),
            password: SecretString::from("correct horse"),
        },
        &client(),
    );
    assert!(
        matches!(
            password_login,
            Err(DomainError::Unauthorized(AuthError::InvalidCredentials))
        ),
        "no password logs a linked user in: {password_login:?}"
    );
}

#[test]
fn a_taken_username_gets_a_random_suffix() {
    let mut providers = providers();
    providers
        .expect_identify()
        .returning(|_, _| Ok(verified("sub-2", "alice")));
    let Setup {
        sessions, store, ..
    } = setup(providers, no_events());
    store
        .create_linked(
            &NewUser {
                username: Username::parse("alice").unwrap(),
                password_hash: None,
                created_at: crate::testing::EPOCH,
            },
            &verified("sub-1", "alice").identity,
            &SecurityEvent {
                kind: SecurityEventKind::Registered,
                user_id: None,
                session_id: None,
                client: client(),
                provider: None,
                at: crate::testing::EPOCH,
            },
        )
        .unwrap();

    sessions.start_external_login("idp", &client()).unwrap();
    sessions
        .finish_external_login("idp", &callback("state-1", "code"), &client())
        .unwrap();
    let second = user_of(&store, "sub-2").unwrap();
    assert_eq!(second.username.as_str(), "alice_00000001");
}

/// Every refused callback: the provider is never asked, and nothing made.
fn assert_refused(callback: &Callback, expected: CallbackRefusal, setup: &Setup, provider: &str) {
    let refused = setup
        .sessions
        .finish_external_login(provider, callback, &client());
    assert!(
        matches!(&refused, Err(DomainError::Callback(refusal)) if *refusal == expected),
        "{callback:?}: {refused:?}"
    );
}

fn never_identifies() -> MockIdentityProviders {
    let mut providers = providers();
    providers.expect_identify().never();
    providers
}

#[test]
fn a_state_is_taken_once_and_only_by_its_provider_before_it_expires() {
    let setup = setup(never_identifies(), no_events());
    setup.start();
    assert_refused(
        &callback("forged", "code"),
        CallbackRefusal::UnknownState,
        &setup,
        "idp",
    );
    let no_state = Callback {
        state: None,
        ..callback("", "code")
    };
    assert_refused(&no_state, CallbackRefusal::MissingState, &setup, "idp");

    // Sent to idp, come back at other: refused (mix-up), and spent.
    assert_refused(
        &callback("state-1", "code"),
        CallbackRefusal::UnknownState,
        &setup,
        "other",
    );
    assert_refused(
        &callback("state-1", "code"),
        CallbackRefusal::UnknownState,
        &setup,
        "idp",
    );

    setup.start();
    setup.clock.advance(PENDING_LOGIN_LIFETIME);
    assert_refused(
        &callback("state-2", "code"),
        CallbackRefusal::UnknownState,
        &setup,
        "idp",
    );

    setup.start();
    let refused = Callback {
        error: Some("access_denied".into()),
        ..callback("state-3", "code")
    };
    assert_refused(&refused, CallbackRefusal::ProviderRefused, &setup, "idp");
    assert_refused(
        &callback("state-3", "code"),
        CallbackRefusal::UnknownState,
        &setup,
        "idp",
    );

    setup.start();
    assert_refused(
        &callback("state-4", ""),
        CallbackRefusal::MissingCode,
        &setup,
        "idp",
    );
    assert_eq!(setup.users(), 0, "no refused callback made a user");
}

#[test]
fn unknown_providers_are_not_found_before_anything_else() {
    let mut providers = MockIdentityProviders::new();
    providers.expect_names().returning(|| vec![provider("idp")]);
    providers.expect_authorization().never();
    providers.expect_identify().never();
    let setup = setup(providers, no_events());
    for name in ["nope", "IDP", "../idp", ""] {
        assert!(matches!(
            setup.sessions.start_external_login(name, &client()),
            Err(DomainError::NotFound(Resource::IdentityProvider))
        ));
        assert!(matches!(
            setup
                .sessions
                .finish_external_login(name, &Callback::default(), &client()),
            Err(DomainError::NotFound(Resource::IdentityProvider))
        ));
    }
}

#[test]
fn a_failed_id_token_is_a_failed_login_of_nobody_and_makes_no_user() {
    let mut providers = providers();
    providers
        .expect_identify()
        .returning(|_, _| Err(IdentityProviderError::InvalidIdToken("wrong nonce".into())));
    let mut events = MockSecurityEventRepository::new();
    events
        .expect_record()
        .withf(|event| {
            event.kind == SecurityEventKind::LoginFailed
                && event.user_id.is_none()
                && event.provider == Some(provider("idp"))
        })
        .times(1)
        .returning(|_| Ok(()));
    let setup = setup(providers, events);
    setup.start();
    let failed = setup.finish("state-1");
    assert!(matches!(
        failed,
        Err(DomainError::Unauthorized(AuthError::InvalidCredentials))
    ));
    assert_eq!(setup.users(), 0, "nothing made a user");
}

#[test]
fn an_unreachable_or_refusing_provider_makes_nothing() {
    for (error, unavailable) in [
        (IdentityProviderError::Unavailable("timed out".into()), true),
        (
            IdentityProviderError::CodeRefused("invalid_grant".into()),
            false,
        ),
    ] {
        let mut providers = providers();
        let error = Mutex::new(Some(error));
        providers
            .expect_identify()
            .with(always(), always())
            .returning(move |_, _| Err(error.lock().unwrap().take().unwrap()));
        let setup = setup(providers, no_events());
        setup.start();
        let answer = setup.finish("state-1");
        if unavailable {
            assert!(
                matches!(answer, Err(DomainError::Unavailable(_))),
                "{answer:?}"
            );
        } else {
            assert!(
                matches!(
                    answer,
                    Err(DomainError::Callback(CallbackRefusal::ProviderRefused))
                ),
                "{answer:?}"
            );
        }
        assert_eq!(setup.users(), 0, "nothing made a user");
    }
}

#[test]
fn starting_a_login_counts_against_the_address_login_limit() {
    let mut providers = providers();
    providers.expect_identify().never();
    let limit = crate::RateLimit {
        max: 2,
        window: Duration::minutes(1),
    };
    let Setup { sessions, .. } = setup(providers, no_events());
    let sessions = sessions.with_rate_limits(
        Arc::new(crate::testing::InMemoryRateLimiter::default()),
        crate::RateLimits {
            login_failures_per_username: limit,
            login_per_address: limit,
            register_per_address: limit,
            refresh_per_address: limit,
        },
    );
    for _ in 0..2 {
        sessions.start_external_login("idp", &client()).unwrap();
    }
    assert!(matches!(
        sessions.start_external_login("idp", &client()),
        Err(DomainError::RateLimited { .. })
    ));
}
