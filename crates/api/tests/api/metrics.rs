//! Prometheus metrics on the admin listener: they move with the traffic,
//! by route template, never on the public port.

use std::collections::HashMap;
use std::sync::Arc;

use blog_infra::testing::{TestBackend, TestDatabase};
use serde_json::json;

use crate::helpers::{TestApp, spawn_app_on, test_settings};

/// Every sample of a scrape, by its series (name and labels).
async fn scrape(app: &TestApp) -> HashMap<String, f64> {
    let port = app.admin_port.unwrap();
    let mut response = awc::Client::default()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = String::from_utf8(response.body().await.unwrap().to_vec()).unwrap();
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn moved(before: &HashMap<String, f64>, after: &HashMap<String, f64>, series: &str) -> f64 {
    after
        .get(series)
        .copied()
        .unwrap_or_else(|| panic!("no {series} in {after:?}"))
        - before.get(series).copied().unwrap_or(0.0)
}

#[actix_web::test]
async fn metrics_move_with_the_traffic_on_the_admin_listener_only() {
    // The layer that counts auth events is part of the log subscriber.
    let _logs = blog_api::telemetry::init(&blog_api::configuration::LogSettings {
        filter: "warn".into(),
        format: blog_api::configuration::LogFormat::Json,
    });
    let app = spawn_app_on(
        Arc::new(TestDatabase::new(TestBackend::Sqlite)),
        |database| {
            let mut settings = test_settings(database);
            settings.admin.metrics_enabled = true;
            settings.admin.metrics_address = "127.0.0.1:0".into();
            settings
        },
    )
    .await;
    let before = scrape(&app).await;

    let (_, tokens) = app.user("alice").await;
    app.post(
        "/api/v1/login",
        &json!({"username": "alice", "password": "wrong password"}),
    )
    .await
    .assert_error(401, "invalid_credentials");
    app.refresh(&tokens.refresh).await;
    app.create_post(&tokens.access, "title", "content").await;
    for id in [1, 2, 999] {
        app.get(&format!("/api/v1/posts/{id}")).await;
    }
    app.get("/api/v1/no/such/path/42").await;
    app.post_auth("/api/v1/logout", &tokens.access, &json!({}))
        .await;
    let after = scrape(&app).await;

    for (series, at_least) in [
        (
            r#"http_requests_total{method="GET",route="/api/v1/posts/{id}",status="200"}"#,
            1.0,
        ),
        (
            r#"http_requests_total{method="GET",route="/api/v1/posts/{id}",status="404"}"#,
            2.0,
        ),
        (
            r#"http_requests_total{method="POST",route="/api/v1/posts",status="201"}"#,
            1.0,
        ),
        (
            r#"http_request_duration_seconds_count{method="GET",route="/api/v1/posts/{id}",status="404"}"#,
            2.0,
        ),
        (
            r#"http_requests_total{method="GET",route="unmatched",status="404"}"#,
            1.0,
        ),
        (r#"auth_events_total{event="registered"}"#, 1.0),
        (r#"auth_events_total{event="login_succeeded"}"#, 1.0),
        (r#"auth_events_total{event="login_failed"}"#, 1.0),
        (r#"auth_events_total{event="refreshed"}"#, 1.0),
        (r#"auth_events_total{event="logged_out"}"#, 1.0),
        ("password_hash_wait_seconds_count", 3.0),
        ("db_pool_wait_seconds_count", 5.0),
    ] {
        assert!(
            moved(&before, &after, series) >= at_least,
            "{series} moved too little"
        );
    }
    assert!(
        after
            .keys()
            .all(|series| !series.contains("/api/v1/posts/999")),
        "no raw path is a label"
    );
    assert!(
        after.contains_key("db_pool_connections") && after.contains_key("db_pool_idle_connections")
    );
    assert!(after.contains_key("password_hash_waiting"));
    assert_eq!(
        after.get(&format!(
            "blog_api_build_info{{version=\"{}\"}}",
            env!("CARGO_PKG_VERSION")
        )),
        Some(&1.0)
    );
    // Not on the public port.
    app.get("/metrics").await.assert_error(404, "not_found");
}
