//! Every input answers the contract: body shapes, codings, slow bodies,
//! unreadable optional bodies, id forms, and readiness against migrations.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use awc::http::Method;
use blog_infra::testing::TestDatabase;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, spawn_app_on, test_settings};

blog_infra::backend_matrix!(
    crate::helpers::on_an_app;
    bodies_that_are_not_objects_are_400_and_change_nothing,
    null_or_wrong_types_are_400_and_change_nothing,
    unknown_members_are_ignored_even_when_null,
    compressed_bodies_are_415_and_change_nothing,
    logout_with_an_unreadable_body_answers_like_any_endpoint_and_logs_nothing_out,
    a_rejected_token_answers_401_before_a_bad_body,
    a_revoked_session_answers_401_before_a_bad_path_query_or_body,
    only_the_canonical_decimal_form_names_a_post,
    a_trickling_or_short_body_gets_a_json_408_and_the_connection_closes,
    a_refused_token_with_a_small_body_keeps_the_connection_open,
    readyz_is_503_until_the_migrations_are_applied,
);

/// No user and no post exists.
async fn assert_nothing_created(app: &TestApp, users: &str, posts: &str) {
    let count = |path: &'static str| async move {
        app.get(path)
            .await
            .header("x-total-count")
            .unwrap()
            .to_owned()
    };
    assert_eq!(count("/api/v1/users").await, users);
    assert_eq!(count("/api/v1/posts").await, posts);
}

async fn bodies_that_are_not_objects_are_400_and_change_nothing(app: TestApp) {
    // serde's derived Deserialize would read an array as the struct.
    let array = json!(["alice", PASSWORD]);
    for body in [array.clone(), json!("alice"), json!(42), Value::Null] {
        for path in ["/api/v1/users", "/api/v1/login", "/api/v1/refresh"] {
            let message = app.post(path, &body).await.assert_error(400, "bad_request");
            assert_eq!(
                message, "Request body must be a JSON object",
                "{path} {body}"
            );
        }
    }
    assert_nothing_created(&app, "0", "0").await;

    let (_, tokens) = app.user("alice").await;
    app.post_auth(
        "/api/v1/posts",
        &tokens.access,
        &json!(["title", "content"]),
    )
    .await
    .assert_error(400, "bad_request");
    let post = app.create_post(&tokens.access, "title", "content").await;
    let path = format!("/api/v1/posts/{}", post["id"]);
    app.put_auth(&path, &tokens.access, &json!(["new title"]))
        .await
        .assert_error(400, "bad_request");
    assert_eq!(app.get(&path).await.json(), post);
    assert_nothing_created(&app, "1", "1").await;
}

async fn null_or_wrong_types_are_400_and_change_nothing(app: TestApp) {
    for body in [
        json!({"username": null, "password": PASSWORD}),
        json!({"username": "alice", "password": null}),
        json!({"username": ["alice"], "password": PASSWORD}),
        json!({"username": "alice", "password": 12_345_678}),
        json!({"username": {"name": "alice"}, "password": PASSWORD}),
    ] {
        let message = app
            .post("/api/v1/users", &body)
            .await
            .assert_error(400, "validation_failed");
        assert!(!message.contains("struct"), "names a Rust type: {message}");
    }
    assert_nothing_created(&app, "0", "0").await;

    let (_, tokens) = app.user("alice").await;
    let post = app.create_post(&tokens.access, "title", "content").await;
    let path = format!("/api/v1/posts/{}", post["id"]);
    for body in [
        json!({"title": null}),
        json!({"content": null}),
        json!({"title": "fine", "content": null}),
        json!({"title": 7}),
        json!({"content": true}),
    ] {
        let message = app
            .put_auth(&path, &tokens.access, &body)
            .await
            .assert_error(400, "validation_failed");
        assert!(!message.contains("struct"), "names a Rust type: {message}");
    }
    app.post_auth(
        "/api/v1/logout",
        &tokens.access,
        &json!({"refresh_token": null}),
    )
    .await
    .assert_error(400, "validation_failed");
    // Nothing changed, not even updated_at, and the session lives on.
    assert_eq!(app.get(&path).await.json(), post);
    assert_eq!(
        app.get_auth("/api/v1/users/me", &tokens.access)
            .await
            .status,
        200
    );
}

