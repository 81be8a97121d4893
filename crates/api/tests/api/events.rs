//! The audit trail: `GET /api/v1/users/me/events`, what each step of a
//! login writes to it, and its purge after the retention period.

use awc::http::Method;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use blog_api::configuration::Profile;
use blog_infra::testing::TestBackend;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Response, TestApp, test_settings, tokens};

blog_infra::backend_matrix!(
    crate::helpers::on_an_app;
    each_step_of_a_login_is_in_the_trail_newest_first_with_its_client_and_session,
    a_trail_shows_only_its_users_events_in_pages,
    the_trail_needs_a_token_before_its_paging_is_judged,
    the_trail_holds_no_password_hash_or_token,
);

mod purge {
    blog_infra::backend_matrix!(
        crate::events::on_the_backend;
        a_purge_deletes_events_past_the_retention_and_keeps_the_rest,
    );

    use super::*;
}

const AGENT: &str = "events-test/1.0";

/// A request from the [`AGENT`] user agent.
async fn send(app: &TestApp, path: &str, token: Option<&str>, body: Option<&Value>) -> Response {
    let method = if body.is_some() {
        Method::POST
    } else {
        Method::GET
    };
    app.send(method, path, token, body, &[("user-agent", AGENT)])
        .await
}

async fn login(app: &TestApp, password: &str) -> Response {
    let credentials = json!({"username": "alice", "password": password});
    send(app, "/api/v1/login", None, Some(&credentials)).await
}

/// The `sid` claim of a token of ours.
fn session_of(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["sid"].as_str().unwrap().to_owned()
}

async fn events_of(app: &TestApp, token: &str, query: &str) -> Response {
    let response = app
        .get_auth(&format!("/api/v1/users/me/events{query}"), token)
        .await;
    assert_eq!(response.status, 200, "{:?}", response.json());
    response
}

fn types(events: &Value) -> Vec<&str> {
    events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["type"].as_str().unwrap())
        .collect()
}

async fn each_step_of_a_login_is_in_the_trail_newest_first_with_its_client_and_session(
    app: TestApp,
) {
    let credentials = json!({"username": "alice", "password": PASSWORD});
    assert_eq!(
        send(&app, "/api/v1/users", None, Some(&credentials))
            .await
            .status,
        201
    );
    login(&app, "wrong password")
        .await
        .assert_error(401, "invalid_credentials");
    let first = tokens(&login(&app, PASSWORD).await);
    let refresh = json!({"refresh_token": first.refresh});
    let renewed = tokens(&send(&app, "/api/v1/refresh", None, Some(&refresh)).await);
    send(&app, "/api/v1/refresh", None, Some(&refresh))
        .await
        .assert_error(401, "token_revoked");
    let second = tokens(&login(&app, PASSWORD).await);
    let logout = send(
        &app,
        "/api/v1/logout",
        Some(&second.access),
        Some(&json!({})),
    )
    .await;
    assert_eq!(logout.status, 200);
    // Without a user agent: the event says so with null.
    let third = app.login("alice").await;

    let response = events_of(&app, &third.access, "").await;
    assert_eq!(response.header("x-total-count"), Some("8"));
    let body = response.json();
    assert_eq!(
        types(&body),
        [
            "login_succeeded",
            "logged_out",
            "login_succeeded",
            "refresh_reuse_detected",
            "refreshed",
            "login_succeeded",
            "login_failed",
            "registered",
        ]
    );
    let events = body["events"].as_array().unwrap();
    let sessions: Vec<Option<String>> = [&third.access, &second.access, &second.access]
        .iter()
        .map(|token| Some(session_of(token)))
        .chain([&renewed.access, &renewed.access, &first.access].map(|t| Some(session_of(t))))
        .chain([None, None])
        .collect();
    let named: Vec<Option<String>> = events
        .iter()
        .map(|event| event["session_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(named, sessions, "each event names its session, if any");
    for (n, event) in events.iter().enumerate() {
        let keys: Vec<&String> = event.as_object().unwrap().keys().collect();
        assert_eq!(
            keys.len(),
            7,
            "id, type, at, ip, user_agent, session_id, provider: {event}"
        );
        assert_eq!(
            event["provider"],
            Value::Null,
            "no third-party login: {event}"
        );
        assert_eq!(event["ip"], "127.0.0.1", "{event}");
        let agent = if n == 0 { Value::Null } else { json!(AGENT) };
        assert_eq!(event["user_agent"], agent, "{event}");
        let at = event["at"].as_str().unwrap();
        assert!(
            time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).is_ok(),
            "{at}"
        );
    }
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|pair| pair[0] > pair[1]), "{ids:?}");
}

