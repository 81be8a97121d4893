//! `/api/v1/users` and `/api/v1/users/me`.

use serde_json::json;

use crate::helpers::{PASSWORD, TestApp};

blog_infra::backend_matrix!(
    crate::helpers::on_an_app;
    register_returns_201_and_the_user_without_any_password,
    register_refuses_a_taken_username_with_400_username_taken,
    register_refuses_missing_fields_and_bad_usernames_with_validation_failed,
    register_refuses_passwords_outside_8_to_72_bytes_as_weak,
    register_refuses_common_passwords_and_ones_containing_the_username,
    register_refuses_a_body_that_is_not_json,
    users_are_listed_under_their_key_with_paging_headers,
    me_returns_the_caller,
    me_without_a_token_is_401_missing_token,
);

async fn register_returns_201_and_the_user_without_any_password(app: TestApp) {
    let response = app
        .post(
            "/api/v1/users",
            &json!({"username": "alice", "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status, 201);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let user = response.json();
    assert_eq!(user["username"], "alice");
    assert!(user["id"].as_i64().unwrap() > 0);
    let created_at = user["created_at"].as_str().unwrap();
    assert!(
        created_at.ends_with('Z') && created_at.len() == 20,
        "RFC 3339 UTC: {created_at}"
    );
    assert_eq!(
        user.as_object().unwrap().len(),
        3,
        "only id, username, created_at: {user}"
    );
    let text = String::from_utf8_lossy(&response.body).to_lowercase();
    assert!(
        !text.contains("password") && !text.contains("$2b$"),
        "{text}"
    );
}

async fn register_refuses_a_taken_username_with_400_username_taken(app: TestApp) {
    app.register("alice").await;
    let again = app
        .post(
            "/api/v1/users",
            &json!({"username": "alice", "password": "another password"}),
        )
        .await;
    again.assert_error(400, "username_taken");
}

async fn register_refuses_missing_fields_and_bad_usernames_with_validation_failed(app: TestApp) {
    for body in [
        json!({"username": "alice"}),
        json!({"password": PASSWORD}),
        json!({}),
        json!({"username": 42, "password": PASSWORD}),
        json!({"username": "a", "password": PASSWORD}),
        json!({"username": "has space", "password": PASSWORD}),
        json!({"username": "x".repeat(33), "password": PASSWORD}),
    ] {
        app.post("/api/v1/users", &body)
            .await
            .assert_error(400, "validation_failed");
    }
    // Nothing was created.
    assert_eq!(
        app.get("/api/v1/users").await.header("x-total-count"),
        Some("0")
    );
}

async fn register_refuses_common_passwords_and_ones_containing_the_username(app: TestApp) {
    for (password, says) in [
        (
            "password1",
            "password is one of the 10,000 most common passwords",
        ),
        (
            "Iloveyou",
            "password is one of the 10,000 most common passwords",
        ),
        (
            "I am Alice, really",
            "password must not contain the username",
        ),
    ] {
        let message = app
            .post(
                "/api/v1/users",
                &json!({"username": "alice", "password": password}),
            )
            .await
            .assert_error(400, "weak_password");
        assert_eq!(message, says, "{password}");
    }
    assert_eq!(
        app.get("/api/v1/users").await.header("x-total-count"),
        Some("0")
    );
}

async fn register_refuses_passwords_outside_8_to_72_bytes_as_weak(app: TestApp) {
    for password in ["short", "1234567", &"p".repeat(73), &"é".repeat(37)] {
        let response = app
            .post(
                "/api/v1/users",
                &json!({"username": "alice", "password": password}),
            )
            .await;
        response.assert_error(400, "weak_password");
    }
    // The bounds themselves are fine.
    let shortest = app
        .post(
            "/api/v1/users",
            &json!({"username": "eight", "password": "8 bytes!"}),
        )
        .await;
    assert_eq!(shortest.status, 201);
    let longest = app
        .post(
            "/api/v1/users",
            &json!({"username": "longest", "password": "p".repeat(72)}),
        )
        .await;
    assert_eq!(longest.status, 201);
}

async fn register_refuses_a_body_that_is_not_json(app: TestApp) {
    let headers = [("content-type", "application/json")];
    for body in ["not json", "{\"username\": ", ""] {
        let response = app
            .send_raw(
                awc::http::Method::POST,
                "/api/v1/users",
                &headers,
                body.into(),
            )
            .await;
        response.assert_error(400, "bad_request");
    }
}

async fn users_are_listed_under_their_key_with_paging_headers(app: TestApp) {
    for name in ["u1a", "u2b", "u3c"] {
        app.register(name).await;
    }
    let response = app.get("/api/v1/users?page=2&per_page=2").await;
    assert_eq!(response.status, 200);
    let names: Vec<_> = response.json()["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].clone())
        .collect();
    assert_eq!(names, vec![json!("u3c")]);
    assert_eq!(response.header("x-total-count"), Some("3"));
    let link = response.header("link").unwrap();
    assert!(
        link.contains("</api/v1/users?page=1&per_page=2>; rel=\"prev\""),
        "{link}"
    );
    assert!(!link.contains("rel=\"next\""), "{link}");
    assert!(!String::from_utf8_lossy(&response.body).contains("password"));
    for query in [
        "page=0",
        "per_page=0",
        "per_page=101",
        "page=abc",
        "page=-1",
        "per_page=1.5",
    ] {
        let response = app.get(&format!("/api/v1/users?{query}")).await;
        assert_eq!(response.status, 400, "{query}");
        assert!(
            matches!(
                response.json()["code"].as_str(),
                Some("bad_request" | "validation_failed")
            ),
            "{query}"
        );
    }
}

async fn me_returns_the_caller(app: TestApp) {
    let (id, tokens) = app.user("alice").await;
    app.user("bob").await;
    let response = app.get_auth("/api/v1/users/me", &tokens.access).await;
    assert_eq!(response.status, 200);
    let me = response.json();
    assert_eq!(
        (me["id"].as_i64(), me["username"].as_str()),
        (Some(id), Some("alice"))
    );
}

async fn me_without_a_token_is_401_missing_token(app: TestApp) {
    let response = app.get("/api/v1/users/me").await;
    response.assert_error(401, "missing_token");
    assert_eq!(
        response.header("www-authenticate"),
        Some("Bearer realm=\"blog-api\"")
    );
}
