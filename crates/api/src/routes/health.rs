//! Probes for orchestrators and load balancers.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// `GET /healthz`: the process is alive.
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /readyz`: 200 while the database answers, else 503.
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.check_database().await?;
    Ok(HttpResponse::Ok().json(json!({"status": "ready"})))
}
