//! Probes for orchestrators and load balancers.

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// What a probe says.
#[derive(Serialize, ToSchema)]
pub struct StatusBody {
    /// `ok` or `ready`.
    #[schema(example = "ok")]
    status: &'static str,
}

/// Liveness: the process is alive.
#[utoipa::path(
    get, path = "/healthz", operation_id = "liveness", tag = "probes",
    responses((status = 200, description = "Alive", body = StatusBody))
)]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(StatusBody { status: "ok" })
}

/// Readiness: 200 while the database answers and has every migration.
#[utoipa::path(
    get, path = "/readyz", operation_id = "readiness", tag = "probes",
    responses(
        (status = 200, description = "Ready", body = StatusBody),
        (status = 503, description = "The database is unavailable or lacks migrations", body = ErrorBody,
            headers(("Retry-After" = u32))),
    )
)]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.check_database().await?;
    Ok(HttpResponse::Ok().json(StatusBody { status: "ready" }))
}

/// A JWK set (RFC 7517): the public keys that verify this service's tokens.
#[derive(Serialize, ToSchema)]
pub struct JwkSetBody {
    /// Each with `kty`, `kid`, `alg`, `use: "sig"` and its public
    /// parameters (`crv` and `x`, `crv`, `x` and `y`, or `n` and `e`);
    /// never a private one.
    #[schema(value_type = Vec<Object>)]
    keys: Vec<serde_json::Value>,
}

/// The public keys that verify this service's tokens, the retiring ones
/// included: another service verifies a token with nothing else. Empty when
/// an HMAC secret signs (nothing public to publish).
#[utoipa::path(
    get, path = "/.well-known/jwks.json", operation_id = "jwks", tag = "keys",
    responses(
        (status = 200, description = "The JWK set", body = JwkSetBody,
            headers(("Cache-Control" = String, description = "public, max-age=300"))),
    )
)]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        // Verifiers may cache it briefly; a new key is published before it signs.
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(300),
        ]))
        .json(JwkSetBody {
            keys: state.jwks().to_vec(),
        })
}
