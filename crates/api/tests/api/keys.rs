//! Asymmetric signing keys: the JWKS another service verifies with, a
//! rotation across instances, and the tokens a key set refuses.

use std::path::Path;
use std::sync::Arc;

use blog_infra::keys::{KeyAlgorithm, generate_key};
use blog_infra::testing::{TestBackend, TestDatabase};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_on, test_settings};

blog_infra::backend_matrix!(
    crate::keys::on_the_backend;
    another_service_verifies_our_tokens_with_the_jwks_alone_until_the_key_is_retired,
    two_instances_verify_each_others_tokens_during_a_rotation,
    a_key_set_refuses_unknown_kids_other_algs_missing_kids_and_foreign_iss_or_aud,
);

/// Runs `test` with the backend alone: it makes its own apps.
fn on_the_backend<F: Future<Output = ()>>(
    backend: TestBackend,
    test: impl FnOnce(TestBackend) -> F,
) {
    actix_web::rt::System::new().block_on(test(backend));
}

/// An app on `database` with the key set in `dir`, `signing` signing.
async fn app_with_keys(database: &Arc<TestDatabase>, dir: &Path, signing: &str) -> TestApp {
    let dir = dir.to_str().unwrap().to_owned();
    let signing = signing.to_owned();
    spawn_app_on(Arc::clone(database), move |database| {
        let mut settings = test_settings(database);
        settings.jwt.secret = None;
        settings.jwt.keys_dir = Some(dir);
        settings.jwt.signing_key = Some(signing);
        settings
    })
    .await
}

async fn fetch_jwks(app: &TestApp) -> JwkSet {
    let response = app.get("/.well-known/jwks.json").await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("cache-control"),
        Some("public, max-age=300")
    );
    serde_json::from_slice(&response.body).unwrap()
}

/// What another service does with a token of ours and our JWKS: find the
/// key by `kid`, pin the algorithm the JWK names, check `iss` and `aud`.
fn verified_elsewhere(jwks: &JwkSet, token: &str) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk: &Jwk = jwks.find(&kid).ok_or("unknown kid")?;
    let algorithm = Algorithm::try_from(jwk.common.key_algorithm.ok_or("no alg")?)
        .map_err(|e| e.to_string())?;
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&["blog-api"]);
    validation.set_audience(&["blog-api"]);
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| e.to_string())
}

async fn another_service_verifies_our_tokens_with_the_jwks_alone_until_the_key_is_retired(
    backend: TestBackend,
) {
    let database = Arc::new(TestDatabase::new(backend));
    let keys = tempfile::tempdir().unwrap();
    let old = generate_key(keys.path(), KeyAlgorithm::EdDsa).unwrap();
    let app = app_with_keys(&database, keys.path(), &old).await;
    let (_, alice) = app.user("alice").await;

    let jwks = fetch_jwks(&app).await;
    let published = serde_json::to_value(&jwks).unwrap();
    assert_eq!(published["keys"].as_array().unwrap().len(), 1);
    let key = &published["keys"][0];
    assert_eq!(
        (
            key["kid"].as_str(),
            key["alg"].as_str(),
            key["use"].as_str()
        ),
        (Some(old.as_str()), Some("EdDSA"), Some("sig"))
    );
    assert!(key.get("d").is_none(), "no private member: {key}");
    let claims = verified_elsewhere(&jwks, &alice.access).unwrap();
    assert_eq!(claims["type"], "access");

    // Rotated: a new key signs, and once the old one's tokens are over, it goes.
    let new = generate_key(keys.path(), KeyAlgorithm::Es256).unwrap();
    std::fs::remove_file(keys.path().join(format!("{old}.EdDSA.pem"))).unwrap();
    let rotated = app_with_keys(&database, keys.path(), &new).await;
    let jwks = fetch_jwks(&rotated).await;
    assert!(
        verified_elsewhere(&jwks, &alice.access).is_err(),
        "the retired key's token"
    );
    rotated
        .get_auth("/api/v1/users/me", &alice.access)
        .await
        .assert_error(401, "invalid_token");
    let fresh = rotated.login("alice").await;
    assert!(verified_elsewhere(&jwks, &fresh.access).is_ok());
}

