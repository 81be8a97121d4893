//! `/api/v1/posts`: one test per row of the contract, failures included.

use awc::http::Method;
use serde_json::json;

use crate::helpers::TestApp;

blog_infra::backend_matrix!(
    crate::helpers::on_an_app;
    create_returns_201_and_the_post,
    create_needs_an_access_token,
    create_refuses_bad_bodies_and_creates_nothing,
    text_round_trips_exactly,
    get_returns_the_post_or_404,
    ids_that_cannot_exist_are_404_never_500,
    list_is_newest_first_and_paginated_with_headers,
    list_filters_by_author,
    list_refuses_bad_paging_and_user_ids,
    update_by_the_author_changes_the_given_fields,
    update_answers_401_then_404_then_403_then_400,
    delete_by_the_author_returns_204_and_the_post_is_gone,
    delete_answers_401_then_404_then_403,
);

async fn create_returns_201_and_the_post(app: TestApp) {
    let (alice, tokens) = app.user("alice").await;
    let response = app
        .post_auth(
            "/api/v1/posts",
            &tokens.access,
            &json!({"title": "  Hello  ", "content": "World"}),
        )
        .await;
    assert_eq!(response.status, 201);
    let post = response.json();
    assert_eq!(
        (post["title"].as_str(), post["content"].as_str()),
        (Some("Hello"), Some("World"))
    );
    assert_eq!(post["user_id"].as_i64(), Some(alice));
    assert_eq!(post["created_at"], post["updated_at"]);
    let mut keys: Vec<_> = post.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "content",
            "created_at",
            "id",
            "title",
            "updated_at",
            "user_id"
        ]
    );
}

async fn create_needs_an_access_token(app: TestApp) {
    app.post("/api/v1/posts", &json!({"title": "t", "content": "c"}))
        .await
        .assert_error(401, "missing_token");
    assert_eq!(
        app.get("/api/v1/posts").await.header("x-total-count"),
        Some("0")
    );
}

async fn create_refuses_bad_bodies_and_creates_nothing(app: TestApp) {
    let (_, tokens) = app.user("alice").await;
    for body in [
        json!({"content": "no title"}),
        json!({"title": "no content"}),
        json!({"title": "", "content": "c"}),
        json!({"title": "   ", "content": "c"}),
        json!({"title": "x".repeat(201), "content": "c"}),
        json!({"title": "t", "content": "x".repeat(100_001)}),
        json!({"title": "t", "content": "nul \u{0} inside"}),
        json!({"title": 5, "content": "c"}),
    ] {
        app.post_auth("/api/v1/posts", &tokens.access, &body)
            .await
            .assert_error(400, "validation_failed");
    }
    let headers = [("content-type", "application/json")];
    let response = app
        .send_raw(
            Method::POST,
            "/api/v1/posts",
            &[
                headers[0],
                ("authorization", &format!("Bearer {}", tokens.access)),
            ],
            b"{".to_vec(),
        )
        .await;
    response.assert_error(400, "bad_request");
    assert_eq!(
        app.get("/api/v1/posts").await.header("x-total-count"),
        Some("0")
    );
    // The limits themselves are fine.
    app.create_post(&tokens.access, &"é".repeat(200), &"x".repeat(100_000))
        .await;
}

async fn text_round_trips_exactly(app: TestApp) {
    let (_, tokens) = app.user("alice").await;
    let title = "Robert'); DROP TABLE posts;-- 🎉";
    let content = "' OR '1'='1'; --\n\t<script>alert(1)</script> \\ \"quoted\" 日本語 👩‍👩‍👧 \u{7f}";
    let id = app.create_post(&tokens.access, title, content).await["id"]
        .as_i64()
        .unwrap();
    let post = app.get(&format!("/api/v1/posts/{id}")).await.json();
    assert_eq!(
        (post["title"].as_str(), post["content"].as_str()),
        (Some(title), Some(content))
    );
    assert_eq!(
        app.get("/api/v1/posts").await.header("x-total-count"),
        Some("1")
    );
}

