//! Rate limits, as the contract sets them: per username for failed logins,
//! per client address for logins, registrations and refreshes; 429 with an
//! honest Retry-After; shared by every instance on one database.
//!
//! These apps trust 127.0.0.1 as a proxy, so each request names its client
//! address in `X-Forwarded-For`.

use std::sync::Arc;
use std::time::Duration;

use awc::http::Method;
use blog_infra::testing::{TestBackend, TestDatabase};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Response, TestApp, spawn_app_on, test_settings};

/// The failure window of these apps: short, so a test can wait it out.
const FAILURE_WINDOW_SECS: u64 = 3;

async fn limited_app(database: Arc<TestDatabase>) -> TestApp {
    spawn_app_on(database, |database| {
        let mut settings = test_settings(database);
        settings.server.trusted_proxies = vec!["127.0.0.1".into()];
        let limits = &mut settings.rate_limit;
        limits.enabled = true;
        limits.login_failures_per_username = 5;
        limits.login_failure_window_secs = FAILURE_WINDOW_SECS;
        limits.login_per_address_per_minute = 4;
        limits.register_per_address_per_hour = 2;
        limits.refresh_per_address_per_minute = 2;
        settings
    })
    .await
}

fn on_a_limited_app<F: Future<Output = ()>>(backend: TestBackend, test: impl FnOnce(TestApp) -> F) {
    actix_web::rt::System::new().block_on(async move {
        test(limited_app(Arc::new(TestDatabase::new(backend))).await).await;
    });
}

fn on_two_limited_apps<F: Future<Output = ()>>(
    backend: TestBackend,
    test: impl FnOnce(TestApp, TestApp) -> F,
) {
    actix_web::rt::System::new().block_on(async move {
        let database = Arc::new(TestDatabase::new(backend));
        let first = limited_app(Arc::clone(&database)).await;
        let second = limited_app(database).await;
        test(first, second).await;
    });
}

blog_infra::backend_matrix!(
    crate::rate_limits::on_a_limited_app;
    five_failures_lock_a_username_even_for_the_right_password_until_retry_after,
    logins_are_limited_per_address,
    registrations_are_limited_per_address_and_a_limited_one_creates_nothing,
    refreshes_are_limited_per_address_and_a_limited_one_spends_no_token,
    wrong_current_passwords_count_like_failed_logins,
    second_login_steps_are_limited_per_address,
    wrong_second_factor_codes_count_like_failed_logins,
);

mod shared {
    blog_infra::backend_matrix!(
        crate::rate_limits::on_two_limited_apps;
        instances_on_one_database_share_one_limit,
    );

    use super::*;
}

async fn post_from(app: &TestApp, address: &str, path: &str, body: &Value) -> Response {
    app.send(
        Method::POST,
        path,
        None,
        Some(body),
        &[("x-forwarded-for", address)],
    )
    .await
}

async fn login_from(app: &TestApp, address: &str, username: &str, password: &str) -> Response {
    post_from(
        app,
        address,
        "/api/v1/login",
        &json!({"username": username, "password": password}),
    )
    .await
}

/// The 429 of the contract; returns its Retry-After.
#[track_caller]
fn assert_limited(response: &Response) -> u64 {
    response.assert_error(429, "rate_limited");
    response.header("retry-after").unwrap().parse().unwrap()
}

async fn five_failures_lock_a_username_even_for_the_right_password_until_retry_after(app: TestApp) {
    post_from(
        &app,
        "10.0.0.1",
        "/api/v1/users",
        &json!({"username": "alice", "password": PASSWORD}),
    )
    .await;
    post_from(
        &app,
        "10.0.0.2",
        "/api/v1/users",
        &json!({"username": "bob", "password": PASSWORD}),
    )
    .await;
    // From five addresses: the per-address limit is not what stops it.
    for n in 1..=5 {
        login_from(&app, &format!("10.0.1.{n}"), "alice", "wrong password")
            .await
            .assert_error(401, "invalid_credentials");
    }
    let retry_after = assert_limited(&login_from(&app, "10.0.1.9", "alice", PASSWORD).await);
    assert!(
        (1..=FAILURE_WINDOW_SECS).contains(&retry_after),
        "{retry_after}"
    );
    assert_eq!(
        login_from(&app, "10.0.1.9", "bob", PASSWORD).await.status,
        200,
        "another name is not limited"
    );
    actix_web::rt::time::sleep(Duration::from_secs(retry_after)).await;
    let pair = login_from(&app, "10.0.1.10", "alice", PASSWORD).await;
    assert_eq!(pair.status, 200, "Retry-After is honest");

    // The trail: five failures, the refusal (from its address), the login.
    let access = pair.json()["access_token"].as_str().unwrap().to_owned();
    let events = app
        .get_auth("/api/v1/users/me/events", &access)
        .await
        .json();
    let trail: Vec<String> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            format!(
                "{} {}",
                event["type"].as_str().unwrap(),
                event["ip"].as_str().unwrap()
            )
        })
        .collect();
    let mut expected = vec![
        "login_succeeded 10.0.1.10".to_owned(),
        "login_rate_limited 10.0.1.9".to_owned(),
    ];
    expected.extend((1..=5).rev().map(|n| format!("login_failed 10.0.1.{n}")));
    expected.push("registered 10.0.0.1".to_owned());
    assert_eq!(trail, expected);
}

async fn logins_are_limited_per_address(app: TestApp) {
    for _ in 0..4 {
        login_from(&app, "10.0.2.1", "nobody", "wrong password")
            .await
            .assert_error(401, "invalid_credentials");
    }
    let retry_after =
        assert_limited(&login_from(&app, "10.0.2.1", "nobody", "wrong password").await);
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    login_from(&app, "10.0.2.2", "nobody", "wrong password")
        .await
        .assert_error(401, "invalid_credentials");
}

