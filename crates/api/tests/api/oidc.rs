//! Third-party login against the test provider of `idp`, the whole
//! redirect flow over HTTP: the app's authorize, the provider's authorize,
//! the app's callback.

use std::sync::Arc;
use std::time::{Duration, Instant};

use blog_api::configuration::OidcProviderSettings;
use blog_infra::testing::{TestBackend, TestDatabase};
use secrecy::SecretString;
use serde_json::json;

use crate::helpers::{PASSWORD, Response, TestApp, spawn_app_on, test_settings, tokens};
use crate::idp::{CLIENT_ID, CLIENT_SECRET, Idp, REDIRECT_URI, Spoil};

blog_infra::backend_matrix!(
    crate::oidc::with_a_provider;
    a_first_login_makes_the_user_and_the_next_one_finds_it,
    a_forged_replayed_or_incomplete_callback_is_refused_and_makes_nothing,
    an_id_token_failing_any_check_is_refused_and_makes_nothing,
    a_provider_down_or_slow_answers_503_within_the_timeout,
);

const PROVIDERS: &str = "/api/v1/oidc/providers";
const AUTHORIZE: &str = "/api/v1/oidc/test/authorize";

/// A provider setting: `test` is the test provider, `down` one at a port
/// nothing listens on.
fn provider(name: &str, issuer: &str) -> OidcProviderSettings {
    OidcProviderSettings {
        name: name.into(),
        issuer: issuer.into(),
        client_id: CLIENT_ID.into(),
        client_secret: SecretString::from(CLIENT_SECRET),
        redirect_uri: REDIRECT_URI.into(),
        scopes: vec!["profile".into()],
    }
}

/// Runs `test` on an app configured with the test provider (as `test`) and
/// a dead one (as `down`), with a one-second timeout.
fn with_a_provider<F: Future<Output = ()>>(
    backend: TestBackend,
    test: impl FnOnce(TestApp, Idp) -> F,
) {
    actix_web::rt::System::new().block_on(async move {
        let idp = Idp::start().await;
        let issuer = idp.issuer.clone();
        let app = spawn_app_on(Arc::new(TestDatabase::new(backend)), move |database| {
            let mut settings = test_settings(database);
            settings.oidc.timeout_secs = 1;
            settings.oidc.providers = vec![
                provider("test", &issuer),
                provider("down", "http://127.0.0.1:9"),
            ];
            settings
        })
        .await;
        test(app, idp).await;
    });
}

/// A client that shows redirects instead of following them.
async fn get_url(url: &str) -> Response {
    let client = awc::Client::builder().disable_redirects().finish();
    let mut response = client.get(url).send().await.unwrap();
    let body = response.body().await.unwrap().to_vec();
    Response {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body,
    }
}

/// The app's authorize, then the provider's: the path and query of the
/// provider's redirect back to the app.
async fn through_the_provider(app: &TestApp) -> String {
    let started = get_url(&app.url(AUTHORIZE)).await;
    assert_eq!(started.status, 302, "{:?}", started.body);
    let back = get_url(started.header("location").unwrap()).await;
    assert_eq!(back.status, 302, "the provider accepts the request");
    let location = back.header("location").unwrap();
    location
        .strip_prefix("http://127.0.0.1")
        .unwrap()
        .to_owned()
}

/// The `state` of a login started at the app, not taken to the provider.
async fn started_state(app: &TestApp) -> String {
    let started = get_url(&app.url(AUTHORIZE)).await;
    parameter(started.header("location").unwrap(), "state")
}

/// A query parameter of `url`.
fn parameter(url: &str, name: &str) -> String {
    url.split(['?', '&'])
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .unwrap()
        .to_owned()
}

/// The whole flow: a token pair, or the app's error.
async fn log_in(app: &TestApp) -> Response {
    let callback = through_the_provider(app).await;
    get_url(&app.url(&callback)).await
}

async fn user_count(app: &TestApp) -> String {
    let users = app.get("/api/v1/users").await;
    users.header("x-total-count").unwrap().to_owned()
}

async fn a_first_login_makes_the_user_and_the_next_one_finds_it(app: TestApp, idp: Idp) {
    let listed = app.get(PROVIDERS).await;
    assert_eq!(
        (listed.status, listed.json()),
        (
            200,
            json!({"providers": [{"name": "test"}, {"name": "down"}]})
        )
    );

    let started = get_url(&app.url(AUTHORIZE)).await;
    assert_eq!(started.status, 302);
    assert_eq!(started.header("cache-control"), Some("no-store"));
    let location = started.header("location").unwrap();
    assert!(
        location.starts_with(&format!("{}/authorize?", idp.issuer)),
        "{location}"
    );
    for parameter in [
        "response_type=code",
        &format!("client_id={CLIENT_ID}"),
        "code_challenge_method=S256",
        "code_challenge=",
        "state=",
        "nonce=",
        "scope=openid+profile",
    ] {
        assert!(location.contains(parameter), "{parameter} in {location}");
    }

    let first = log_in(&app).await;
    assert_eq!(
        first.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&first.body)
    );
    assert_eq!(first.header("cache-control"), Some("no-store"));
    let first_tokens = tokens(&first);
    let me = app.get_auth("/api/v1/users/me", &first_tokens.access).await;
    assert_eq!(me.status, 200);
    assert_eq!(
        me.json()["username"],
        "jane.doe",
        "named after preferred_username"
    );
    let jane = me.json()["id"].as_i64().unwrap();

    let second = log_in(&app).await;
    assert_eq!(second.status, 200);
    let me_again = app
        .get_auth("/api/v1/users/me", &tokens(&second).access)
        .await;
    assert_eq!(
        me_again.json()["id"],
        jane,
        "the second login finds the same user"
    );
    assert_eq!(
        app.refresh(&tokens(&second).refresh).await.status,
        200,
        "a normal session"
    );

    let events = app
        .get_auth("/api/v1/users/me/events", &first_tokens.access)
        .await;
    let trail: Vec<_> = events.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| (event["type"].clone(), event["provider"].clone()))
        .collect();
    assert_eq!(
        trail,
        [
            (json!("refreshed"), json!(null)),
            (json!("login_succeeded"), json!("test")),
            (json!("login_succeeded"), json!("test")),
            (json!("registered"), json!("test")),
        ]
    );

    // Another person at the provider whose name is taken: a suffix.
    idp.log_in_as("sub-other", "jane.doe");
    let other = log_in(&app).await;
    assert_eq!(other.status, 200);
    let other_me = app
        .get_auth("/api/v1/users/me", &tokens(&other).access)
        .await;
    let name = other_me.json()["username"].as_str().unwrap().to_owned();
    assert!(name.starts_with("jane.doe_") && name.len() == 17, "{name}");

    // No password logs the new user in, not even an empty one.
    for password in [PASSWORD, ""] {
        app.post(
            "/api/v1/login",
            &json!({"username": "jane.doe", "password": password}),
        )
        .await
        .assert_error(401, "invalid_credentials");
    }
}

