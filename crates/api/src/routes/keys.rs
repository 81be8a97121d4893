//! `/.well-known/jwks.json`: the public keys that verify our tokens.

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

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
