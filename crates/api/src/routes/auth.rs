//! `/api/v1/login`, `/refresh` and `/logout`.

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpResponse, web};
use blog_domain::{LoginAttempt, LoginOutcome, TokenPair};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthenticatedUser, ClientInfo, Deferred, Json, OptionalJson};
use crate::state::AppState;

/// What registration and login send.
#[derive(Deserialize, ToSchema)]
pub struct Credentials {
    /// 3 to 32 ASCII letters, digits, `_`, `-` or `.`.
    #[schema(example = "alice", pattern = "^[A-Za-z0-9_.-]{3,32}$")]
    pub(super) username: String,
    /// 8 to 72 bytes of UTF-8 (so at least 2 and at most 72 characters).
    #[schema(value_type = String, format = Password, example = "correct horse", min_length = 2, max_length = 72)]
    pub(super) password: SecretString,
}

/// What a refresh sends.
#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// The refresh token of the last pair.
    #[schema(value_type = String)]
    refresh_token: SecretString,
}

/// What a logout may send.
#[derive(Deserialize, ToSchema)]
pub struct LogoutRequest {
    /// A refresh token of another of the caller's own logins, to end it too.
    #[schema(value_type = Option<String>, nullable = false)]
    refresh_token: Option<SecretString>,
}

/// A token pair.
#[derive(Serialize, ToSchema)]
pub struct TokenPairBody<'a> {
    /// For `Authorization: Bearer`.
    access_token: &'a str,
    /// For `POST /api/v1/refresh`, once.
    refresh_token: &'a str,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    token_type: &'static str,
    /// The access token's lifetime, in seconds.
    #[schema(example = 3600)]
    expires_in: i64,
}

/// A message for people.
#[derive(Serialize, ToSchema)]
pub struct MessageBody {
    /// What happened.
    #[schema(example = "Successfully logged out")]
    message: &'static str,
}

impl MessageBody {
    pub(super) fn new(message: &'static str) -> Self {
        Self { message }
    }
}

