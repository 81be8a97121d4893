//! `bench-baseline`: what this machine can serve with actix-web and no
//! database. It answers the benchmark's requests the way the API does (the
//! same paths, bodies and status codes), verifying the same kind of JWT
//! (HS256 with `iss`, `aud` and `exp` checked) and serialising the same
//! posts, but keeps nothing. `just bench` drives it beside the API in the
//! same run, so that every figure of the API is also a ratio to it.
//!
//! Usage: `bench-baseline PORT`.

use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::json;

const SECRET: &[u8] = b"the baseline's secret, thirty-two bytes or more";
const ISSUER: &str = "blog-api";

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    sid: String,
    jti: String,
    #[serde(rename = "type")]
    kind: String,
    iss: String,
    aud: String,
    iat: u64,
    exp: u64,
}

#[derive(Serialize)]
struct PostBody<'a> {
    id: i64,
    title: &'a str,
    content: &'a str,
    user_id: i64,
    created_at: &'a str,
    updated_at: &'a str,
}

#[derive(Deserialize)]
struct NewPost {
    title: String,
    content: String,
}

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

/// A stored post, as the API would read it back.
fn post(id: i64) -> PostBody<'static> {
    PostBody {
        id,
        title: "Hello",
        content: "A post of the benchmark, a sentence or two long, like most.",
        user_id: 1,
        created_at: "2026-11-28T12:00:00Z",
        updated_at: "2026-11-28T12:00:00Z",
    }
}

fn unauthorized() -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, r#"Bearer error="invalid_token""#))
        .json(json!({"error": {"code": "invalid_token", "message": "The token is invalid"}}))
}

async fn get_post(path: web::Path<i64>) -> HttpResponse {
    HttpResponse::Ok().json(post(path.into_inner()))
}

async fn list_posts() -> HttpResponse {
    let posts: Vec<_> = (1..=20).rev().map(|id| post(id)).collect();
    HttpResponse::Ok()
        .insert_header(("X-Total-Count", "20"))
        .json(json!({ "posts": posts }))
}

async fn create_post(
    request: HttpRequest,
    keys: web::Data<Keys>,
    body: web::Json<NewPost>,
) -> HttpResponse {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let Some(token) = token else {
        return unauthorized();
    };
    match jsonwebtoken::decode::<Claims>(token, &keys.decoding, &keys.validation) {
        Ok(data) if data.claims.kind == "access" => HttpResponse::Created().json(PostBody {
            title: &body.title,
            content: &body.content,
            ..post(1)
        }),
        _ => unauthorized(),
    }
}

async fn register() -> HttpResponse {
    HttpResponse::Created().json(json!({"id": 1, "username": "bench"}))
}

async fn login(keys: web::Data<Keys>) -> HttpResponse {
    let now = jsonwebtoken::get_current_timestamp();
    let claims = Claims {
        sub: "1".into(),
        sid: "session".into(),
        jti: "token".into(),
        kind: "access".into(),
        iss: ISSUER.into(),
        aud: ISSUER.into(),
        iat: now,
        exp: now + 3600,
    };
    match jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding) {
        Ok(token) => HttpResponse::Ok().json(json!({
            "access_token": token, "refresh_token": token, "token_type": "Bearer"
        })),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|port| port.parse().ok())
        .ok_or_else(|| std::io::Error::other("usage: bench-baseline PORT"))?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[ISSUER]);
    let keys = web::Data::new(Keys {
        encoding: EncodingKey::from_secret(SECRET),
        decoding: DecodingKey::from_secret(SECRET),
        validation,
    });
    HttpServer::new(move || {
        App::new()
            .app_data(keys.clone())
            .route("/api/v1/users", web::post().to(register))
            .route("/api/v1/login", web::post().to(login))
            .route("/api/v1/posts", web::get().to(list_posts))
            .route("/api/v1/posts", web::post().to(create_post))
            .route("/api/v1/posts/{id}", web::get().to(get_post))
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
