use blog_domain::ports::SessionRepository;
use blog_domain::{Session, SessionId, TokenId, User};
use blog_infra::{DbPool, DieselSessionRepository};
use time::Duration;

use crate::{NOW, create_user};

crate::on_both_backends!(
    a_created_session_reads_back,
    rotation_swaps_only_from_the_current_token_id,
    rotation_fails_on_a_revoked_or_expired_session,
    revoke_is_idempotent_and_keeps_the_first_time,
    delete_expired_removes_only_sessions_past_their_expiry,
    a_session_of_an_unknown_user_is_refused,
);

fn session(user: &User, n: u8) -> Session {
    Session {
        id: SessionId::from_bytes([n; 16]),
        user_id: user.id,
        refresh_token_id: TokenId::from_bytes([n; 16]),
        created_at: NOW,
        expires_at: NOW + Duration::days(7),
        revoked_at: None,
    }
}

fn a_created_session_reads_back(pool: &DbPool) {
    let repo = DieselSessionRepository::new(pool.clone());
    let alice = create_user(pool, "alice");
    repo.create(&session(&alice, 1)).unwrap();
    assert_eq!(
        repo.find(&SessionId::from_bytes([1; 16])).unwrap(),
        Some(session(&alice, 1))
    );
    assert_eq!(repo.find(&SessionId::from_bytes([2; 16])).unwrap(), None);
}

fn rotation_swaps_only_from_the_current_token_id(pool: &DbPool) {
    let repo = DieselSessionRepository::new(pool.clone());
    let alice = create_user(pool, "alice");
    let live = session(&alice, 1);
    repo.create(&live).unwrap();
    let next = TokenId::from_bytes([9; 16]);
    assert!(
        repo.rotate_refresh_token(&live.id, &live.refresh_token_id, &next, NOW)
            .unwrap()
    );
    // The old id is spent: the same swap again fails.
    assert!(
        !repo
            .rotate_refresh_token(&live.id, &live.refresh_token_id, &next, NOW)
            .unwrap()
    );
    assert_eq!(
        repo.find(&live.id).unwrap().map(|s| s.refresh_token_id),
        Some(next)
    );
}

fn rotation_fails_on_a_revoked_or_expired_session(pool: &DbPool) {
    let repo = DieselSessionRepository::new(pool.clone());
    let alice = create_user(pool, "alice");
    let (revoked, expiring) = (session(&alice, 1), session(&alice, 2));
    repo.create(&revoked).unwrap();
    repo.create(&expiring).unwrap();
    repo.revoke(&revoked.id, NOW).unwrap();
    let next = TokenId::from_bytes([9; 16]);
    assert!(
        !repo
            .rotate_refresh_token(&revoked.id, &revoked.refresh_token_id, &next, NOW)
            .unwrap()
    );
    assert!(
        !repo
            .rotate_refresh_token(
                &expiring.id,
                &expiring.refresh_token_id,
                &next,
                expiring.expires_at
            )
            .unwrap()
    );
}

fn revoke_is_idempotent_and_keeps_the_first_time(pool: &DbPool) {
    let repo = DieselSessionRepository::new(pool.clone());
    let alice = create_user(pool, "alice");
    let live = session(&alice, 1);
    repo.create(&live).unwrap();
    repo.revoke(&live.id, NOW).unwrap();
    repo.revoke(&live.id, NOW + Duration::HOUR).unwrap();
    assert_eq!(
        repo.find(&live.id).unwrap().and_then(|s| s.revoked_at),
        Some(NOW)
    );
    // Revoking what does not exist is not an error.
    repo.revoke(&SessionId::from_bytes([7; 16]), NOW).unwrap();
}

fn delete_expired_removes_only_sessions_past_their_expiry(pool: &DbPool) {
    let repo = DieselSessionRepository::new(pool.clone());
    let alice = create_user(pool, "alice");
    let old = Session {
        expires_at: NOW - Duration::SECOND,
        ..session(&alice, 1)
    };
    repo.create(&old).unwrap();
    repo.create(&session(&alice, 2)).unwrap();
    assert_eq!(repo.delete_expired(NOW).unwrap(), 1);
    assert_eq!(repo.find(&old.id).unwrap(), None);
    assert!(
        repo.find(&SessionId::from_bytes([2; 16]))
            .unwrap()
            .is_some()
    );
}

fn a_session_of_an_unknown_user_is_refused(pool: &DbPool) {
    let repo = DieselSessionRepository::new(pool.clone());
    let alice = create_user(pool, "alice");
    let orphan = Session {
        user_id: blog_domain::UserId::new(alice.id.get() + 100).unwrap(),
        ..session(&alice, 1)
    };
    assert!(repo.create(&orphan).is_err(), "foreign keys must be on");
}