async fn a_forged_replayed_or_incomplete_callback_is_refused_and_makes_nothing(
    app: TestApp,
    idp: Idp,
) {
    let callback = "/api/v1/oidc/test/callback";
    for query in ["", "?code=x", "?state=forged&code=x", "?state=&code=x"] {
        get_url(&app.url(&format!("{callback}{query}")))
            .await
            .assert_error(400, "bad_request");
    }

    // A state is used once: the replay of a whole callback is refused.
    let back = through_the_provider(&app).await;
    assert_eq!(get_url(&app.url(&back)).await.status, 200);
    get_url(&app.url(&back))
        .await
        .assert_error(400, "bad_request");
    let users_after_one = user_count(&app).await;

    // A state sent to one provider is no good at another (mix-up).
    let back = through_the_provider(&app).await;
    let at_down = back.replace("/oidc/test/", "/oidc/down/");
    get_url(&app.url(&at_down))
        .await
        .assert_error(400, "bad_request");
    get_url(&app.url(&back))
        .await
        .assert_error(400, "bad_request");

    // The provider's refusal, and a callback without its code.
    let state = started_state(&app).await;
    get_url(&app.url(&format!("{callback}?state={state}&error=access_denied")))
        .await
        .assert_error(400, "bad_request");
    let state = started_state(&app).await;
    get_url(&app.url(&format!("{callback}?state={state}")))
        .await
        .assert_error(400, "bad_request");

    // A code the provider refuses (another login's, used already).
    let first = through_the_provider(&app).await;
    let second = through_the_provider(&app).await;
    assert_eq!(get_url(&app.url(&first)).await.status, 200);
    let injected = second.replace(&parameter(&second, "code"), &parameter(&first, "code"));
    get_url(&app.url(&injected))
        .await
        .assert_error(400, "bad_request");

    for path in [
        "/api/v1/oidc/nope/authorize",
        "/api/v1/oidc/nope/callback?state=x",
    ] {
        get_url(&app.url(path)).await.assert_error(404, "not_found");
    }
    assert_eq!(
        user_count(&app).await,
        users_after_one,
        "nothing refused made a user"
    );
    drop(idp);
}

async fn an_id_token_failing_any_check_is_refused_and_makes_nothing(app: TestApp, idp: Idp) {
    for spoil in [
        Spoil {
            foreign_key: true,
            ..Spoil::default()
        },
        Spoil {
            audience: Some("another-client"),
            ..Spoil::default()
        },
        Spoil {
            expires_in: Some(-3600),
            ..Spoil::default()
        },
        Spoil {
            issuer: Some("http://127.0.0.1:1"),
            ..Spoil::default()
        },
        Spoil {
            nonce: Some("another-nonce"),
            ..Spoil::default()
        },
    ] {
        idp.spoil(spoil.clone());
        log_in(&app).await.assert_error(401, "invalid_credentials");
        assert_eq!(user_count(&app).await, "0", "{spoil:?} made a user");
    }
    assert_eq!(
        idp.tokens_issued(),
        5,
        "each was an ID token the provider signed"
    );
    idp.spoil(Spoil::default());
    assert_eq!(
        log_in(&app).await.status,
        200,
        "the provider itself is fine"
    );
}

async fn a_provider_down_or_slow_answers_503_within_the_timeout(app: TestApp, idp: Idp) {
    get_url(&app.url("/api/v1/oidc/down/authorize"))
        .await
        .assert_error(503, "service_unavailable");

    // Slower than the one-second timeout.
    idp.spoil(Spoil {
        token_delay: Some(Duration::from_secs(3)),
        ..Spoil::default()
    });
    let back = through_the_provider(&app).await;
    let started = Instant::now();
    get_url(&app.url(&back))
        .await
        .assert_error(503, "service_unavailable");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );

    // Gone between the authorize and the callback.
    idp.spoil(Spoil::default());
    let back = through_the_provider(&app).await;
    idp.stop().await;
    get_url(&app.url(&back))
        .await
        .assert_error(503, "service_unavailable");
    assert_eq!(user_count(&app).await, "0", "nothing was made");
}
