//! Probes for orchestrators and load balancers.

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
