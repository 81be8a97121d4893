//! `/api/v1/oidc`: logging in with an OpenID Connect provider.

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, web};
use blog_domain::Callback;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{TokenPairBody, token_response};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ClientInfo, invalid_query};
use crate::state::AppState;

/// The configured identity providers.
#[derive(Serialize, ToSchema)]
pub struct ProvidersBody {
    /// In configuration order.
    providers: Vec<ProviderBody>,
}

/// An identity provider.
#[derive(Serialize, ToSchema)]
pub struct ProviderBody {
    /// Its name, the `{provider}` of the login paths.
    #[schema(example = "google")]
    name: String,
}

/// The identity providers a user can log in with.
#[utoipa::path(
    get, path = "/api/v1/oidc/providers", operation_id = "oidc_providers", tag = "oidc",
    responses((status = 200, description = "The configured providers (none by default)", body = ProvidersBody)),
)]
pub async fn providers(state: web::Data<AppState>) -> HttpResponse {
    let providers = state
        .identity_providers()
        .into_iter()
        .map(|name| ProviderBody {
            name: name.to_string(),
        })
        .collect();
    HttpResponse::Ok().json(ProvidersBody { providers })
}

/// Start a login at a provider: a redirect to its authorization endpoint
/// (authorization code flow, PKCE S256, `state` and `nonce`, kept here for
/// 10 minutes and used once).
#[utoipa::path(
    get, path = "/api/v1/oidc/{provider}/authorize", operation_id = "oidc_authorize", tag = "oidc",
    params(("provider" = String, Path, description = "A configured provider's name")),
    responses(
        (status = 302, description = "To the provider",
            headers(("Location" = String), ("Cache-Control" = String, description = "no-store"))),
        (status = 404, description = "`not_found`: no such provider", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many login attempts from this address", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds until a retry can succeed"))),
        (status = 503, description = "The provider or the database is unavailable", body = ErrorBody,
            headers(("Retry-After" = u32))),
    )
)]
pub async fn authorize(
    state: web::Data<AppState>,
    provider: web::Path<String>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let provider = provider.into_inner();
    let location = state
        .sessions(move |sessions| sessions.start_external_login(&provider, &client.0))
        .await?;
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .finish())
}

/// What the provider's redirect carries back.
#[derive(Deserialize)]
pub struct CallbackParams {
    /// The `state` of the authorization request.
    state: Option<String>,
    /// The authorization code.
    code: Option<String>,
    /// The provider's error code, when it refused.
    error: Option<String>,
}

/// Complete a login at a provider: its redirect back, with `code` and
/// `state`. Answers a token pair of the user linked to the provider's
/// `sub`, who is made on the first login.
#[utoipa::path(
    get, path = "/api/v1/oidc/{provider}/callback", operation_id = "oidc_callback", tag = "oidc",
    params(
        ("provider" = String, Path, description = "A configured provider's name"),
        ("state" = Option<String>, Query, description = "The `state` of the authorization request"),
        ("code" = Option<String>, Query, description = "The authorization code"),
        ("error" = Option<String>, Query, description = "The provider's error code, when it refused"),
    ),
    responses(
        (status = 200, description = "A token pair", body = TokenPairBody,
            headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "`bad_request`: no `state`, or one unknown, expired, used or sent to another provider; no `code`; an `error` from the provider, or a code it refused", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`: the ID token failed a check (signature by the provider's keys, `iss`, `aud`, `exp`, `nonce`)", body = ErrorBody,
            headers(("WWW-Authenticate" = String))),
        (status = 404, description = "`not_found`: no such provider", body = ErrorBody),
        (status = 503, description = "The provider or the database is unavailable", body = ErrorBody,
            headers(("Retry-After" = u32))),
    )
)]
pub async fn callback(
    state: web::Data<AppState>,
    provider: web::Path<String>,
    request: HttpRequest,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let provider = provider.into_inner();
    let params = web::Query::<CallbackParams>::from_query(request.query_string())
        .map_err(invalid_query)?
        .into_inner();
    let callback = Callback {
        state: params.state,
        code: params.code,
        error: params.error,
    };
    let pair = state
        .sessions(move |sessions| sessions.finish_external_login(&provider, &callback, &client.0))
        .await?;
    Ok(token_response(&pair))
}
