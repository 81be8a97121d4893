//! `/api/v1/login`, `/refresh` and `/logout`.

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpResponse, web};
use blog_domain::{LoginAttempt, TokenPair};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::ApiError;
use crate::extract::{AuthenticatedUser, Deferred, Json, OptionalJson};
use crate::state::AppState;

/// What registration and login send.
#[derive(Deserialize)]
pub struct Credentials {
    pub(super) username: String,
    pub(super) password: SecretString,
}

#[derive(Deserialize)]
pub struct RefreshRequest {
    refresh_token: SecretString,
}

#[derive(Deserialize)]
pub struct LogoutRequest {
    refresh_token: Option<SecretString>,
}

#[derive(Serialize)]
struct TokenPairBody<'a> {
    access_token: &'a str,
    refresh_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
}

/// A token pair, never to be cached (RFC 6749 §5.1).
fn token_response(pair: &TokenPair) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenPairBody {
            access_token: pair.access_token.expose_secret(),
            refresh_token: pair.refresh_token.expose_secret(),
            token_type: "Bearer",
            expires_in: pair.expires_in,
        })
}

/// `POST /api/v1/login`
pub async fn login(
    state: web::Data<AppState>,
    body: Json<Credentials>,
) -> Result<HttpResponse, ApiError> {
    let Json(Credentials { username, password }) = body;
    let attempt = LoginAttempt { username, password };
    let pair = state
        .sessions(move |sessions| sessions.login(&attempt))
        .await?;
    Ok(token_response(&pair))
}

/// `POST /api/v1/refresh`: the refresh token travels in the body, as in the seed.
pub async fn refresh(
    state: web::Data<AppState>,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.0.refresh_token;
    let pair = state
        .sessions(move |sessions| sessions.refresh(token.expose_secret()))
        .await?;
    Ok(token_response(&pair))
}

/// `POST /api/v1/logout`: the body (`{"refresh_token"}`) is optional, but
/// one that is sent must be readable.
pub async fn logout(
    user: AuthenticatedUser,
    state: web::Data<AppState>,
    body: Deferred<OptionalJson<LogoutRequest>>,
) -> Result<HttpResponse, ApiError> {
    let refresh_token = body.0?.0.and_then(|body| body.refresh_token);
    state
        .sessions(move |sessions| sessions.logout(&user.0, refresh_token.as_ref()))
        .await?;
    Ok(HttpResponse::Ok().json(json!({"message": "Successfully logged out"})))
}
