//! Login, refresh and logout: the token pair, rotation, reuse detection and
//! revocation.

use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, tokens};

blog_infra::backend_matrix!(
    crate::helpers::on_an_app;
    login_returns_a_bearer_pair_that_is_not_cached,
    login_fails_the_same_way_for_an_unknown_user_and_a_wrong_password,
    login_refuses_a_body_without_credentials,
    an_access_token_authenticates_and_a_refresh_token_does_not,
    refresh_returns_a_new_pair_and_the_old_refresh_token_stops_working,
    reusing_a_rotated_refresh_token_revokes_the_whole_session,
    an_access_token_cannot_refresh,
    refresh_refuses_garbage_and_missing_tokens,
    logout_revokes_the_access_and_refresh_tokens_of_that_login,
    logout_leaves_other_logins_of_the_same_user_working,
    logout_with_a_refresh_token_of_another_own_login_ends_that_login_too,
    logout_needs_an_access_token,
    tokens_in_the_query_string_are_ignored,
);

async fn login_returns_a_bearer_pair_that_is_not_cached(app: TestApp) {
    app.register("alice").await;
    let response = app
        .post(
            "/api/v1/login",
            &json!({"username": "alice", "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let body = response.json();
    assert_eq!(
        (body["token_type"].as_str(), body["expires_in"].as_i64()),
        (Some("Bearer"), Some(3600))
    );
    let (access, refresh) = (
        body["access_token"].as_str().unwrap(),
        body["refresh_token"].as_str().unwrap(),
    );
    assert_eq!(
        (access.split('.').count(), refresh.split('.').count()),
        (3, 3)
    );
    assert_ne!(access, refresh);
}

async fn login_fails_the_same_way_for_an_unknown_user_and_a_wrong_password(app: TestApp) {
    app.register("alice").await;
    let wrong = app
        .post(
            "/api/v1/login",
            &json!({"username": "alice", "password": "wrong password"}),
        )
        .await;
    let unknown = app
        .post(
            "/api/v1/login",
            &json!({"username": "nobody", "password": PASSWORD}),
        )
        .await;
    let malformed = app
        .post(
            "/api/v1/login",
            &json!({"username": "' OR 1=1 --", "password": PASSWORD}),
        )
        .await;
    let too_long = app
        .post(
            "/api/v1/login",
            &json!({"username": "alice", "password": format!("{PASSWORD}{}", "x".repeat(60))}),
        )
        .await;
    for response in [&wrong, &unknown, &malformed, &too_long] {
        response.assert_error(401, "invalid_credentials");
        assert_eq!(response.body, wrong.body);
    }
}

async fn login_refuses_a_body_without_credentials(app: TestApp) {
    app.post("/api/v1/login", &json!({"username": "alice"}))
        .await
        .assert_error(400, "validation_failed");
    let headers = [("content-type", "application/json")];
    let response = app
        .send_raw(
            awc::http::Method::POST,
            "/api/v1/login",
            &headers,
            b"{oops".to_vec(),
        )
        .await;
    response.assert_error(400, "bad_request");
}

async fn an_access_token_authenticates_and_a_refresh_token_does_not(app: TestApp) {
    let (_, tokens) = app.user("alice").await;
    assert_eq!(
        app.get_auth("/api/v1/users/me", &tokens.access)
            .await
            .status,
        200
    );
    app.get_auth("/api/v1/users/me", &tokens.refresh)
        .await
        .assert_error(401, "wrong_token_type");
}

async fn refresh_returns_a_new_pair_and_the_old_refresh_token_stops_working(app: TestApp) {
    let (_, first) = app.user("alice").await;
    let response = app.refresh(&first.refresh).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let second = tokens(&response);
    assert_ne!(second.refresh, first.refresh);
    assert_eq!(
        app.get_auth("/api/v1/users/me", &second.access)
            .await
            .status,
        200
    );
    // The new refresh token works once in turn.
    let third = app.refresh(&second.refresh).await;
    assert_eq!(third.status, 200);
}

async fn reusing_a_rotated_refresh_token_revokes_the_whole_session(app: TestApp) {
    let (_, stolen) = app.user("alice").await;
    let legit = tokens(&app.refresh(&stolen.refresh).await);
    // The thief replays the old token: the session dies for everyone.
    app.refresh(&stolen.refresh)
        .await
        .assert_error(401, "token_revoked");
    app.refresh(&legit.refresh)
        .await
        .assert_error(401, "token_revoked");
    app.get_auth("/api/v1/users/me", &legit.access)
        .await
        .assert_error(401, "token_revoked");
    app.get_auth("/api/v1/users/me", &stolen.access)
        .await
        .assert_error(401, "token_revoked");
}

async fn an_access_token_cannot_refresh(app: TestApp) {
    let (_, tokens) = app.user("alice").await;
    app.refresh(&tokens.access)
        .await
        .assert_error(401, "wrong_token_type");
    // The refresh token was not spent by that.
    assert_eq!(app.refresh(&tokens.refresh).await.status, 200);
}

async fn refresh_refuses_garbage_and_missing_tokens(app: TestApp) {
    app.refresh("garbage")
        .await
        .assert_error(401, "invalid_token");
    app.refresh("").await.assert_error(401, "invalid_token");
    app.post("/api/v1/refresh", &json!({}))
        .await
        .assert_error(400, "validation_failed");
    app.post("/api/v1/refresh", &json!({"refresh_token": 7}))
        .await
        .assert_error(400, "validation_failed");
}

async fn logout_revokes_the_access_and_refresh_tokens_of_that_login(app: TestApp) {
    let (_, tokens) = app.user("alice").await;
    let response = app
        .post_auth("/api/v1/logout", &tokens.access, &json!({}))
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.json(),
        json!({"message": "Successfully logged out"})
    );
    app.get_auth("/api/v1/users/me", &tokens.access)
        .await
        .assert_error(401, "token_revoked");
    app.refresh(&tokens.refresh)
        .await
        .assert_error(401, "token_revoked");
    app.post_auth("/api/v1/logout", &tokens.access, &json!({}))
        .await
        .assert_error(401, "token_revoked");
}

async fn logout_leaves_other_logins_of_the_same_user_working(app: TestApp) {
    let (_, phone) = app.user("alice").await;
    let laptop = app.login("alice").await;
    // Logout without a body at all.
    let response = app
        .send(
            awc::http::Method::POST,
            "/api/v1/logout",
            Some(&phone.access),
            None,
            &[],
        )
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(
        app.get_auth("/api/v1/users/me", &laptop.access)
            .await
            .status,
        200
    );
    assert_eq!(app.refresh(&laptop.refresh).await.status, 200);
}

async fn logout_with_a_refresh_token_of_another_own_login_ends_that_login_too(app: TestApp) {
    let (_, phone) = app.user("alice").await;
    let laptop = app.login("alice").await;
    let (_, bob) = app.user("bob").await;
    let body = json!({"refresh_token": laptop.refresh});
    assert_eq!(
        app.post_auth("/api/v1/logout", &phone.access, &body)
            .await
            .status,
        200
    );
    app.refresh(&laptop.refresh)
        .await
        .assert_error(401, "token_revoked");
    // Someone else's refresh token in the body does nothing to them.
    let (_, carol) = app.user("carol").await;
    let body = json!({"refresh_token": bob.refresh});
    assert_eq!(
        app.post_auth("/api/v1/logout", &carol.access, &body)
            .await
            .status,
        200
    );
    assert_eq!(app.refresh(&bob.refresh).await.status, 200);
}

async fn logout_needs_an_access_token(app: TestApp) {
    let (_, tokens) = app.user("alice").await;
    app.post("/api/v1/logout", &json!({}))
        .await
        .assert_error(401, "missing_token");
    app.post_auth("/api/v1/logout", &tokens.refresh, &json!({}))
        .await
        .assert_error(401, "wrong_token_type");
    assert_eq!(
        app.get_auth("/api/v1/users/me", &tokens.access)
            .await
            .status,
        200
    );
}

async fn tokens_in_the_query_string_are_ignored(app: TestApp) {
    let (_, tokens) = app.user("alice").await;
    let response = app
        .get(&format!("/api/v1/users/me?access_token={}", tokens.access))
        .await;
    response.assert_error(401, "missing_token");
}
