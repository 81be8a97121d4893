//! The probes.

use crate::helpers::TestApp;

blog_infra::backend_matrix!(
    crate::helpers::on_an_app;
    healthz_answers_ok,
    readyz_is_ready_on_a_reachable_migrated_database
);

async fn healthz_answers_ok(app: TestApp) {
    let response = app.get("/healthz").await;
    assert_eq!(
        (response.status, response.json()),
        (200, serde_json::json!({"status": "ok"}))
    );
}

async fn readyz_is_ready_on_a_reachable_migrated_database(app: TestApp) {
    let response = app.get("/readyz").await;
    assert_eq!(
        (response.status, response.json()),
        (200, serde_json::json!({"status": "ready"}))
    );
}
