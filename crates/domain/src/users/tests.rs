//! Unit tests of [`UserService`](super::UserService), on mocks.

use mockall::predicate::eq;
use secrecy::SecretString;

use super::*;
use crate::ports::{
    HashError, MockClock, MockMfaRepository, MockPasswordHasher, MockSecurityEventRepository,
    MockTwoFactor, MockUserRepository,
};
use crate::test_support::{NOW, client, user_id};
use crate::{PasswordHash, PasswordRule, ValidationError};

struct Mocks {
    users: MockUserRepository,
    events: MockSecurityEventRepository,
    hasher: MockPasswordHasher,
}

impl Mocks {
    fn new() -> Self {
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_max_password_bytes().return_const(72_usize);
        Self {
            users: MockUserRepository::new(),
            events: MockSecurityEventRepository::new(),
            hasher,
        }
    }

    fn service(self) -> UserService {
        let mut clock = MockClock::new();
        clock.expect_now().return_const(NOW);
        UserService::new(UserPorts {
            users: Arc::new(self.users),
            events: Arc::new(self.events),
            mfa: Arc::new(MockMfaRepository::new()),
            two_factor: Arc::new(MockTwoFactor::new()),
            hasher: Arc::new(self.hasher),
            clock: Arc::new(clock),
        })
    }
}

fn alice_name() -> Username {
    Username::parse("alice").unwrap()
}

fn alice() -> User {
    User {
        id: user_id(1),
        username: alice_name(),
        created_at: NOW,
    }
}

fn hash(raw: &str) -> PasswordHash {
    PasswordHash::new(raw.into())
}

fn new_password() -> SecretString {
    SecretString::from("correct horse")
}

#[test]
fn a_password_past_the_hashers_limit_is_weak_and_never_hashed() {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().never();
    mocks.users.expect_create().never();
    let result =
        mocks
            .service()
            .register(alice_name(), SecretString::from("p".repeat(73)), &client());
    assert!(
        matches!(
            result,
            Err(DomainError::Validation(ValidationError::WeakPassword(
                PasswordRule::Length { min: 8, max: 72 }
            )))
        ),
        "{result:?}"
    );
}

#[test]
fn a_busy_hasher_is_unavailable_not_internal() {
    let mut mocks = Mocks::new();
    mocks
        .hasher
        .expect_hash()
        .returning(|_| Err(HashError::Busy));
    mocks.users.expect_create().never();
    let result = mocks
        .service()
        .register(alice_name(), new_password(), &client());
    assert!(
        matches!(result, Err(DomainError::Unavailable(_))),
        "{result:?}"
    );
}

#[test]
fn register_stores_the_hash_not_the_password_with_its_event() {
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
        .withf(|new, event| {
            new.password_hash == Some(hash("$2b$hash"))
                && new.created_at == NOW
                && *event
                    == SecurityEvent {
                        kind: SecurityEventKind::Registered,
                        user_id: None,
                        session_id: None,
                        client: client(),
                        provider: None,
                        at: NOW,
                    }
        })
        .times(1)
        .returning(|_, _| Ok(alice()));
    let user =
        mocks
            .service()
            .register(Username::parse("alice").unwrap(), new_password(), &client());
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
        .returning(|_, _| Err(RepositoryError::Conflict));
    let result =
        mocks
            .service()
            .register(Username::parse("alice").unwrap(), new_password(), &client());
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
        .returning(|_| Err(HashError::Failed("broken".into())));
    mocks.users.expect_create().never();
    let result =
        mocks
            .service()
            .register(Username::parse("alice").unwrap(), new_password(), &client());
    assert!(
        matches!(result, Err(DomainError::Internal(_))),
        "{result:?}"
    );
}

#[test]
fn user_lookup_of_a_missing_user_is_not_found() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find().returning(|_| Ok(None));
    assert!(matches!(
        mocks.service().get(user_id(5)),
        Err(DomainError::NotFound(Resource::User))
    ));
}

#[test]
fn events_are_the_users_own_page() {
    let mut mocks = Mocks::new();
    let page = PageRequest::new(Some(2), Some(5)).unwrap();
    mocks
        .events
        .expect_list_for_user()
        .with(eq(user_id(3)), eq(page))
        .times(1)
        .returning(move |_, request| {
            Ok(Page {
                items: Vec::new(),
                total: 7,
                request,
            })
        });
    let listed = mocks.service().events(user_id(3), page).unwrap();
    assert_eq!((listed.items.len(), listed.total), (0, 7));
}