/// A token pair, never to be cached (RFC 6749 §5.1).
pub(super) fn token_response(pair: &TokenPair) -> HttpResponse {
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

/// Log in: a token pair for a username and password.
#[utoipa::path(
    post, path = "/api/v1/login", operation_id = "login", tag = "auth",
    request_body = Credentials,
    responses(
        (status = 200, description = "A token pair", body = TokenPairBody,
            headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "Not a JSON object, or a field missing or of the wrong type", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`; or `mfa_required` with an `mfa_token` (two-factor login is on: the password was right, `POST /api/v1/login/mfa` completes the login)", body = ErrorBody,
            headers(("WWW-Authenticate" = String))),
        (status = 429, description = "`rate_limited`: too many attempts from this address, or too many failures of this username (the right password too)", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds until a retry can succeed"))),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is over the limit", body = ErrorBody),
        (status = 415, description = "Not JSON, or a content coding", body = ErrorBody),
        (status = 503, description = "The database or the password hasher is unavailable", body = ErrorBody,
            headers(("Retry-After" = u32))),
    )
)]
pub async fn login(
    state: web::Data<AppState>,
    client: ClientInfo,
    body: Json<Credentials>,
) -> Result<HttpResponse, ApiError> {
    let Json(Credentials { username, password }) = body;
    let attempt = LoginAttempt { username, password };
    let outcome = state
        .sessions(move |sessions| sessions.login(&attempt, &client.0))
        .await?;
    match outcome {
        LoginOutcome::Tokens(pair) => Ok(token_response(&pair)),
        LoginOutcome::SecondFactorRequired { mfa_token } => Err(ApiError::mfa_required(mfa_token)),
    }
}

/// What the second login step sends.
#[derive(Deserialize, ToSchema)]
pub struct SecondStep {
    /// The `mfa_token` of the login's `mfa_required` answer.
    #[schema(value_type = String)]
    mfa_token: SecretString,
    /// A current code of the authenticator app, or an unused recovery code.
    #[schema(value_type = String, example = "123456")]
    code: SecretString,
}

/// Log in, second step: a code of the authenticator app (or a recovery
/// code) for the `mfa_token` of a right password.
#[utoipa::path(
    post, path = "/api/v1/login/mfa", operation_id = "login_mfa", tag = "auth",
    request_body = SecondStep,
    responses(
        (status = 200, description = "A token pair", body = TokenPairBody,
            headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "Not a JSON object, or a field missing or of the wrong type", body = ErrorBody),
        (status = 401, description = "`invalid_mfa_code` (the token lives on, up to 5 wrong codes), or `invalid_token` (expired, used, too many wrong codes, or never issued)", body = ErrorBody,
            headers(("WWW-Authenticate" = String))),
        (status = 429, description = "`rate_limited`: too many second steps from this address", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds until a retry can succeed"))),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is over the limit", body = ErrorBody),
        (status = 415, description = "Not JSON, or a content coding", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody,
            headers(("Retry-After" = u32))),
    )
)]
pub async fn login_mfa(
    state: web::Data<AppState>,
    client: ClientInfo,
    body: Json<SecondStep>,
) -> Result<HttpResponse, ApiError> {
    let Json(SecondStep { mfa_token, code }) = body;
    let pair = state
        .sessions(move |sessions| {
            sessions.login_mfa(mfa_token.expose_secret(), code.expose_secret(), &client.0)
        })
        .await?;
    Ok(token_response(&pair))
}

/// Refresh: a new pair for a refresh token, which stops working (rotation).
/// The refresh token travels in the body, as in the seed.
#[utoipa::path(
    post, path = "/api/v1/refresh", operation_id = "refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair", body = TokenPairBody,
            headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "Not a JSON object, or a field missing or of the wrong type", body = ErrorBody),
        (status = 401, description = "`token_expired`, `token_revoked` (also after a reuse), `invalid_token`, `wrong_token_type`", body = ErrorBody,
            headers(("WWW-Authenticate" = String))),
        (status = 429, description = "`rate_limited`: too many refreshes from this address", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds until a retry can succeed"))),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is over the limit", body = ErrorBody),
        (status = 415, description = "Not JSON, or a content coding", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody,
            headers(("Retry-After" = u32))),
    )
)]
pub async fn refresh(
    state: web::Data<AppState>,
    client: ClientInfo,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.0.refresh_token;
    let pair = state
        .sessions(move |sessions| sessions.refresh(token.expose_secret(), &client.0))
        .await?;
    Ok(token_response(&pair))
}

/// Log out: every token of the caller's login stops working. The body
/// (`{"refresh_token"}`) is optional, but one that is sent must be readable.
#[utoipa::path(
    post, path = "/api/v1/logout", operation_id = "logout", tag = "auth",
    request_body = LogoutRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Logged out", body = MessageBody),
        (status = 400, description = "Not a JSON object, or a field of the wrong type", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody,
            headers(("WWW-Authenticate" = String))),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is over the limit", body = ErrorBody),
        (status = 415, description = "Not JSON, or a content coding", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody,
            headers(("Retry-After" = u32))),
    )
)]
pub async fn logout(
    user: AuthenticatedUser,
    state: web::Data<AppState>,
    client: ClientInfo,
    body: Deferred<OptionalJson<LogoutRequest>>,
) -> Result<HttpResponse, ApiError> {
    state
        .as_caller(user, move |services, caller| {
            let refresh_token = body.0?.0.and_then(|body| body.refresh_token);
            services
                .sessions
                .logout(caller, refresh_token.as_ref(), &client.0)
                .map_err(ApiError::from)
        })
        .await?;
    Ok(HttpResponse::Ok().json(MessageBody::new("Successfully logged out")))
}

/// Log out everywhere: every session of the caller, its own included, ends
/// at once.
#[utoipa::path(
    post, path = "/api/v1/logout/all", operation_id = "logout_all", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every session ended", body = MessageBody),
        (status = 401, description = "No valid access token", body = ErrorBody,
            headers(("WWW-Authenticate" = String))),
        (status = 503, description = "The database is unavailable", body = ErrorBody,
            headers(("Retry-After" = u32))),
    )
)]
pub async fn logout_all(
    user: AuthenticatedUser,
    state: web::Data<AppState>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    state
        .as_caller(user, move |services, caller| {
            services.sessions.logout_all(caller, &client.0)
        })
        .await?;
    Ok(HttpResponse::Ok().json(MessageBody::new("Logged out of every session")))
}
