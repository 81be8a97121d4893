//! Account security: changing the password, listing and ending sessions,
//! logging out everywhere.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Response, TestApp, Tokens, tokens};

blog_infra::backend_matrix!(
    crate::helpers::on_an_app;
    a_password_change_ends_every_other_session_and_keeps_the_callers,
    a_password_change_is_refused_without_the_current_password_or_with_a_weak_one,
    the_session_list_shows_the_callers_live_sessions_and_marks_the_current_one,
    ending_a_session_stops_its_tokens_and_another_users_session_is_not_found,
    logout_all_ends_every_session_of_the_caller_only,
);

const NEW_PASSWORD: &str = "a new passphrase";

async fn change_password(app: &TestApp, token: &str, current: &str, new: &str) -> Response {
    let body = json!({"current_password": current, "new_password": new});
    app.put_auth("/api/v1/users/me/password", token, &body)
        .await
}

async fn login_with(app: &TestApp, password: &str) -> Response {
    app.post(
        "/api/v1/login",
        &json!({"username": "alice", "password": password}),
    )
    .await
}

/// A login of alice from a client that names itself `agent`.
async fn login_from(app: &TestApp, agent: &str) -> Tokens {
    let credentials = json!({"username": "alice", "password": PASSWORD});
    let response = app
        .send(
            awc::http::Method::POST,
            "/api/v1/login",
            None,
            Some(&credentials),
            &[("user-agent", agent)],
        )
        .await;
    tokens(&response)
}

async fn sessions_of(app: &TestApp, token: &str) -> Value {
    let response = app.get_auth("/api/v1/sessions", token).await;
    assert_eq!(response.status, 200, "{:?}", response.json());
    response.json()
}

/// The id of the session of `token`, as the session list shows it.
async fn session_id_of(app: &TestApp, token: &str) -> Value {
    let listed = sessions_of(app, token).await;
    listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|session| session["current"] == true)
        .map(|session| session["id"].clone())
        .unwrap()
}

/// The latest event of the caller's trail.
async fn last_event(app: &TestApp, token: &str) -> Value {
    let events = app.get_auth("/api/v1/users/me/events", token).await.json();
    events["events"][0].clone()
}

async fn a_password_change_ends_every_other_session_and_keeps_the_callers(app: TestApp) {
    let (_, mine) = app.user("alice").await;
    let other = app.login("alice").await;
    let response = change_password(&app, &mine.access, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json(), json!({"message": "Password changed"}));

    for token in [&other.access] {
        app.get_auth("/api/v1/users/me", token)
            .await
            .assert_error(401, "token_revoked");
    }
    app.refresh(&other.refresh)
        .await
        .assert_error(401, "token_revoked");
    assert_eq!(
        app.get_auth("/api/v1/users/me", &mine.access).await.status,
        200
    );
    assert_eq!(
        app.refresh(&mine.refresh).await.status,
        200,
        "the caller's stays"
    );

    login_with(&app, PASSWORD)
        .await
        .assert_error(401, "invalid_credentials");
    let fresh = tokens(&login_with(&app, NEW_PASSWORD).await);
    let events = app
        .get_auth("/api/v1/users/me/events", &fresh.access)
        .await
        .json();
    let changed: Vec<&Value> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["type"] == "password_changed")
        .collect();
    let mine_id = session_id_of(&app, &mine.access).await;
    assert_eq!(changed.len(), 1, "{events}");
    assert_eq!(
        changed[0]["session_id"], mine_id,
        "the event names the caller's session"
    );
}

async fn a_password_change_is_refused_without_the_current_password_or_with_a_weak_one(
    app: TestApp,
) {
    let (_, alice) = app.user("alice").await;
    let wrong = change_password(&app, &alice.access, "not my password", NEW_PASSWORD).await;
    wrong.assert_error(403, "invalid_credentials");
    assert_eq!(
        wrong.header("www-authenticate"),
        None,
        "403 has no challenge"
    );
    change_password(&app, &alice.access, PASSWORD, "password")
        .await
        .assert_error(400, "weak_password");
    change_password(&app, &alice.access, PASSWORD, "alice-and-more")
        .await
        .assert_error(400, "weak_password");
    app.put_auth(
        "/api/v1/users/me/password",
        &alice.access,
        &json!({"current_password": PASSWORD}),
    )
    .await
    .assert_error(400, "validation_failed");
    app.put_auth("/api/v1/users/me/password", &alice.access, &json!(["x"]))
        .await
        .assert_error(400, "bad_request");
    // 401 first, whatever the body.
    app.send(
        awc::http::Method::PUT,
        "/api/v1/users/me/password",
        None,
        Some(&json!([])),
        &[],
    )
    .await
    .assert_error(401, "missing_token");
    assert_eq!(
        login_with(&app, PASSWORD).await.status,
        200,
        "nothing changed"
    );
}

