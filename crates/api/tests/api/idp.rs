//! A test OpenID Connect provider on 127.0.0.1: discovery, JWKS, an
//! authorization endpoint that logs in whoever it is told to at once, and
//! a token endpoint that checks the client, the code and the PKCE verifier
//! and signs real ID tokens (ES256). What it signs can be spoiled on
//! purpose, and its token endpoint slowed down.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use blog_infra::keys::{KeyAlgorithm, KeySet, generate_key};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "blog-client";
pub const CLIENT_SECRET: &str = "blog-client-secret";
/// The redirect URI the app is configured with; the tests send the
/// provider's redirect to the app's real address.
pub const REDIRECT_URI: &str = "http://127.0.0.1/api/v1/oidc/test/callback";

/// What the next ID tokens get wrong, if anything.
#[derive(Debug, Clone, Default)]
pub struct Spoil {
    /// Signed by a key the JWKS does not hold (with the published kid).
    pub foreign_key: bool,
    pub audience: Option<&'static str>,
    pub issuer: Option<&'static str>,
    /// Seconds from now; the default is five minutes.
    pub expires_in: Option<i64>,
    pub nonce: Option<&'static str>,
    /// How long the token endpoint takes to answer.
    pub token_delay: Option<Duration>,
}

struct Grant {
    redirect_uri: String,
    challenge: String,
    nonce: String,
    user: (String, String),
}

struct State {
    issuer: String,
    kid: String,
    jwk: Value,
    key: EncodingKey,
    foreign_key: EncodingKey,
    /// The `sub` and `preferred_username` of whoever logs in next.
    user: Mutex<(String, String)>,
    spoil: Mutex<Spoil>,
    codes: Mutex<HashMap<String, Grant>>,
    codes_made: Mutex<u64>,
    issued: Mutex<u64>,
}

pub struct Idp {
    pub issuer: String,
    state: Arc<State>,
    handle: ServerHandle,
}

/// A fresh ES256 key: its kid, PEM private key and public JWK.
fn es256_key() -> (String, EncodingKey, Value) {
    let dir = tempfile::tempdir().unwrap();
    let kid = generate_key(dir.path(), KeyAlgorithm::Es256).unwrap();
    let pem = std::fs::read(dir.path().join(format!("{kid}.ES256.pem"))).unwrap();
    let set = KeySet::load(dir.path(), &kid).unwrap();
    let jwk = serde_json::to_value(&set.keys[0].jwk).unwrap();
    (kid, EncodingKey::from_ec_pem(&pem).unwrap(), jwk)
}

impl Idp {
    /// Starts the provider on a free port, with one worker of its own.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let (kid, key, jwk) = es256_key();
        let (_, foreign_key, _) = es256_key();
        let state = Arc::new(State {
            issuer: issuer.clone(),
            kid,
            jwk,
            key,
            foreign_key,
            user: Mutex::new(("sub-jane".into(), "jane.doe".into())),
            spoil: Mutex::new(Spoil::default()),
            codes: Mutex::new(HashMap::new()),
            codes_made: Mutex::new(0),
            issued: Mutex::new(0),
        });
        let data = web::Data::from(Arc::clone(&state));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(discovery),
                )
                .route("/jwks", web::get().to(jwks))
                .route("/authorize", web::get().to(authorize))
                .route("/token", web::post().to(token))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            issuer,
            state,
            handle,
        }
    }

    /// Who logs in next.
    pub fn log_in_as(&self, sub: &str, preferred_username: &str) {
        *self.state.user.lock().unwrap() = (sub.into(), preferred_username.into());
    }

    /// What the next ID tokens and token answers get wrong.
    pub fn spoil(&self, spoil: Spoil) {
        *self.state.spoil.lock().unwrap() = spoil;
    }

    /// How many token requests the provider answered with an ID token.
    pub fn tokens_issued(&self) -> u64 {
        *self.state.issued.lock().unwrap()
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

async fn discovery(state: web::Data<State>) -> HttpResponse {
    let issuer = &state.issuer;
    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
    }))
}

async fn jwks(state: web::Data<State>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"keys": [state.jwk]}))
}

fn bad_request(error: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({"error": error}))
}

/// Logs the user in at once and sends them back with a code, after the
/// checks a provider makes of the request.
async fn authorize(
    state: web::Data<State>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let param = |name: &str| query.get(name).cloned().unwrap_or_default();
    let scopes = param("scope");
    let valid = param("response_type") == "code"
        && param("client_id") == CLIENT_ID
        && param("code_challenge_method") == "S256"
        && !param("code_challenge").is_empty()
        && !param("nonce").is_empty()
        && !param("state").is_empty()
        && scopes.split(' ').any(|scope| scope == "openid");
    if !valid {
        return bad_request("invalid_request");
    }
    let code = {
        let mut made = state.codes_made.lock().unwrap();
        *made += 1;
        format!("code-{made}")
    };
    state.codes.lock().unwrap().insert(
        code.clone(),
        Grant {
            redirect_uri: param("redirect_uri"),
            challenge: param("code_challenge"),
            nonce: param("nonce"),
            user: state.user.lock().unwrap().clone(),
        },
    );
    HttpResponse::Found()
        .insert_header((
            "Location",
            format!(
                "{}?code={code}&state={}",
                param("redirect_uri"),
                param("state")
            ),
        ))
        .finish()
}

/// Trades a code: the client's credentials, a code not used yet, its
/// redirect URI, and the PKCE verifier of its challenge.
async fn token(
    state: web::Data<State>,
    request: HttpRequest,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let spoil = state.spoil.lock().unwrap().clone();
    if let Some(delay) = spoil.token_delay {
        actix_web::rt::time::sleep(delay).await;
    }
    let basic = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| STANDARD.decode(encoded).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok());
    if basic.as_deref() != Some(&format!("{CLIENT_ID}:{CLIENT_SECRET}")) {
        return HttpResponse::Unauthorized().json(json!({"error": "invalid_client"}));
    }
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    if field("grant_type") != "authorization_code" {
        return bad_request("unsupported_grant_type");
    }
    let Some(grant) = state.codes.lock().unwrap().remove(&field("code")) else {
        return bad_request("invalid_grant");
    };
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier").as_bytes()));
    if challenge != grant.challenge || field("redirect_uri") != grant.redirect_uri {
        return bad_request("invalid_grant");
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({
        "iss": spoil.issuer.map_or_else(|| state.issuer.clone(), str::to_owned),
        "sub": grant.user.0,
        "aud": spoil.audience.unwrap_or(CLIENT_ID),
        "iat": now,
        "exp": now + spoil.expires_in.unwrap_or(300),
        "nonce": spoil.nonce.map_or(grant.nonce, str::to_owned),
        "preferred_username": grant.user.1,
    });
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(state.kid.clone());
    let key = if spoil.foreign_key {
        &state.foreign_key
    } else {
        &state.key
    };
    let id_token = jsonwebtoken::encode(&header, &claims, key).unwrap();
    *state.issued.lock().unwrap() += 1;
    HttpResponse::Ok().json(json!({
        "access_token": "provider-access-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
}
