//! Two-factor login with TOTP: enrolment, the two login steps, recovery
//! codes, and turning it off. The tests play the authenticator app with
//! the secret the enrolment shows.

use serde_json::{Value, json};
use totp_rs::{Builder, Secret, Totp};

use crate::helpers::{PASSWORD, Response, TestApp, Tokens, tokens};

blog_infra::backend_matrix!(
    crate::helpers::on_an_app;
    two_factor_login_goes_from_enrolment_to_a_second_step_with_a_fresh_code,
    a_recovery_code_works_once_and_five_wrong_codes_end_an_mfa_token,
    an_mfa_token_is_no_other_token,
    the_enrolment_endpoints_need_a_token_before_anything_else,
    turning_two_factor_off_needs_the_password_and_a_code,
);

const TOTP: &str = "/api/v1/users/me/mfa/totp";

/// The authenticator app of an enrolment.
fn app_of(enrolment: &Value) -> Totp {
    let secret = Secret::try_from_base32(enrolment["secret"].as_str().unwrap()).unwrap();
    Builder::new().with_secret(secret).build().unwrap()
}

/// The app's code for now plus `offset` seconds.
fn code(app: &Totp, offset: i64) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp() + offset;
    app.generate(u64::try_from(now).unwrap()).to_string()
}

/// Alice with two-factor login on: her tokens, her app, her recovery codes.
pub(crate) async fn enrolled(app: &TestApp) -> (Tokens, Totp, Vec<String>) {
    let (_, alice) = app.user("alice").await;
    let enrolment = app.post_auth(TOTP, &alice.access, &json!({})).await;
    assert_eq!(enrolment.status, 200, "{:?}", enrolment.json());
    let authenticator = app_of(&enrolment.json());
    let confirmed = app
        .post_auth(
            &format!("{TOTP}/confirm"),
            &alice.access,
            &json!({"code": code(&authenticator, 0)}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.json());
    let codes = confirmed.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    (alice, authenticator, codes)
}

async fn password_login(app: &TestApp) -> Response {
    app.post(
        "/api/v1/login",
        &json!({"username": "alice", "password": PASSWORD}),
    )
    .await
}

/// The first step: the `mfa_token` of a right password.
pub(crate) async fn first_step(app: &TestApp) -> String {
    let response = password_login(app).await;
    response.assert_error_with_extra(401, "mfa_required", &["mfa_token"]);
    assert_eq!(response.header("cache-control"), Some("no-store"));
    response.json()["mfa_token"].as_str().unwrap().to_owned()
}

async fn second_step(app: &TestApp, mfa_token: &str, code: &str) -> Response {
    app.post(
        "/api/v1/login/mfa",
        &json!({"mfa_token": mfa_token, "code": code}),
    )
    .await
}

async fn event_types(app: &TestApp, token: &str) -> Vec<String> {
    let events = app.get_auth("/api/v1/users/me/events", token).await.json();
    events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["type"].as_str().unwrap().to_owned())
        .collect()
}

async fn two_factor_login_goes_from_enrolment_to_a_second_step_with_a_fresh_code(app: TestApp) {
    let (_, alice) = app.user("alice").await;
    let confirm = format!("{TOTP}/confirm");
    app.post_auth(&confirm, &alice.access, &json!({"code": "123456"}))
        .await
        .assert_error(409, "conflict");
    let enrolment = app.post_auth(TOTP, &alice.access, &json!({})).await;
    let body = enrolment.json();
    let secret = body["secret"].as_str().unwrap();
    let uri = body["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/") && uri.contains(secret),
        "{uri}"
    );
    assert_eq!(
        password_login(&app).await.status,
        200,
        "pending changes nothing"
    );

    let authenticator = app_of(&body);
    let wrong = (code(&authenticator, 0).parse::<u32>().unwrap() + 1) % 1_000_000;
    app.post_auth(
        &confirm,
        &alice.access,
        &json!({"code": format!("{wrong:06}")}),
    )
    .await
    .assert_error(400, "invalid_mfa_code");
    let first_code = code(&authenticator, 0);
    let confirmed = app
        .post_auth(&confirm, &alice.access, &json!({"code": first_code}))
        .await;
    assert_eq!(confirmed.status, 200);
    let codes = confirmed.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(codes.len(), 10);
    assert!(
        codes
            .iter()
            .all(|c| c.as_str().is_some_and(|c| c.len() >= 16))
    );
    app.post_auth(TOTP, &alice.access, &json!({}))
        .await
        .assert_error(409, "conflict");
    app.post_auth(&confirm, &alice.access, &json!({"code": first_code}))
        .await
        .assert_error(409, "conflict");

    let response = password_login(&app).await;
    assert_eq!(
        response.json().get("access_token"),
        None,
        "no token pair yet"
    );
    let mfa_token = first_step(&app).await;
    second_step(&app, &mfa_token, &first_code)
        .await
        .assert_error(401, "invalid_mfa_code");
    // The confirming code's step is used: the next step's code is fresh.
    let pair = second_step(&app, &mfa_token, &code(&authenticator, 30)).await;
    assert_eq!(pair.status, 200, "{:?}", pair.json());
    assert_eq!(pair.header("cache-control"), Some("no-store"));
    let pair = tokens(&pair);
    assert_eq!(
        app.get_auth("/api/v1/users/me", &pair.access).await.status,
        200
    );
    second_step(&app, &mfa_token, &code(&authenticator, 30))
        .await
        .assert_error(401, "invalid_token");
    let types = event_types(&app, &pair.access).await;
    assert_eq!(types[..2], ["login_succeeded", "mfa_failed"], "{types:?}");
    assert!(types.contains(&"mfa_enabled".to_owned()), "{types:?}");
}

