//! `spawn_app` and a small client for the tests.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::Method;
use awc::http::header::HeaderMap;
use blog_api::configuration::{self, Profile, Settings};
use blog_api::startup::Application;
use blog_infra::testing::{TestBackend, TestDatabase};
use secrecy::SecretString;
use serde_json::{Value, json};

/// The secret of every test app: tests forge tokens with it.
pub const SECRET: &str = "test-secret-0123456789abcdef0123456789";
pub const PASSWORD: &str = "correct horse battery";
/// The key that seals the TOTP secrets of every test app.
const MFA_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// Runs the async `test` on a fresh app of `backend`, on an actix system of
/// its own (what `#[actix_web::test]` does): the runner of
/// `blog_infra::backend_matrix!` for these tests.
pub fn on_an_app<F: Future<Output = ()>>(backend: TestBackend, test: impl FnOnce(TestApp) -> F) {
    actix_web::rt::System::new().block_on(async move { test(spawn_app(backend).await).await });
}

pub struct TestApp {
    pub address: String,
    /// The metrics listener's port, when the settings enable it.
    pub admin_port: Option<u16>,
    pub database: Arc<TestDatabase>,
    pub handle: ServerHandle,
    client: awc::Client,
}

/// The testing profile on `database`, on a free port, with one worker.
pub fn test_settings(database: &TestDatabase) -> Settings {
    let mut settings = configuration::load_with(Profile::Testing, HashMap::new()).unwrap();
    settings.database.url = database.url().to_owned();
    settings.server.port = 0;
    settings.server.workers = Some(1);
    settings.server.body_timeout_secs = 2;
    settings.jwt.secret = Some(SecretString::from(SECRET));
    settings.mfa.encryption_key = Some(SecretString::from(MFA_KEY));
    settings
}

/// The app on a fresh database of `backend`.
pub async fn spawn_app(backend: TestBackend) -> TestApp {
    spawn_app_on(Arc::new(TestDatabase::new(backend)), test_settings).await
}

/// The app on an existing database, with settings adjusted by `configure`.
pub async fn spawn_app_on(
    database: Arc<TestDatabase>,
    configure: impl FnOnce(&TestDatabase) -> Settings,
) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        static LOGS: OnceLock<blog_api::telemetry::LogGuard> = OnceLock::new();
        LOGS.get_or_init(|| {
            blog_api::telemetry::init(&configuration::LogSettings {
                filter: "debug".into(),
                format: configuration::LogFormat::Pretty,
            })
        });
    }
    let settings = configure(&database);
    let app = Application::build(settings, Profile::Testing)
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let admin_port = app.admin_port();
    let handle = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    TestApp {
        address,
        admin_port,
        database,
        handle,
        client,
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap())
    }

    /// Asserts the status and the contract's error body, content type and,
    /// for 401, the RFC 6750 challenge. Returns the message.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> String {
        self.assert_error_with_extra(status, code, &[])
    }

    /// [`Self::assert_error`], with the `extra` members in the body too.
    #[track_caller]
    pub fn assert_error_with_extra(&self, status: u16, code: &str, extra: &[&str]) -> String {
        let body = self.json();
        assert_eq!(
            (self.status, body["code"].as_str()),
            (status, Some(code)),
            "body: {body}"
        );
        assert_eq!(self.header("content-type"), Some("application/json"));
        let reason = awc::http::StatusCode::from_u16(status)
            .unwrap()
            .canonical_reason()
            .unwrap();
        assert_eq!(body["error"], reason);
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "body: {body}"
        );
        for member in extra {
            assert!(body[member].is_string(), "{member} in {body}");
        }
        assert_eq!(
            body.as_object().unwrap().len(),
            3 + extra.len(),
            "only error, message and code (and {extra:?}): {body}"
        );
        if status == 401 {
            let challenge = self.header("www-authenticate").unwrap();
            assert!(challenge.starts_with("Bearer"), "{challenge}");
            let names_invalid_token = challenge.contains("error=\"invalid_token\"");
            let token_rejected = !matches!(
                code,
                "missing_token" | "invalid_credentials" | "mfa_required" | "invalid_mfa_code"
            );
            assert_eq!(names_invalid_token, token_rejected, "{challenge}");
        }
        body["message"].as_str().unwrap().to_owned()
    }
}

/// An access and refresh token pair.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Sends a request with optional bearer token, JSON body and extra headers.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.insert_header(("Authorization", format!("Bearer {token}")));
        }
        for header in headers {
            request = request.insert_header(*header);
        }
        let sent = match body {
            Some(body) => request.send_json(body).await,
            None => request.send().await,
        };
        read(sent.unwrap()).await
    }

    /// Sends raw bytes with the given headers.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Response {
        let mut request = self.client.request(method, self.url(path));
        for header in headers {
            request = request.insert_header(*header);
        }
        read(request.send_body(body).await.unwrap()).await
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send(Method::GET, path, None, None, &[]).await
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> Response {
        self.send(Method::GET, path, Some(token), None, &[]).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.send(Method::POST, path, None, Some(body), &[]).await
    }

    pub async fn post_auth(&self, path: &str, token: &str, body: &Value) -> Response {
        self.send(Method::POST, path, Some(token), Some(body), &[])
            .await
    }

    pub async fn put_auth(&self, path: &str, token: &str, body: &Value) -> Response {
        self.send(Method::PUT, path, Some(token), Some(body), &[])
            .await
    }

    pub async fn delete_auth(&self, path: &str, token: &str) -> Response {
        self.send(Method::DELETE, path, Some(token), None, &[])
            .await
    }

    /// Registers `username` with [`PASSWORD`]; returns the user's id.
    pub async fn register(&self, username: &str) -> i64 {
        let response = self
            .post(
                "/api/v1/users",
                &json!({"username": username, "password": PASSWORD}),
            )
            .await;
        assert_eq!(response.status, 201, "{:?}", response.json());
        response.json()["id"].as_i64().unwrap()
    }

    pub async fn login(&self, username: &str) -> Tokens {
        let response = self
            .post(
                "/api/v1/login",
                &json!({"username": username, "password": PASSWORD}),
            )
            .await;
        assert_eq!(response.status, 200, "{:?}", response.json());
        tokens(&response)
    }

    /// Registers and logs in `username`.
    pub async fn user(&self, username: &str) -> (i64, Tokens) {
        let id = self.register(username).await;
        (id, self.login(username).await)
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post("/api/v1/refresh", &json!({"refresh_token": refresh_token}))
            .await
    }

    pub async fn create_post(&self, token: &str, title: &str, content: &str) -> Value {
        let response = self
            .post_auth(
                "/api/v1/posts",
                token,
                &json!({"title": title, "content": content}),
            )
            .await;
        assert_eq!(response.status, 201, "{:?}", response.json());
        response.json()
    }
}

pub fn tokens(response: &Response) -> Tokens {
    let body = response.json();
    Tokens {
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

async fn read<S>(mut response: awc::ClientResponse<S>) -> Response
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    let body = response
        .body()
        .limit(64 * 1024 * 1024)
        .await
        .unwrap()
        .to_vec();
    Response {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body,
    }
}
