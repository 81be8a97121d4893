//! Acknowledged writes survive a restart, and so do logouts.

use std::sync::Arc;

use crate::helpers::{TestApp, spawn_app_on, test_settings};

blog_infra::backend_matrix!(crate::helpers::on_an_app; an_acknowledged_write_and_a_logout_survive_a_restart);

async fn an_acknowledged_write_and_a_logout_survive_a_restart(app: TestApp) {
    let (_, tokens) = app.user("alice").await;
    let post = app
        .create_post(&tokens.access, "durable", "still here")
        .await;
    let still_logged_in = app.login("alice").await;
    assert_eq!(
        app.post_auth("/api/v1/logout", &tokens.access, &serde_json::json!({}))
            .await
            .status,
        200
    );
    app.handle.stop(true).await;

    let database = Arc::clone(&app.database);
    let restarted = spawn_app_on(database, test_settings).await;
    let path = format!("/api/v1/posts/{}", post["id"]);
    assert_eq!(restarted.get(&path).await.json(), post);
    restarted
        .refresh(&tokens.refresh)
        .await
        .assert_error(401, "token_revoked");
    assert_eq!(
        restarted
            .get_auth("/api/v1/users/me", &still_logged_in.access)
            .await
            .status,
        200
    );
}
