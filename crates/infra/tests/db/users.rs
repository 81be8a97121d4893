use blog_domain::ports::{RepositoryError, UserRepository};
use blog_domain::{NewUser, PageRequest, PasswordHash, UserId, Username};
use blog_infra::{DbPool, DieselUserRepository};

use crate::{NOW, create_user};

crate::on_both_backends!(
    a_created_user_is_found_by_id_and_by_name,
    a_taken_username_is_a_conflict,
    usernames_are_case_sensitive,
    unknown_users_are_none,
    users_are_listed_oldest_first_in_pages,
);

fn a_created_user_is_found_by_id_and_by_name(pool: &DbPool) {
    let repo = DieselUserRepository::new(pool.clone());
    let alice = create_user(pool, "alice");
    assert_eq!((alice.username.as_str(), alice.created_at), ("alice", NOW));
    assert_eq!(repo.find(alice.id).unwrap(), Some(alice.clone()));
    let credentials = repo
        .find_credentials(&Username::parse("alice").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(credentials.user, alice);
    assert_eq!(
        credentials.password_hash,
        PasswordHash::new("$2b$04$hash-of-alice".into())
    );
}

fn a_taken_username_is_a_conflict(pool: &DbPool) {
    create_user(pool, "alice");
    let again = DieselUserRepository::new(pool.clone()).create(&NewUser {
        username: Username::parse("alice").unwrap(),
        password_hash: PasswordHash::new("other".into()),
        created_at: NOW,
    });
    assert!(matches!(again, Err(RepositoryError::Conflict)), "{again:?}");
}

fn usernames_are_case_sensitive(pool: &DbPool) {
    create_user(pool, "alice");
    let repo = DieselUserRepository::new(pool.clone());
    assert_eq!(
        repo.find_credentials(&Username::parse("Alice").unwrap())
            .unwrap(),
        None
    );
    create_user(pool, "Alice");
}

fn unknown_users_are_none(pool: &DbPool) {
    let repo = DieselUserRepository::new(pool.clone());
    assert_eq!(repo.find(UserId::new(42).unwrap()).unwrap(), None);
    assert_eq!(
        repo.find_credentials(&Username::parse("nobody").unwrap())
            .unwrap(),
        None
    );
}

fn users_are_listed_oldest_first_in_pages(pool: &DbPool) {
    let repo = DieselUserRepository::new(pool.clone());
    for name in ["u01", "u02", "u03", "u04", "u05"] {
        create_user(pool, name);
    }
    let page = repo
        .list(PageRequest::new(Some(2), Some(2)).unwrap())
        .unwrap();
    let names: Vec<_> = page.items.iter().map(|u| u.username.as_str()).collect();
    assert_eq!((names, page.total), (vec!["u03", "u04"], 5));
    let past_the_end = repo
        .list(PageRequest::new(Some(9), Some(2)).unwrap())
        .unwrap();
    assert_eq!((past_the_end.items.len(), past_the_end.total), (0, 5));
}