async fn get_returns_the_post_or_404(app: TestApp) {
    let (_, tokens) = app.user("alice").await;
    let created = app.create_post(&tokens.access, "t", "c").await;
    let response = app.get(&format!("/api/v1/posts/{}", created["id"])).await;
    assert_eq!((response.status, response.json()), (200, created));
    let message = app
        .get("/api/v1/posts/424242")
        .await
        .assert_error(404, "not_found");
    assert_eq!(message, "Post not found");
}

async fn ids_that_cannot_exist_are_404_never_500(app: TestApp) {
    let (_, tokens) = app.user("alice").await;
    for id in [
        "-1",
        "0",
        "99999999999999999999",
        "abc",
        "1.5",
        "%00",
        "1%20OR%201=1",
    ] {
        let path = format!("/api/v1/posts/{id}");
        app.get(&path).await.assert_error(404, "not_found");
        app.put_auth(&path, &tokens.access, &json!({"title": "t"}))
            .await
            .assert_error(404, "not_found");
        app.delete_auth(&path, &tokens.access)
            .await
            .assert_error(404, "not_found");
    }
}

async fn list_is_newest_first_and_paginated_with_headers(app: TestApp) {
    let (_, tokens) = app.user("alice").await;
    for n in 1..=5 {
        app.create_post(&tokens.access, &format!("post {n}"), "c")
            .await;
    }
    let response = app.get("/api/v1/posts?page=2&per_page=2").await;
    assert_eq!(response.status, 200);
    let titles: Vec<_> = response.json()["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].clone())
        .collect();
    assert_eq!(titles, [json!("post 3"), json!("post 2")]);
    assert_eq!(response.header("x-total-count"), Some("5"));
    let link = response.header("link").unwrap();
    for expected in [
        "</api/v1/posts?page=1&per_page=2>; rel=\"first\"",
        "</api/v1/posts?page=1&per_page=2>; rel=\"prev\"",
        "</api/v1/posts?page=3&per_page=2>; rel=\"next\"",
        "</api/v1/posts?page=3&per_page=2>; rel=\"last\"",
    ] {
        assert!(link.contains(expected), "{expected} not in {link}");
    }
    let default = app.get("/api/v1/posts").await.json();
    assert_eq!(default["posts"].as_array().unwrap().len(), 5);
    assert_eq!(default["posts"][0]["title"], "post 5");
}

async fn list_filters_by_author(app: TestApp) {
    let (alice, alice_tokens) = app.user("alice").await;
    let (_, bob_tokens) = app.user("bob").await;
    app.create_post(&alice_tokens.access, "a", "c").await;
    app.create_post(&bob_tokens.access, "b", "c").await;
    let response = app
        .get(&format!("/api/v1/posts?user_id={alice}&per_page=1"))
        .await;
    let posts = response.json()["posts"].as_array().unwrap().clone();
    assert_eq!(
        (posts.len(), posts[0]["user_id"].as_i64()),
        (1, Some(alice))
    );
    assert_eq!(response.header("x-total-count"), Some("1"));
    assert!(
        response
            .header("link")
            .unwrap()
            .contains(&format!("user_id={alice}&page=1&per_page=1"))
    );
    let nobody = app.get("/api/v1/posts?user_id=999").await;
    assert_eq!((nobody.status, nobody.json()), (200, json!({"posts": []})));
}

async fn list_refuses_bad_paging_and_user_ids(app: TestApp) {
    for (query, code) in [
        ("user_id=abc", "bad_request"),
        ("user_id=99999999999999999999", "bad_request"),
        ("per_page=x", "bad_request"),
        ("user_id=-1", "validation_failed"),
        ("user_id=0", "validation_failed"),
        // Out-of-range paging is one code, whichever way out of range.
        ("page=0", "validation_failed"),
        ("page=-1", "validation_failed"),
        ("page=4294967296", "validation_failed"),
        ("per_page=0", "validation_failed"),
        ("per_page=-5", "validation_failed"),
        ("per_page=101", "validation_failed"),
    ] {
        let response = app.get(&format!("/api/v1/posts?{query}")).await;
        response.assert_error(400, code);
        let users = app.get(&format!("/api/v1/users?{query}")).await;
        if query.starts_with("p") {
            users.assert_error(400, code);
        }
    }
}

async fn update_by_the_author_changes_the_given_fields(app: TestApp) {
    let (_, tokens) = app.user("alice").await;
    let post = app
        .create_post(&tokens.access, "old title", "old content")
        .await;
    let path = format!("/api/v1/posts/{}", post["id"]);
    let response = app
        .put_auth(&path, &tokens.access, &json!({"title": "new title"}))
        .await;
    assert_eq!(response.status, 200);
    let updated = response.json();
    assert_eq!(
        (updated["title"].as_str(), updated["content"].as_str()),
        (Some("new title"), Some("old content"))
    );
    assert_eq!(updated["created_at"], post["created_at"]);
    let updated = app
        .put_auth(&path, &tokens.access, &json!({"content": "new content"}))
        .await
        .json();
    assert_eq!(
        (updated["title"].as_str(), updated["content"].as_str()),
        (Some("new title"), Some("new content"))
    );
    assert_eq!(app.get(&path).await.json(), updated);
}

async fn update_answers_401_then_404_then_403_then_400(app: TestApp) {
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let post = app.create_post(&alice.access, "mine", "c").await;
    let path = format!("/api/v1/posts/{}", post["id"]);
    let bad = json!({"title": ""});
    // 401 first, even for a missing post and a bad body.
    let response = app
        .send(Method::PUT, "/api/v1/posts/999", None, Some(&bad), &[])
        .await;
    response.assert_error(401, "missing_token");
    // 404 before 403 and 400.
    app.put_auth("/api/v1/posts/999", &bob.access, &bad)
        .await
        .assert_error(404, "not_found");
    let headers = [
        ("content-type", "text/plain"),
        ("authorization", &format!("Bearer {}", bob.access)),
    ];
    app.send_raw(
        Method::PUT,
        "/api/v1/posts/999",
        &headers,
        b"not json".to_vec(),
    )
    .await
    .assert_error(404, "not_found");
    // 403 before 400.
    let message = app
        .put_auth(&path, &bob.access, &bad)
        .await
        .assert_error(403, "forbidden");
    assert_eq!(message, "You can only edit your own posts");
    app.send_raw(Method::PUT, &path, &headers, b"not json".to_vec())
        .await
        .assert_error(403, "forbidden");
    // 400 only for the author.
    app.put_auth(&path, &alice.access, &bad)
        .await
        .assert_error(400, "validation_failed");
    let headers = [
        ("content-type", "application/json"),
        ("authorization", &format!("Bearer {}", alice.access)),
    ];
    app.send_raw(Method::PUT, &path, &headers, b"not json".to_vec())
        .await
        .assert_error(400, "bad_request");
    let headers = [("content-type", "text/plain"), headers[1]];
    app.send_raw(Method::PUT, &path, &headers, b"{}".to_vec())
        .await
        .assert_error(415, "unsupported_media_type");
    assert_eq!(app.get(&path).await.json(), post, "nothing changed");
}

async fn delete_by_the_author_returns_204_and_the_post_is_gone(app: TestApp) {
    let (_, tokens) = app.user("alice").await;
    let post = app.create_post(&tokens.access, "bye", "c").await;
    let path = format!("/api/v1/posts/{}", post["id"]);
    let response = app.delete_auth(&path, &tokens.access).await;
    assert_eq!((response.status, response.body.len()), (204, 0));
    app.get(&path).await.assert_error(404, "not_found");
    app.delete_auth(&path, &tokens.access)
        .await
        .assert_error(404, "not_found");
}

async fn delete_answers_401_then_404_then_403(app: TestApp) {
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let post = app.create_post(&alice.access, "mine", "c").await;
    let path = format!("/api/v1/posts/{}", post["id"]);
    app.send(Method::DELETE, "/api/v1/posts/999", None, None, &[])
        .await
        .assert_error(401, "missing_token");
    app.delete_auth("/api/v1/posts/999", &bob.access)
        .await
        .assert_error(404, "not_found");
    let message = app
        .delete_auth(&path, &bob.access)
        .await
        .assert_error(403, "forbidden");
    assert_eq!(message, "You can only delete your own posts");
    assert_eq!(app.get(&path).await.status, 200);
}
