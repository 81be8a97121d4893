//! Attacks on the tokens (RFC 8725): each one gets a JSON 401, never access.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{SECRET, TestApp};

blog_infra::backend_matrix!(
    crate::helpers::on_an_app;
    alg_none_is_refused,
    a_stripped_signature_is_refused,
    a_tampered_payload_is_refused,
    a_token_signed_with_another_key_is_refused,
    an_expired_token_is_refused_as_expired,
    a_token_not_yet_valid_is_refused,
    a_token_whose_user_is_not_its_sessions_or_whose_session_is_unknown_is_refused,
    a_token_missing_a_claim_is_refused,
    a_token_with_a_string_expiry_is_refused,
    garbage_and_malformed_headers_are_refused,
    a_20_kb_token_is_refused,
);

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn encode_part(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// Signs with `secret` under the kid of the app's secret: a wrong secret
/// then fails on its signature, not on an unknown kid.
fn sign(claims: &Value, secret: &str) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(blog_infra::hmac_kid(&SECRET.into()));
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A live access token's claims, to forge from.
async fn claims(app: &TestApp) -> Value {
    let (_, tokens) = app.user("alice").await;
    payload(&tokens.access)
}

async fn assert_refused(app: &TestApp, token: &str, code: &str) {
    app.get_auth("/api/v1/users/me", token)
        .await
        .assert_error(401, code);
}

async fn alg_none_is_refused(app: TestApp) {
    let claims = claims(&app).await;
    let header = encode_part(&json!({"alg": "none", "typ": "JWT"}));
    assert_refused(
        &app,
        &format!("{header}.{}.", encode_part(&claims)),
        "invalid_token",
    )
    .await;
    let header = encode_part(&json!({"alg": "None", "typ": "JWT"}));
    assert_refused(
        &app,
        &format!("{header}.{}.", encode_part(&claims)),
        "invalid_token",
    )
    .await;
}

async fn a_stripped_signature_is_refused(app: TestApp) {
    let (_, tokens) = app.user("alice").await;
    let unsigned = tokens.access.rsplit_once('.').unwrap().0;
    assert_refused(&app, &format!("{unsigned}."), "invalid_token").await;
    assert_refused(&app, unsigned, "invalid_token").await;
}

async fn a_tampered_payload_is_refused(app: TestApp) {
    let bob_id = app.register("bob").await;
    let (_, tokens) = app.user("alice").await;
    let parts: Vec<&str> = tokens.access.split('.').collect();
    let mut claims = payload(&tokens.access);
    claims["sub"] = json!(bob_id.to_string());
    let tampered = format!("{}.{}.{}", parts[0], encode_part(&claims), parts[2]);
    assert_refused(&app, &tampered, "invalid_token").await;
}

async fn a_token_signed_with_another_key_is_refused(app: TestApp) {
    let claims = claims(&app).await;
    assert_refused(
        &app,
        &sign(&claims, "another-secret-0123456789abcdef0123456789"),
        "invalid_token",
    )
    .await;
    // The same claims with our key pass: the key alone made the difference.
    assert_eq!(
        app.get_auth("/api/v1/users/me", &sign(&claims, SECRET))
            .await
            .status,
        200
    );
}

async fn an_expired_token_is_refused_as_expired(app: TestApp) {
    let mut claims = claims(&app).await;
    claims["iat"] = json!(now() - 7200);
    claims["nbf"] = json!(now() - 7200);
    claims["exp"] = json!(now() - 3600);
    assert_refused(&app, &sign(&claims, SECRET), "token_expired").await;
}

async fn a_token_not_yet_valid_is_refused(app: TestApp) {
    let mut claims = claims(&app).await;
    claims["nbf"] = json!(now() + 3600);
    assert_refused(&app, &sign(&claims, SECRET), "invalid_token").await;
}

async fn a_token_whose_user_is_not_its_sessions_or_whose_session_is_unknown_is_refused(
    app: TestApp,
) {
    let mut claims = claims(&app).await;
    claims["sub"] = json!("999999");
    assert_refused(&app, &sign(&claims, SECRET), "invalid_token").await;
    claims["sid"] = json!("0".repeat(32));
    assert_refused(&app, &sign(&claims, SECRET), "invalid_token").await;
}

async fn a_token_missing_a_claim_is_refused(app: TestApp) {
    let claims = claims(&app).await;
    for claim in ["sub", "exp", "iat", "jti", "type", "sid"] {
        let mut partial = claims.clone();
        partial.as_object_mut().unwrap().remove(claim);
        assert_refused(&app, &sign(&partial, SECRET), "invalid_token").await;
    }
}

async fn a_token_with_a_string_expiry_is_refused(app: TestApp) {
    let mut claims = claims(&app).await;
    claims["exp"] = json!((now() + 3600).to_string());
    assert_refused(&app, &sign(&claims, SECRET), "invalid_token").await;
}

async fn garbage_and_malformed_headers_are_refused(app: TestApp) {
    assert_refused(&app, "garbage", "invalid_token").await;
    assert_refused(&app, "a.b.c", "invalid_token").await;
    for (authorization, code) in [
        ("Bearer", "invalid_token"),
        ("Bearer    ", "invalid_token"),
        ("Basic YWxpY2U6cGFzc3dvcmQ=", "missing_token"),
        ("Token abc", "missing_token"),
        ("", "missing_token"),
    ] {
        let response = app
            .send(
                awc::http::Method::GET,
                "/api/v1/users/me",
                None,
                None,
                &[("authorization", authorization)],
            )
            .await;
        response.assert_error(401, code);
    }
}

async fn a_20_kb_token_is_refused(app: TestApp) {
    assert_refused(&app, &"a".repeat(20 * 1024), "invalid_token").await;
}
