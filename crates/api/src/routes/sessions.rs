//! `/api/v1/sessions`: the caller's logins, and ending them.

use actix_web::{HttpRequest, HttpResponse, web};
use blog_domain::{DomainError, Resource, Session, SessionId};
use serde::Serialize;
use utoipa::ToSchema;

use super::paginated;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthenticatedUser, ClientInfo, PageParams, Paging};
use crate::state::AppState;

/// A login session as its user sees it: never a token.
#[derive(Serialize, ToSchema)]
pub struct SessionBody {
    /// Opaque: it names the session and cannot be used as a token.
    #[schema(example = "9f2c4e0a1b3d5f7e9f2c4e0a1b3d5f7e")]
    id: String,
    /// The login, RFC 3339, UTC.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: time::OffsetDateTime,
    /// The last refresh (the login until then).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    last_used_at: time::OffsetDateTime,
    /// When it ends whatever happens: refreshing does not extend it.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    expires_at: time::OffsetDateTime,
    /// The address the login came from.
    #[schema(example = "203.0.113.7")]
    ip: Option<String>,
    /// The login's `User-Agent` (at most 256 characters of it).
    #[schema(example = "curl/8.5.0")]
    user_agent: Option<String>,
    /// Whether this is the session of the token that asked.
    current: bool,
}

impl SessionBody {
    fn new(session: Session, current: &SessionId) -> Self {
        Self {
            current: &session.id == current,
            id: session.id.as_str().to_owned(),
            created_at: session.created_at,
            last_used_at: session.last_used_at,
            expires_at: session.expires_at,
            ip: session.client.address.map(|ip| ip.to_string()),
            user_agent: session
                .client
                .user_agent
                .map(|agent| agent.as_str().to_owned()),
        }
    }
}

/// One page of sessions.
#[derive(Serialize, ToSchema)]
pub struct SessionList {
    /// Newest first.
    sessions: Vec<SessionBody>,
}

/// The caller's live sessions, newest first.
#[utoipa::path(
    get, path = "/api/v1/sessions", operation_id = "list_sessions", tag = "sessions",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of the caller's live sessions", body = SessionList, headers(
            ("X-Total-Count" = u64, description = "How many live sessions the caller has"),
            ("Link" = String, description = "`first`, `prev`, `next` and `last` pages (RFC 8288)"))),
        (status = 400, description = "Bad paging", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody,
            headers(("WWW-Authenticate" = String))),
        (status = 503, description = "The database is unavailable", body = ErrorBody,
            headers(("Retry-After" = u32))),
    )
)]
pub async fn list(
    user: AuthenticatedUser,
    state: web::Data<AppState>,
    request: HttpRequest,
    paging: Paging,
) -> actix_web::Result<HttpResponse> {
    let (page, current) = state
        .read_as(user, move |services, caller| {
            let page_request = paging.0?;
            let page = services.sessions.sessions(caller, page_request)?;
            Ok::<_, ApiError>((page, caller.session_id.clone()))
        })
        .await?;
    Ok(paginated(&request, &[], page, |sessions| SessionList {
        sessions: sessions
            .into_iter()
            .map(|session| SessionBody::new(session, &current))
            .collect(),
    }))
}

/// End one of the caller's sessions (its own included): its tokens stop
/// working at once.
#[utoipa::path(
    delete, path = "/api/v1/sessions/{id}", operation_id = "end_session", tag = "sessions",
    params(("id" = String, Path, description = "A session id from `GET /api/v1/sessions`", pattern = "^[0-9a-f]{32}$")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "No valid access token", body = ErrorBody,
            headers(("WWW-Authenticate" = String))),
        (status = 404, description = "No live session of the caller's has this id (another user's neither)", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody,
            headers(("Retry-After" = u32))),
    )
)]
pub async fn end(
    user: AuthenticatedUser,
    state: web::Data<AppState>,
    client: ClientInfo,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .as_caller(user, move |services, caller| {
            let id = SessionId::parse(path.into_inner())
                .map_err(|_| DomainError::NotFound(Resource::Session))?;
            services.sessions.end_session(caller, &id, &client.0)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