/// Found by the fuzzer: a null member the endpoint does not know was refused
/// although unknown members are ignored.
async fn unknown_members_are_ignored_even_when_null(app: TestApp) {
    let response = app
        .post(
            "/api/v1/users",
            &json!({"username": "alice", "password": PASSWORD, "nickname": null, "": null}),
        )
        .await;
    assert_eq!(response.status, 201, "{:?}", response.json());
    let response = app
        .post(
            "/api/v1/login",
            &json!({"username": "alice", "password": PASSWORD, "remember_me": null}),
        )
        .await;
    assert_eq!(response.status, 200, "{:?}", response.json());
}

async fn compressed_bodies_are_415_and_change_nothing(app: TestApp) {
    let body = json!({"username": "alice", "password": PASSWORD})
        .to_string()
        .into_bytes();
    // Not decoded: a gzip body and a plain one labelled br are refused alike.
    let gzip_magic = [&[0x1f, 0x8b, 0x08, 0x00][..], &body].concat();
    for (coding, bytes) in [
        ("gzip", gzip_magic),
        ("br", body.clone()),
        ("deflate", body.clone()),
    ] {
        let response = app
            .send_raw(
                Method::POST,
                "/api/v1/users",
                &[
                    ("content-type", "application/json"),
                    ("content-encoding", coding),
                ],
                bytes,
            )
            .await;
        let message = response.assert_error(415, "unsupported_media_type");
        assert!(message.contains("Content-Encoding"), "{message}");
    }
    assert_nothing_created(&app, "0", "0").await;
    let identity = app
        .send_raw(
            Method::POST,
            "/api/v1/users",
            &[
                ("content-type", "application/json"),
                ("content-encoding", "identity"),
            ],
            body,
        )
        .await;
    assert_eq!(identity.status, 201);
}

async fn logout_with_an_unreadable_body_answers_like_any_endpoint_and_logs_nothing_out(
    app: TestApp,
) {
    let (_, first) = app.user("alice").await;
    let second = app.login("alice").await;
    let authorization = format!("Bearer {}", first.access);
    let naming_second = json!({"refresh_token": second.refresh}).to_string();
    for (content_type, body, status, code) in [
        (
            "text/plain",
            naming_second.clone().into_bytes(),
            415,
            "unsupported_media_type",
        ),
        (
            "application/json",
            b"{not json".to_vec(),
            400,
            "bad_request",
        ),
        (
            "application/json",
            vec![b' '; 2 * 1024 * 1024],
            413,
            "payload_too_large",
        ),
    ] {
        app.send_raw(
            Method::POST,
            "/api/v1/logout",
            &[
                ("content-type", content_type),
                ("authorization", &authorization),
            ],
            body,
        )
        .await
        .assert_error(status, code);
    }
    // Both sessions are still alive.
    assert_eq!(
        app.get_auth("/api/v1/users/me", &first.access).await.status,
        200
    );
    assert_eq!(app.refresh(&second.refresh).await.status, 200);
    // No token at all is still 401 first, whatever the body.
    app.send_raw(
        Method::POST,
        "/api/v1/logout",
        &[("content-type", "text/plain")],
        b"x".to_vec(),
    )
    .await
    .assert_error(401, "missing_token");
    // And an empty body is no body.
    let response = app
        .send_raw(
            Method::POST,
            "/api/v1/logout",
            &[("authorization", &authorization)],
            Vec::new(),
        )
        .await;
    assert_eq!(response.status, 200);
}

