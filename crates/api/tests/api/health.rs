//! The probes.

use crate::helpers::TestApp;

crate::on_both_backends!(
    healthz_answers_while_the_process_lives,
    readyz_answers_while_the_database_does
);

async fn healthz_answers_while_the_process_lives(app: TestApp) {
    let response = app.get("/healthz").await;
    assert_eq!(
        (response.status, response.json()),
        (200, serde_json::json!({"status": "ok"}))
    );
}

async fn readyz_answers_while_the_database_does(app: TestApp) {
    let response = app.get("/readyz").await;
    assert_eq!(
        (response.status, response.json()),
        (200, serde_json::json!({"status": "ready"}))
    );
}
