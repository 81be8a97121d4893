//! Many writes at once: every acknowledged one is stored.

use std::collections::HashSet;

use futures_util::future::join_all;

use crate::helpers::TestApp;

blog_infra::backend_matrix!(crate::helpers::on_an_app; fifty_concurrent_creates_by_one_user_are_all_persisted_and_listed);

async fn fifty_concurrent_creates_by_one_user_are_all_persisted_and_listed(app: TestApp) {
    let (alice, tokens) = app.user("alice").await;
    let titles: Vec<String> = (0..50).map(|n| format!("post {n}")).collect();
    let creates = titles
        .iter()
        .map(|title| app.create_post(&tokens.access, title, "concurrent"));
    let ids: HashSet<i64> = join_all(creates)
        .await
        .iter()
        .map(|post| post["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 50);
    let response = app
        .get(&format!("/api/v1/posts?user_id={alice}&per_page=100"))
        .await;
    assert_eq!(response.header("x-total-count"), Some("50"));
    let listed: HashSet<i64> = response.json()["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|post| post["id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, ids);
}
