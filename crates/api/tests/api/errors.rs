//! Errors from the framework's own layers have the contract's JSON shape too.

use awc::http::Method;
use serde_json::json;

use crate::helpers::TestApp;

blog_infra::backend_matrix!(
    crate::helpers::on_an_app;
    an_unknown_route_is_a_json_404,
    a_wrong_method_is_a_json_405_with_allow,
    a_body_over_one_mebibyte_is_a_json_413,
    a_body_that_is_declared_as_something_else_is_a_json_415,
    a_json_body_without_a_content_type_is_read,
    head_is_answered_like_get_without_a_body,
    every_response_carries_the_security_headers_and_a_request_id,
);

async fn an_unknown_route_is_a_json_404(app: TestApp) {
    for path in [
        "/",
        "/api/v1",
        "/api/v2/posts",
        "/api/v1/posts/1/comments",
        "/api/v1/users/1",
    ] {
        app.get(path).await.assert_error(404, "not_found");
    }
}

async fn a_wrong_method_is_a_json_405_with_allow(app: TestApp) {
    for (method, path, allow) in [
        (Method::PATCH, "/api/v1/posts", "GET, HEAD, POST"),
        (Method::DELETE, "/api/v1/users", "GET, HEAD, POST"),
        (Method::POST, "/api/v1/users/me", "GET, HEAD"),
        (Method::GET, "/api/v1/login", "POST"),
        (Method::PUT, "/api/v1/refresh", "POST"),
        (Method::GET, "/api/v1/logout", "POST"),
        (Method::POST, "/api/v1/posts/1", "GET, HEAD, PUT, DELETE"),
    ] {
        let response = app.send(method.clone(), path, None, None, &[]).await;
        response.assert_error(405, "method_not_allowed");
        assert_eq!(response.header("allow"), Some(allow), "{method} {path}");
    }
}

async fn a_body_over_one_mebibyte_is_a_json_413(app: TestApp) {
    let (_, tokens) = app.user("alice").await;
    let big = json!({"title": "t", "content": "x".repeat(2 * 1024 * 1024)})
        .to_string()
        .into_bytes();
    let authorization = format!("Bearer {}", tokens.access);
    let headers = [
        ("content-type", "application/json"),
        ("authorization", authorization.as_str()),
    ];
    app.send_raw(Method::POST, "/api/v1/posts", &headers, big.clone())
        .await
        .assert_error(413, "payload_too_large");
    app.send_raw(Method::POST, "/api/v1/users", &headers, big.clone())
        .await
        .assert_error(413, "payload_too_large");
    let post = app.create_post(&tokens.access, "t", "c").await;
    let path = format!("/api/v1/posts/{}", post["id"]);
    app.send_raw(Method::PUT, &path, &headers, big)
        .await
        .assert_error(413, "payload_too_large");
    assert_eq!(
        app.get("/api/v1/posts").await.header("x-total-count"),
        Some("1")
    );
}

async fn a_body_that_is_declared_as_something_else_is_a_json_415(app: TestApp) {
    let body = json!({"username": "alice", "password": "correct horse"})
        .to_string()
        .into_bytes();
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let response = app
            .send_raw(
                Method::POST,
                "/api/v1/users",
                &[("content-type", content_type)],
                body.clone(),
            )
            .await;
        response.assert_error(415, "unsupported_media_type");
    }
    assert_eq!(
        app.get("/api/v1/users").await.header("x-total-count"),
        Some("0")
    );
}

async fn a_json_body_without_a_content_type_is_read(app: TestApp) {
    let body = json!({"username": "alice", "password": "correct horse"})
        .to_string()
        .into_bytes();
    let response = app.send_raw(Method::POST, "/api/v1/users", &[], body).await;
    assert_eq!(response.status, 201, "{:?}", response.json());
}

async fn head_is_answered_like_get_without_a_body(app: TestApp) {
    let response = app
        .send(Method::HEAD, "/api/v1/posts", None, None, &[])
        .await;
    assert_eq!((response.status, response.body.len()), (200, 0));
    assert_eq!(response.header("x-total-count"), Some("0"));
}

async fn every_response_carries_the_security_headers_and_a_request_id(app: TestApp) {
    let mut ids = Vec::new();
    for response in [
        app.get("/api/v1/posts").await,
        app.get("/nowhere").await,
        app.get("/healthz").await,
        app.get("/api/v1/users/me").await,
        app.send(Method::PATCH, "/api/v1/posts", None, None, &[])
            .await,
        app.post("/api/v1/users", &json!(["not", "an", "object"]))
            .await,
    ] {
        let status = response.status;
        assert_eq!(
            response.header("x-content-type-options"),
            Some("nosniff"),
            "{status}"
        );
        assert_eq!(response.header("x-frame-options"), Some("DENY"), "{status}");
        assert_eq!(
            response.header("cache-control"),
            Some("no-store"),
            "{status}"
        );
        assert_eq!(
            response.header("referrer-policy"),
            Some("no-referrer"),
            "{status}"
        );
        assert_eq!(
            response.header("content-security-policy"),
            Some("default-src 'none'; frame-ancestors 'none'"),
            "{status}"
        );
        ids.push(response.header("x-request-id").unwrap().to_owned());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6, "a new id per request: {ids:?}");
}
