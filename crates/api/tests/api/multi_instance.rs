//! Several instances on one database: revocation state is shared at once.

use std::sync::Arc;

use futures_util::future::join_all;
use serde_json::json;

use blog_infra::testing::{TestBackend, TestDatabase};

use crate::helpers::{TestApp, spawn_app_on, test_settings};

/// Runs the async `test` on two instances sharing one fresh database of
/// `backend`.
fn on_two_apps<F: Future<Output = ()>>(
    backend: TestBackend,
    test: impl FnOnce(TestApp, TestApp) -> F,
) {
    actix_web::rt::System::new().block_on(async move {
        let database = Arc::new(TestDatabase::new(backend));
        let first = spawn_app_on(Arc::clone(&database), test_settings).await;
        let second = spawn_app_on(database, test_settings).await;
        test(first, second).await;
    });
}

blog_infra::backend_matrix!(
    crate::multi_instance::on_two_apps;
    a_logout_on_one_instance_holds_on_the_other_at_once,
    a_session_ended_or_a_password_changed_on_one_instance_holds_on_the_other_at_once,
    reuse_on_one_instance_revokes_a_session_rotated_on_the_other,
    concurrent_creates_on_both_instances_are_all_stored,
);

async fn a_logout_on_one_instance_holds_on_the_other_at_once(first: TestApp, second: TestApp) {
    let (_, tokens) = first.user("alice").await;
    assert_eq!(
        second
            .get_auth("/api/v1/users/me", &tokens.access)
            .await
            .status,
        200
    );
    assert_eq!(
        first
            .post_auth("/api/v1/logout", &tokens.access, &json!({}))
            .await
            .status,
        200
    );
    second
        .get_auth("/api/v1/users/me", &tokens.access)
        .await
        .assert_error(401, "token_revoked");
    second
        .refresh(&tokens.refresh)
        .await
        .assert_error(401, "token_revoked");
}

async fn reuse_on_one_instance_revokes_a_session_rotated_on_the_other(
    first: TestApp,
    second: TestApp,
) {
    let (_, stolen) = first.user("alice").await;
    let rotated = crate::helpers::tokens(&first.refresh(&stolen.refresh).await);
    second
        .refresh(&stolen.refresh)
        .await
        .assert_error(401, "token_revoked");
    first
        .refresh(&rotated.refresh)
        .await
        .assert_error(401, "token_revoked");
    first
        .get_auth("/api/v1/users/me", &rotated.access)
        .await
        .assert_error(401, "token_revoked");
}

async fn concurrent_creates_on_both_instances_are_all_stored(first: TestApp, second: TestApp) {
    let (alice, tokens) = first.user("alice").await;
    let titles: Vec<String> = (0..25).map(|n| format!("post {n}")).collect();
    let creates = titles.iter().flat_map(|title| {
        [
            first.create_post(&tokens.access, title, "one"),
            second.create_post(&tokens.access, title, "two"),
        ]
    });
    assert_eq!(join_all(creates).await.len(), 50);
    for app in [&first, &second] {
        let response = app
            .get(&format!("/api/v1/posts?user_id={alice}&per_page=100"))
            .await;
        assert_eq!(response.header("x-total-count"), Some("50"));
        assert_eq!(response.json()["posts"].as_array().unwrap().len(), 50);
    }
}

async fn a_session_ended_or_a_password_changed_on_one_instance_holds_on_the_other_at_once(
    first: TestApp,
    second: TestApp,
) {
    let (_, laptop) = first.user("alice").await;
    let phone = second.login("alice").await;
    let tablet = second.login("alice").await;
    let sessions = second
        .get_auth("/api/v1/sessions", &phone.access)
        .await
        .json();
    let phone_id = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|session| session["current"] == true)
        .and_then(|session| session["id"].as_str())
        .unwrap()
        .to_owned();
    assert_eq!(
        first
            .delete_auth(&format!("/api/v1/sessions/{phone_id}"), &laptop.access)
            .await
            .status,
        204
    );
    second
        .get_auth("/api/v1/users/me", &phone.access)
        .await
        .assert_error(401, "token_revoked");

    let change =
        json!({"current_password": crate::helpers::PASSWORD, "new_password": "a new passphrase"});
    assert_eq!(
        first
            .put_auth("/api/v1/users/me/password", &laptop.access, &change)
            .await
            .status,
        200
    );
    second
        .refresh(&tablet.refresh)
        .await
        .assert_error(401, "token_revoked");
    assert_eq!(
        second
            .get_auth("/api/v1/users/me", &laptop.access)
            .await
            .status,
        200,
        "the caller's session lives on, on every instance"
    );
}
