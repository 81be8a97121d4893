//! A PostgreSQL outage: JSON 503s within the connection timeout, no hang,
//! and recovery without a restart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use serde_json::json;

use blog_infra::testing::{TestBackend, TestDatabase};

use crate::helpers::{TestApp, spawn_app_on, test_settings};

const TIMEOUT_SECS: u64 = 1;

/// Refuses new connections to the database and ends the open ones.
fn cut(app: &TestApp, allow: bool) {
    let name = app.database.postgres_name().unwrap();
    let mut admin = app.database.admin_connection().unwrap();
    diesel::sql_query(format!(
        "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS {allow}"
    ))
    .execute(&mut admin)
    .unwrap();
    if !allow {
        diesel::sql_query(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ))
        .execute(&mut admin)
        .unwrap();
    }
}

#[actix_web::test]
#[cfg_attr(not(blog_postgres_tests), ignore = "needs BLOG_TEST_POSTGRES_URL")]
async fn a_database_outage_answers_503_quickly_and_the_service_recovers_by_itself() {
    let database = TestDatabase::new(TestBackend::Postgres);
    let app = spawn_app_on(Arc::new(database), |database| {
        let mut settings = test_settings(database);
        settings.database.connect_timeout_secs = TIMEOUT_SECS;
        settings
    })
    .await;
    let (_, tokens) = app.user("alice").await;
    let post = app
        .create_post(&tokens.access, "before", "the outage")
        .await;
    let path = format!("/api/v1/posts/{}", post["id"]);

    cut(&app, false);
    let started = Instant::now();
    for response in [
        app.get(&path).await,
        app.get("/api/v1/posts").await,
        app.get_auth("/api/v1/users/me", &tokens.access).await,
        app.post(
            "/api/v1/login",
            &json!({"username": "alice", "password": crate::helpers::PASSWORD}),
        )
        .await,
        app.post_auth(
            "/api/v1/posts",
            &tokens.access,
            &json!({"title": "t", "content": "c"}),
        )
        .await,
        app.get("/readyz").await,
    ] {
        response.assert_error(503, "service_unavailable");
        assert!(response.header("retry-after").is_some());
    }
    // Six requests, each bounded by the timeout (plus slack for a slow machine).
    assert!(
        started.elapsed() < Duration::from_secs(6 * (TIMEOUT_SECS + 2)),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        app.get("/healthz").await.status,
        200,
        "alive while the database is not"
    );

    cut(&app, true);
    assert_eq!(app.get("/readyz").await.status, 200);
    assert_eq!(app.get(&path).await.json(), post);
    assert_eq!(
        app.get_auth("/api/v1/users/me", &tokens.access)
            .await
            .status,
        200
    );
    app.create_post(&tokens.access, "after", "the outage").await;
}