async fn two_instances_verify_each_others_tokens_during_a_rotation(backend: TestBackend) {
    let database = Arc::new(TestDatabase::new(backend));
    let keys = tempfile::tempdir().unwrap();
    let old = generate_key(keys.path(), KeyAlgorithm::EdDsa).unwrap();
    let first = app_with_keys(&database, keys.path(), &old).await;
    let (_, before) = first.user("alice").await;
    // Step 1: the new key is added; the old one still signs.
    let new = generate_key(keys.path(), KeyAlgorithm::EdDsa).unwrap();
    let added = app_with_keys(&database, keys.path(), &old).await;
    // Step 2: the new one signs, on one instance first.
    let switched = app_with_keys(&database, keys.path(), &new).await;
    let from_added = added.login("alice").await;
    let from_switched = switched.login("alice").await;
    for app in [&added, &switched] {
        for token in [&before.access, &from_added.access, &from_switched.access] {
            assert_eq!(app.get_auth("/api/v1/users/me", token).await.status, 200);
        }
    }
    let kid = |token: &str| jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    assert_eq!(kid(&from_added.access), old);
    assert_eq!(kid(&from_switched.access), new);
    // A refresh rotates onto the new key, on either instance.
    let renewed = switched.refresh(&from_added.refresh).await.json();
    assert_eq!(kid(renewed["access_token"].as_str().unwrap()), new);
    assert_eq!(fetch_jwks(&added).await.keys.len(), 2);
}

async fn a_key_set_refuses_unknown_kids_other_algs_missing_kids_and_foreign_iss_or_aud(
    backend: TestBackend,
) {
    let database = Arc::new(TestDatabase::new(backend));
    let keys = tempfile::tempdir().unwrap();
    let kid = generate_key(keys.path(), KeyAlgorithm::Rs256).unwrap();
    // Made before the app starts: an RSA key takes seconds in a debug build,
    // longer than the client's idle connection lives on the server.
    let stranger = tempfile::tempdir().unwrap();
    let other = generate_key(stranger.path(), KeyAlgorithm::Rs256).unwrap();
    let app = app_with_keys(&database, keys.path(), &kid).await;
    let (_, alice) = app.user("alice").await;
    let part = alice.access.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap();
    let refused = |token: String| {
        let app = &app;
        async move {
            app.get_auth("/api/v1/users/me", &token)
                .await
                .assert_error(401, "invalid_token");
        }
    };
    // HS256 with the published public key as the secret (algorithm confusion).
    let public = serde_json::to_vec(&fetch_jwks(&app).await.keys[0]).unwrap();
    let with = |header: Header, claims: &Value, key: &EncodingKey| {
        jsonwebtoken::encode(&header, claims, key).unwrap()
    };
    let mut confused = Header::new(Algorithm::HS256);
    confused.kid = Some(kid.clone());
    refused(with(confused, &claims, &EncodingKey::from_secret(&public))).await;
    // Signed by a key of another set, under our kid and under its own.
    let pem = std::fs::read(stranger.path().join(format!("{other}.RS256.pem"))).unwrap();
    let foreign = EncodingKey::from_rsa_pem(&pem).unwrap();
    for header_kid in [Some(kid.clone()), Some(other), None] {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = header_kid;
        refused(with(header, &claims, &foreign)).await;
    }
    // Our key, but another issuer or audience, or no kid.
    let ours = EncodingKey::from_rsa_pem(
        &std::fs::read(keys.path().join(format!("{kid}.RS256.pem"))).unwrap(),
    )
    .unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.clone());
    assert_eq!(
        app.get_auth("/api/v1/users/me", &with(header.clone(), &claims, &ours))
            .await
            .status,
        200,
        "the same claims, signed right, pass"
    );
    for (claim, value) in [("iss", "someone-else"), ("aud", "another-service")] {
        let mut odd = claims.clone();
        odd[claim] = json!(value);
        refused(with(header.clone(), &odd, &ours)).await;
    }
    refused(with(Header::new(Algorithm::RS256), &claims, &ours)).await;
}

#[test]
fn with_an_hmac_secret_the_jwks_is_empty() {
    crate::helpers::on_an_app(TestBackend::Sqlite, |app| async move {
        let response = app.get("/.well-known/jwks.json").await;
        assert_eq!(
            (response.status, response.json()),
            (200, json!({"keys": []}))
        );
    });
}