async fn the_session_list_shows_the_callers_live_sessions_and_marks_the_current_one(app: TestApp) {
    app.register("alice").await;
    let (_, bob) = app.user("bob").await;
    let laptop = login_from(&app, "laptop/1.0").await;
    // Newest first goes by the second of the login: a later one.
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1100)).await;
    let phone = login_from(&app, "phone/2.0").await;
    let ended = login_from(&app, "old/0.1").await;
    app.post_auth("/api/v1/logout", &ended.access, &json!({}))
        .await;

    let response = app.get_auth("/api/v1/sessions", &laptop.access).await;
    assert_eq!(response.header("x-total-count"), Some("2"));
    let listed = response.json()["sessions"].as_array().unwrap().clone();
    let seen: Vec<(&str, bool)> = listed
        .iter()
        .map(|s| {
            (
                s["user_agent"].as_str().unwrap(),
                s["current"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [("phone/2.0", false), ("laptop/1.0", true)],
        "live sessions of alice only, newest first, the caller's marked"
    );
    for session in &listed {
        let keys: Vec<&String> = session.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 7, "{session}");
        assert_eq!(session["ip"], "127.0.0.1");
        let id = session["id"].as_str().unwrap();
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
        for token in [
            &laptop.access,
            &laptop.refresh,
            &phone.access,
            &phone.refresh,
        ] {
            assert!(!token.is_empty() && !session.to_string().contains(token.as_str()));
        }
    }
    let renewed = tokens(&app.refresh(&phone.refresh).await);
    let again = sessions_of(&app, &renewed.access).await;
    assert_eq!(
        (
            &again["sessions"][0]["id"],
            &again["sessions"][0]["current"]
        ),
        (&listed[0]["id"], &json!(true)),
        "a refreshed token names the same session"
    );
    assert!(
        again["sessions"][0]["last_used_at"].as_str() >= listed[0]["created_at"].as_str(),
        "{again}"
    );
    let page = app
        .get_auth("/api/v1/sessions?page=2&per_page=1", &laptop.access)
        .await
        .json();
    assert_eq!(page["sessions"][0]["user_agent"], "laptop/1.0");
    assert_eq!(
        sessions_of(&app, &bob.access).await["sessions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.get("/api/v1/sessions")
        .await
        .assert_error(401, "missing_token");
    app.get_auth("/api/v1/sessions?per_page=0", &laptop.access)
        .await
        .assert_error(400, "validation_failed");
}

async fn ending_a_session_stops_its_tokens_and_another_users_session_is_not_found(app: TestApp) {
    app.register("alice").await;
    let (_, bob) = app.user("bob").await;
    let laptop = login_from(&app, "laptop/1.0").await;
    let phone = login_from(&app, "phone/2.0").await;
    let phone_id = session_id_of(&app, &phone.access).await;
    let phone_id = phone_id.as_str().unwrap().to_owned();
    let bobs_id = session_id_of(&app, &bob.access).await;
    let bobs_id = bobs_id.as_str().unwrap();

    let not_found = |response: Response| {
        response.assert_error(404, "not_found");
    };
    not_found(
        app.delete_auth(&format!("/api/v1/sessions/{bobs_id}"), &laptop.access)
            .await,
    );
    assert_eq!(
        app.get_auth("/api/v1/users/me", &bob.access).await.status,
        200
    );
    not_found(
        app.delete_auth(
            &format!("/api/v1/sessions/{}", "0".repeat(32)),
            &laptop.access,
        )
        .await,
    );
    not_found(
        app.delete_auth("/api/v1/sessions/not-an-id", &laptop.access)
            .await,
    );
    app.get_auth("/api/v1/users/me", &phone_id)
        .await
        .assert_error(401, "invalid_token");

    let ended = app
        .delete_auth(&format!("/api/v1/sessions/{phone_id}"), &laptop.access)
        .await;
    assert_eq!((ended.status, ended.body.len()), (204, 0));
    app.get_auth("/api/v1/users/me", &phone.access)
        .await
        .assert_error(401, "token_revoked");
    app.refresh(&phone.refresh)
        .await
        .assert_error(401, "token_revoked");
    assert_eq!(
        app.get_auth("/api/v1/users/me", &laptop.access)
            .await
            .status,
        200
    );
    not_found(
        app.delete_auth(&format!("/api/v1/sessions/{phone_id}"), &laptop.access)
            .await,
    );
    let event = last_event(&app, &laptop.access).await;
    assert_eq!(
        (event["type"].as_str(), event["session_id"].as_str()),
        (Some("session_revoked"), Some(phone_id.as_str()))
    );
    app.send(
        awc::http::Method::DELETE,
        &format!("/api/v1/sessions/{phone_id}"),
        None,
        None,
        &[],
    )
    .await
    .assert_error(401, "missing_token");
}

async fn logout_all_ends_every_session_of_the_caller_only(app: TestApp) {
    let (_, laptop) = app.user("alice").await;
    let phone = app.login("alice").await;
    let (_, bob) = app.user("bob").await;
    let response = app
        .post_auth("/api/v1/logout/all", &laptop.access, &json!({}))
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.json(),
        json!({"message": "Logged out of every session"})
    );
    for token in [&laptop, &phone] {
        app.get_auth("/api/v1/users/me", &token.access)
            .await
            .assert_error(401, "token_revoked");
        app.refresh(&token.refresh)
            .await
            .assert_error(401, "token_revoked");
    }
    assert_eq!(
        app.get_auth("/api/v1/users/me", &bob.access).await.status,
        200
    );
    let fresh = app.login("alice").await;
    let events = app
        .get_auth("/api/v1/users/me/events", &fresh.access)
        .await
        .json();
    assert_eq!(events["events"][1]["type"], "logged_out_all", "{events}");
    app.post_auth("/api/v1/logout/all", &laptop.access, &json!({}))
        .await
        .assert_error(401, "token_revoked");
}