/// The token is checked on the blocking pool, so its answer comes after a
/// body's: without deferring the body's error, 415 or 400 would win.
async fn a_rejected_token_answers_401_before_a_bad_body(app: TestApp) {
    let (_, tokens) = app.user("alice").await;
    let post = app.create_post(&tokens.access, "title", "content").await;
    let (head, _) = tokens.access.rsplit_once('.').unwrap();
    let forged = format!("Bearer {head}.AAAA");
    let path = format!("/api/v1/posts/{}", post["id"]);
    for (method, path) in [
        (Method::POST, "/api/v1/posts"),
        (Method::PUT, path.as_str()),
        (Method::POST, "/api/v1/logout"),
    ] {
        for (content_type, body) in [
            ("text/plain", &b"{}"[..]),
            ("application/json", b"{not json"),
        ] {
            app.send_raw(
                method.clone(),
                path,
                &[("content-type", content_type), ("authorization", &forged)],
                body.to_vec(),
            )
            .await
            .assert_error(401, "invalid_token");
        }
    }
    assert_eq!(app.get(&path).await.json(), post);
}

/// A token whose signature holds but whose session has ended is refused
/// with the work itself, in the same trip off the worker: still before the
/// work's own checks of path, query and body.
async fn a_revoked_session_answers_401_before_a_bad_path_query_or_body(app: TestApp) {
    let (_, tokens) = app.user("alice").await;
    let post = app.create_post(&tokens.access, "title", "content").await;
    let logout = app
        .post_auth("/api/v1/logout", &tokens.access, &json!({}))
        .await;
    assert_eq!(logout.status, 200);
    let token = tokens.access.as_str();
    let post_path = format!("/api/v1/posts/{}", post["id"]);
    app.post_auth("/api/v1/posts", token, &json!({"title": ""}))
        .await
        .assert_error(401, "token_revoked");
    app.put_auth("/api/v1/posts/0x1", token, &json!({"title": ""}))
        .await
        .assert_error(401, "token_revoked");
    app.put_auth(&post_path, token, &json!({"title": 7}))
        .await
        .assert_error(401, "token_revoked");
    app.delete_auth("/api/v1/posts/0x1", token)
        .await
        .assert_error(401, "token_revoked");
    app.delete_auth("/api/v1/sessions/not-an-id", token)
        .await
        .assert_error(401, "token_revoked");
    for path in ["/api/v1/sessions", "/api/v1/users/me/events"] {
        app.get_auth(&format!("{path}?per_page=0"), token)
            .await
            .assert_error(401, "token_revoked");
    }
    app.put_auth("/api/v1/users/me/password", token, &json!({}))
        .await
        .assert_error(401, "token_revoked");
    assert_eq!(app.get(&post_path).await.json(), post);
}

async fn only_the_canonical_decimal_form_names_a_post(app: TestApp) {
    let (_, tokens) = app.user("alice").await;
    let post = app.create_post(&tokens.access, "title", "content").await;
    let id = post["id"].as_i64().unwrap();
    assert_eq!(app.get(&format!("/api/v1/posts/{id}")).await.status, 200);
    for form in [
        format!("+{id}"),
        format!("0{id}"),
        format!("00{id}"),
        format!("%2B{id}"),
    ] {
        let path = format!("/api/v1/posts/{form}");
        app.get(&path).await.assert_error(404, "not_found");
        app.delete_auth(&path, &tokens.access)
            .await
            .assert_error(404, "not_found");
    }
    assert_eq!(app.get(&format!("/api/v1/posts/{id}")).await.json(), post);
}

/// Writes `head` and then the body bytes `chunks` with `pause` between
/// them on a raw connection; returns what came back and how long it took.
fn raw_exchange(port: &str, head: &str, chunks: &[&[u8]], pause: Duration) -> (String, Duration) {
    let mut stream = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let started = Instant::now();
    stream.write_all(head.as_bytes()).unwrap();
    for chunk in chunks {
        std::thread::sleep(pause);
        // The server may already have answered and closed: that is the point.
        if stream.write_all(chunk).is_err() {
            break;
        }
    }
    let mut response = Vec::new();
    // Reads to the end: the server must close the connection.
    let _ = stream.read_to_end(&mut response);
    (
        String::from_utf8_lossy(&response).into_owned(),
        started.elapsed(),
    )
}