async fn registrations_are_limited_per_address_and_a_limited_one_creates_nothing(app: TestApp) {
    for name in ["alice", "bob"] {
        let response = post_from(
            &app,
            "10.0.3.1",
            "/api/v1/users",
            &json!({"username": name, "password": PASSWORD}),
        )
        .await;
        assert_eq!(response.status, 201);
    }
    let limited = post_from(
        &app,
        "10.0.3.1",
        "/api/v1/users",
        &json!({"username": "carol", "password": PASSWORD}),
    )
    .await;
    let retry_after = assert_limited(&limited);
    assert!((3000..=3600).contains(&retry_after), "{retry_after}");
    assert_eq!(
        app.get("/api/v1/users").await.header("x-total-count"),
        Some("2")
    );
    let elsewhere = post_from(
        &app,
        "10.0.3.2",
        "/api/v1/users",
        &json!({"username": "carol", "password": PASSWORD}),
    )
    .await;
    assert_eq!(elsewhere.status, 201);
}

async fn refreshes_are_limited_per_address_and_a_limited_one_spends_no_token(app: TestApp) {
    post_from(
        &app,
        "10.0.4.1",
        "/api/v1/users",
        &json!({"username": "alice", "password": PASSWORD}),
    )
    .await;
    let mut pair = crate::helpers::tokens(&login_from(&app, "10.0.4.1", "alice", PASSWORD).await);
    for _ in 0..2 {
        let response = post_from(
            &app,
            "10.0.4.2",
            "/api/v1/refresh",
            &json!({"refresh_token": pair.refresh}),
        )
        .await;
        assert_eq!(response.status, 200);
        pair = crate::helpers::tokens(&response);
    }
    assert_limited(
        &post_from(
            &app,
            "10.0.4.2",
            "/api/v1/refresh",
            &json!({"refresh_token": pair.refresh}),
        )
        .await,
    );
    let elsewhere = post_from(
        &app,
        "10.0.4.3",
        "/api/v1/refresh",
        &json!({"refresh_token": pair.refresh}),
    )
    .await;
    assert_eq!(elsewhere.status, 200, "the limited refresh rotated nothing");
}

async fn instances_on_one_database_share_one_limit(first: TestApp, second: TestApp) {
    post_from(
        &first,
        "10.0.5.1",
        "/api/v1/users",
        &json!({"username": "alice", "password": PASSWORD}),
    )
    .await;
    for (n, app) in [&first, &second, &first, &second, &first]
        .into_iter()
        .enumerate()
    {
        login_from(app, &format!("10.0.6.{n}"), "alice", "wrong password")
            .await
            .assert_error(401, "invalid_credentials");
    }
    // Five failures across two instances lock the name on both.
    assert_limited(&login_from(&second, "10.0.6.9", "alice", PASSWORD).await);
    assert_limited(&login_from(&first, "10.0.6.9", "alice", PASSWORD).await);
}

async fn wrong_current_passwords_count_like_failed_logins(app: TestApp) {
    post_from(
        &app,
        "10.0.0.1",
        "/api/v1/users",
        &json!({"username": "alice", "password": PASSWORD}),
    )
    .await;
    let pair = login_from(&app, "10.0.0.1", "alice", PASSWORD).await;
    let access = pair.json()["access_token"].as_str().unwrap().to_owned();
    let change = |address: String, current: &'static str| {
        let app = &app;
        let access = access.clone();
        async move {
            let body = json!({"current_password": current, "new_password": "a new passphrase"});
            app.send(
                Method::PUT,
                "/api/v1/users/me/password",
                Some(&access),
                Some(&body),
                &[("x-forwarded-for", &address)],
            )
            .await
        }
    };
    // From five addresses: the username's failures are what stops it.
    for n in 1..=5 {
        change(format!("10.0.2.{n}"), "a wrong guess")
            .await
            .assert_error(403, "invalid_credentials");
    }
    assert_limited(&change("10.0.2.9".into(), PASSWORD).await);
    assert_limited(&login_from(&app, "10.0.2.9", "alice", PASSWORD).await);
    // And the per-address limit of logins (4 here) counts password attempts too.
    for _ in 0..4 {
        change("10.0.3.1".into(), "a wrong guess").await;
    }
    assert_limited(&login_from(&app, "10.0.3.1", "bob", PASSWORD).await);
}

async fn second_login_steps_are_limited_per_address(app: TestApp) {
    crate::two_factor::enrolled(&app).await;
    let mfa_token = crate::two_factor::first_step(&app).await;
    let step = json!({"mfa_token": mfa_token, "code": "not a code"});
    for _ in 0..2 {
        post_from(&app, "10.0.4.1", "/api/v1/login/mfa", &step)
            .await
            .assert_error(401, "invalid_mfa_code");
    }
    assert_limited(&post_from(&app, "10.0.4.1", "/api/v1/login/mfa", &step).await);
    post_from(&app, "10.0.4.2", "/api/v1/login/mfa", &step)
        .await
        .assert_error(401, "invalid_mfa_code");
}

async fn wrong_second_factor_codes_count_like_failed_logins(app: TestApp) {
    crate::two_factor::enrolled(&app).await;
    let mfa_token = crate::two_factor::first_step(&app).await;
    let step = json!({"mfa_token": mfa_token, "code": "not a code"});
    // From five addresses: the username's failures are what stops it.
    for n in 1..=5 {
        post_from(&app, &format!("10.0.5.{n}"), "/api/v1/login/mfa", &step)
            .await
            .assert_error(401, "invalid_mfa_code");
    }
    assert_limited(&login_from(&app, "10.0.5.9", "alice", PASSWORD).await);
}