async fn a_trail_shows_only_its_users_events_in_pages(app: TestApp) {
    let (_, alice) = app.user("alice").await;
    app.user("bob").await;
    let wrong = json!({"username": "alice", "password": "wrong password"});
    for _ in 0..3 {
        app.post("/api/v1/login", &wrong)
            .await
            .assert_error(401, "invalid_credentials");
    }
    let unknown = json!({"username": "nobody", "password": "wrong password"});
    app.post("/api/v1/login", &unknown)
        .await
        .assert_error(401, "invalid_credentials");

    let everything = events_of(&app, &alice.access, "").await;
    assert_eq!(
        types(&everything.json()),
        [
            "login_failed",
            "login_failed",
            "login_failed",
            "login_succeeded",
            "registered"
        ],
        "bob's events and the unknown name's failure are not alice's"
    );
    let page = events_of(&app, &alice.access, "?page=2&per_page=2").await;
    assert_eq!(types(&page.json()), ["login_failed", "login_succeeded"]);
    assert_eq!(page.header("x-total-count"), Some("5"));
    let link = page.header("link").unwrap();
    for rel in [
        "<?page=1&per_page=2>; rel=\"first\"",
        "<?page=1&per_page=2>; rel=\"prev\"",
        "<?page=3&per_page=2>; rel=\"next\"",
        "<?page=3&per_page=2>; rel=\"last\"",
    ] {
        let rel = rel.replace("<?", "</api/v1/users/me/events?");
        assert!(link.contains(&rel), "{rel} in {link}");
    }
    let past = events_of(&app, &alice.access, "?page=9").await;
    assert_eq!(types(&past.json()), Vec::<&str>::new());
}

async fn the_trail_needs_a_token_before_its_paging_is_judged(app: TestApp) {
    let path = "/api/v1/users/me/events";
    app.get(path).await.assert_error(401, "missing_token");
    app.get(&format!("{path}?page=x"))
        .await
        .assert_error(401, "missing_token");
    app.get_auth(&format!("{path}?per_page=0"), "not.a.token")
        .await
        .assert_error(401, "invalid_token");
    let (_, alice) = app.user("alice").await;
    app.get_auth(&format!("{path}?page=x"), &alice.access)
        .await
        .assert_error(400, "bad_request");
    app.get_auth(&format!("{path}?per_page=101"), &alice.access)
        .await
        .assert_error(400, "validation_failed");
    app.post_auth("/api/v1/logout", &alice.access, &json!({}))
        .await;
    app.get_auth(path, &alice.access)
        .await
        .assert_error(401, "token_revoked");
}

async fn the_trail_holds_no_password_hash_or_token(app: TestApp) {
    let (_, alice) = app.user("alice").await;
    let renewed = tokens(&app.refresh(&alice.refresh).await);
    let wrong = "an entirely wrong password";
    app.post(
        "/api/v1/login",
        &json!({"username": "alice", "password": wrong}),
    )
    .await;
    let body = events_of(&app, &renewed.access, "").await.body;
    let body = String::from_utf8(body).unwrap();
    for secret in [
        PASSWORD,
        wrong,
        "$2b$",
        &alice.access,
        &alice.refresh,
        &renewed.access,
        &renewed.refresh,
    ] {
        assert!(!body.contains(secret), "{secret:?} in {body}");
    }
}

/// Runs `test` with the backend alone: it makes its own app and database.
fn on_the_backend<F: Future<Output = ()>>(
    backend: TestBackend,
    test: impl FnOnce(TestBackend) -> F,
) {
    actix_web::rt::System::new().block_on(test(backend));
}

async fn a_purge_deletes_events_past_the_retention_and_keeps_the_rest(backend: TestBackend) {
    use diesel::RunQueryDsl;
    let app = crate::helpers::spawn_app(backend).await;
    let (alice_id, alice) = app.user("alice").await;
    let settings = test_settings(&app.database);
    assert_eq!(settings.database.event_retention_days, 90);
    let pool = blog_infra::db::pool(
        &blog_infra::DatabaseUrl::parse(app.database.url()).unwrap(),
        &blog_infra::PoolOptions {
            max_size: 1,
            connection_timeout: std::time::Duration::from_secs(5),
        },
    );
    let now = time::OffsetDateTime::now_utc();
    let format = time::format_description::parse_borrowed::<2>(
        "[year]-[month]-[day] [hour]:[minute]:[second]",
    )
    .unwrap();
    for days_ago in [91, 89] {
        let at = (now - time::Duration::days(days_ago))
            .format(&format)
            .unwrap();
        let insert = format!(
            "INSERT INTO security_events (kind, user_id, at) \
             VALUES ('login_failed', {alice_id}, '{at}')"
        );
        let inserted = match &mut *pool.get().unwrap() {
            blog_infra::db::DbConnection::Sqlite(conn) => diesel::sql_query(&insert).execute(conn),
            blog_infra::db::DbConnection::Postgres(conn) => {
                diesel::sql_query(&insert).execute(conn)
            }
        };
        assert_eq!(inserted.unwrap(), 1);
    }
    assert_eq!(
        events_of(&app, &alice.access, "")
            .await
            .header("x-total-count"),
        Some("4")
    );

    // No other instance purges, so this one runs: `Some`.
    let report = actix_web::web::block(move || {
        blog_api::startup::purge(&settings, Profile::Testing).unwrap()
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(report.security_events, 1);
    let left = events_of(&app, &alice.access, "").await.json();
    assert_eq!(
        types(&left),
        ["login_failed", "login_succeeded", "registered"],
        "the 89-day-old event stays (first: ids order the trail, and it was inserted last)"
    );
}