async fn a_recovery_code_works_once_and_five_wrong_codes_end_an_mfa_token(app: TestApp) {
    let (_, authenticator, recovery) = enrolled(&app).await;
    let mfa_token = first_step(&app).await;
    for _ in 0..5 {
        second_step(&app, &mfa_token, "not a code")
            .await
            .assert_error(401, "invalid_mfa_code");
    }
    second_step(&app, &mfa_token, &code(&authenticator, 30))
        .await
        .assert_error(401, "invalid_token");

    let mfa_token = first_step(&app).await;
    let spoken = recovery[0].to_uppercase().replace('-', " ");
    let pair = second_step(&app, &mfa_token, &spoken).await;
    assert_eq!(pair.status, 200, "case and separators do not matter");
    let pair = tokens(&pair);
    let again = first_step(&app).await;
    second_step(&app, &again, &recovery[0])
        .await
        .assert_error(401, "invalid_mfa_code");
    assert_eq!(second_step(&app, &again, &recovery[1]).await.status, 200);
    let types = event_types(&app, &pair.access).await;
    assert_eq!(
        types[..5],
        [
            "login_succeeded",
            "recovery_code_used",
            "mfa_failed",
            "login_succeeded",
            "recovery_code_used"
        ],
        "{types:?}"
    );
}

async fn an_mfa_token_is_no_other_token(app: TestApp) {
    enrolled(&app).await;
    let mfa_token = first_step(&app).await;
    app.get_auth("/api/v1/users/me", &mfa_token)
        .await
        .assert_error(401, "invalid_token");
    app.refresh(&mfa_token)
        .await
        .assert_error(401, "invalid_token");
    second_step(&app, "0".repeat(64).as_str(), "123456")
        .await
        .assert_error(401, "invalid_token");
    app.post("/api/v1/login/mfa", &json!({"mfa_token": mfa_token}))
        .await
        .assert_error(400, "validation_failed");
}

async fn the_enrolment_endpoints_need_a_token_before_anything_else(app: TestApp) {
    for path in [TOTP.to_owned(), format!("{TOTP}/confirm")] {
        app.post(&path, &json!({"code": "123456"}))
            .await
            .assert_error(401, "missing_token");
        app.post_auth(&path, "not.a.token", &json!([]))
            .await
            .assert_error(401, "invalid_token");
    }
    let (_, alice) = app.user("alice").await;
    app.post_auth(TOTP, &alice.access, &json!({})).await;
    let confirm = format!("{TOTP}/confirm");
    app.post_auth(&confirm, &alice.access, &json!({}))
        .await
        .assert_error(400, "validation_failed");
    app.post_auth(&confirm, &alice.access, &json!({"code": 123456}))
        .await
        .assert_error(400, "validation_failed");
}

async fn turning_two_factor_off_needs_the_password_and_a_code(app: TestApp) {
    let (_, bob) = app.user("bob").await;
    let off = |token: &str, password: &str, code: &str| {
        let body = json!({"password": password, "code": code});
        let token = token.to_owned();
        let app = &app;
        async move {
            app.send(
                awc::http::Method::DELETE,
                TOTP,
                Some(&token),
                Some(&body),
                &[],
            )
            .await
        }
    };
    off(&bob.access, PASSWORD, "123456")
        .await
        .assert_error(404, "not_found");

    let (alice, authenticator, recovery) = enrolled(&app).await;
    let wrong_password = off(&alice.access, "not my password", &recovery[0]).await;
    wrong_password.assert_error(403, "invalid_credentials");
    off(&alice.access, PASSWORD, "000000x")
        .await
        .assert_error(403, "invalid_mfa_code");
    app.send(awc::http::Method::DELETE, TOTP, None, Some(&json!([])), &[])
        .await
        .assert_error(401, "missing_token");
    let done = off(&alice.access, PASSWORD, &code(&authenticator, 30)).await;
    assert_eq!((done.status, done.body.len()), (204, 0), "{:?}", done.body);
    off(&alice.access, PASSWORD, &recovery[1])
        .await
        .assert_error(404, "not_found");
    assert_eq!(password_login(&app).await.status, 200, "one step again");
    let types = event_types(&app, &alice.access).await;
    assert_eq!(
        types[..3],
        ["login_succeeded", "mfa_disabled", "mfa_failed"],
        "{types:?}"
    );
}