async fn a_refused_token_with_a_small_body_keeps_the_connection_open(app: TestApp) {
    // Refused before the handler reads the body: it is read and dropped, so
    // the connection stays open for the next request (a refresh, say).
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let body = r#"{"title": "t", "content": "c"}"#;
    let refused = format!(
        "POST /api/v1/posts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer not.a.token\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (first, second) = actix_web::rt::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(refused.as_bytes()).unwrap();
        let first = read_response(&mut stream);
        // On a closed connection this write or the read after it fails.
        let next = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
        let second = stream
            .write_all(next.as_bytes())
            .map(|()| read_response(&mut stream))
            .unwrap_or_default();
        (first, second)
    })
    .await
    .unwrap();
    assert!(first.starts_with("HTTP/1.1 401 "), "{first}");
    assert!(
        !first.to_ascii_lowercase().contains("connection: close"),
        "{first}"
    );
    assert!(second.starts_with("HTTP/1.1 200 "), "{second:?}");
    assert_nothing_created(&app, "0", "0").await;
}

/// One response read off `stream`: its head, and a body of its
/// `content-length`; empty if the connection ends first.
fn read_response(stream: &mut TcpStream) -> String {
    let mut response = Vec::new();
    let mut byte = [0_u8; 1];
    while !response.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => response.push(byte[0]),
            _ => return String::from_utf8_lossy(&response).into_owned(),
        }
    }
    let head = String::from_utf8_lossy(&response).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .map_or(0, |length| length.trim().parse().unwrap());
    let mut body = vec![0_u8; length];
    if stream.read_exact(&mut body).is_ok() {
        response.extend(body);
    }
    String::from_utf8_lossy(&response).into_owned()
}

async fn a_trickling_or_short_body_gets_a_json_408_and_the_connection_closes(app: TestApp) {
    let (_, tokens) = app.user("alice").await;
    // This app reads bodies for at most 2 seconds (see `spawn_app`).
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let short = format!(
        "POST /api/v1/posts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"title\"",
        tokens.access
    );
    let trickle = short.clone();
    let results = actix_web::rt::task::spawn_blocking(move || {
        [
            raw_exchange(&port, &short, &[], Duration::ZERO),
            raw_exchange(
                &port,
                &trickle,
                &[b" ".as_slice(); 30],
                Duration::from_millis(200),
            ),
        ]
    })
    .await
    .unwrap();
    for (response, took) in results {
        assert!(response.starts_with("HTTP/1.1 408"), "{response}");
        assert!(took < Duration::from_secs(10), "took {took:?}");
        let body: Value = serde_json::from_str(response.split_once("\r\n\r\n").unwrap().1).unwrap();
        assert_eq!(
            body,
            json!({"error": "Request Timeout", "message": "The request body was not received in time", "code": "request_timeout"})
        );
        assert!(
            response.to_ascii_lowercase().contains("connection: close"),
            "{response}"
        );
    }
    assert_nothing_created(&app, "1", "0").await;
}

async fn readyz_is_503_until_the_migrations_are_applied(app: TestApp) {
    let fresh = Arc::new(TestDatabase::new(app.database.backend()));
    let unmigrated = spawn_app_on(Arc::clone(&fresh), |database| {
        let mut settings = test_settings(database);
        settings.database.migrate_on_start = false;
        settings
    })
    .await;
    unmigrated
        .get("/readyz")
        .await
        .assert_error(503, "service_unavailable");
    let url = blog_infra::DatabaseUrl::parse(fresh.url()).unwrap();
    let pool = blog_infra::db::pool(
        &url,
        &blog_infra::PoolOptions {
            max_size: 1,
            connection_timeout: Duration::from_secs(5),
        },
    );
    actix_web::rt::task::spawn_blocking(move || blog_infra::db::run_migrations(&pool))
        .await
        .unwrap()
        .unwrap();
    let response = unmigrated.get("/readyz").await;
    assert_eq!(
        (response.status, response.json()),
        (200, json!({"status": "ready"}))
    );
}
