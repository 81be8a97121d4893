//! `/api/v1/users`: registration, the user list, and the caller.

use actix_web::web::Query;
use actix_web::{HttpRequest, HttpResponse, web};
use blog_domain::{RecordedEvent, SecurityEventKind, User, Username};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{Credentials, MessageBody};
use super::paginated;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthenticatedUser, ClientInfo, Deferred, Json, PageParams, Paging};
use crate::state::AppState;

/// A user as clients see it: never a password or hash.
#[derive(Serialize, ToSchema)]
pub struct UserBody {
    #[schema(example = 1, minimum = 1)]
    id: i64,
    #[schema(example = "alice")]
    username: String,
    /// RFC 3339, UTC.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: time::OffsetDateTime,
}

/// One page of users.
#[derive(Serialize, ToSchema)]
pub struct UserList {
    /// Oldest first.
    users: Vec<UserBody>,
}

impl From<User> for UserBody {
    fn from(user: User) -> Self {
        Self {
            id: user.id.get(),
            username: user.username.as_str().to_owned(),
            created_at: user.created_at,
        }
    }
}

/// Register a user.
#[utoipa::path(
    post, path = "/api/v1/users", operation_id = "register_user", tag = "users",
    request_body = Credentials,
    responses(
        (status = 201, description = "The new user", body = UserBody),
        (status = 400, description = "`bad_request`, `validation_failed`, `weak_password` or `username_taken`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many registrations from this address", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds until a retry can succeed"))),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is over the limit", body = ErrorBody),
        (status = 415, description = "Not JSON, or a content coding", body = ErrorBody),
        (status = 503, description = "The database or the password hasher is unavailable", body = ErrorBody,
            headers(("Retry-After" = u32))),
    )
)]
pub async fn register(
    state: web::Data<AppState>,
    client: ClientInfo,
    body: Json<Credentials>,
) -> Result<HttpResponse, ApiError> {
    let Json(Credentials { username, password }) = body;
    let username = Username::parse(username)?;
    let user = state
        .users(move |users| users.register(username, password, &client.0))
        .await?;
    Ok(HttpResponse::Created().json(UserBody::from(user)))
}

/// List users, oldest first.
#[utoipa::path(
    get, path = "/api/v1/users", operation_id = "list_users", tag = "users",
    responses(
        (status = 200, description = "One page of users", body = UserList, headers(
            ("X-Total-Count" = u64, description = "How many users there are"),
            ("Link" = String, description = "`first`, `prev`, `next` and `last` pages (RFC 8288)"))),
        (status = 400, description = "Bad paging", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody,
            headers(("Retry-After" = u32))),
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    request: HttpRequest,
    params: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page_request = params.request()?;
    let page = state
        .read(move |services| services.users.list(page_request))
        .await?;
    Ok(paginated(&request, &[], page, |users| UserList {
        users: users.into_iter().map(UserBody::from).collect(),
    }))
}

/// The caller.
#[utoipa::path(
    get, path = "/api/v1/users/me", operation_id = "get_current_user", tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = UserBody),
        (status = 401, description = "No valid access token", body = ErrorBody,
            headers(("WWW-Authenticate" = String))),
        (status = 503, description = "The database is unavailable", body = ErrorBody,
            headers(("Retry-After" = u32))),
    )
)]
pub async fn me(
    user: AuthenticatedUser,
    state: web::Data<AppState>,
) -> Result<web::Json<UserBody>, ApiError> {
    let user = state
        .read_as(user, |services, caller| services.users.get(caller.user_id))
        .await?;
    Ok(web::Json(user.into()))
}

/// A security event as its user sees it.
#[derive(Serialize, ToSchema)]
pub struct EventBody {
    /// Later events have greater ids.
    #[schema(example = 42, minimum = 1)]
    id: i64,
    /// What happened.
    #[serde(rename = "type")]
    #[schema(schema_with = event_type_schema)]
    kind: &'static str,
    /// When, RFC 3339, UTC.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    at: time::OffsetDateTime,
    /// The client's address.
    #[schema(example = "203.0.113.7")]
    ip: Option<String>,
    /// The client's `User-Agent` (at most 256 characters of it).
    #[schema(example = "curl/8.5.0")]
    user_agent: Option<String>,
    /// The login session it concerns.
    #[schema(example = "9f2c4e0a1b3d5f7e9f2c4e0a1b3d5f7e")]
    session_id: Option<String>,
    /// The identity provider of a third-party login or registration.
    #[schema(example = "google")]
    provider: Option<String>,
}

/// The event types, from the domain's one list.
fn event_type_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .description(Some("What happened"))
        .enum_values(Some(SecurityEventKind::ALL.map(SecurityEventKind::as_str)))
        .examples([SecurityEventKind::LoginSucceeded.as_str()])
        .build()
}

/// One page of events.
#[derive(Serialize, ToSchema)]
pub struct EventList {
    /// Newest first.
    events: Vec<EventBody>,
}

impl From<RecordedEvent> for EventBody {
    fn from(recorded: RecordedEvent) -> Self {
        let event = recorded.event;
        Self {
            id: recorded.id.get(),
            kind: event.kind.as_str(),
            at: event.at,
            ip: event.client.address.map(|ip| ip.to_string()),
            user_agent: event
                .client
                .user_agent
                .map(|agent| agent.as_str().to_owned()),
            session_id: event.session_id.map(|id| id.as_str().to_owned()),
            provider: event.provider.map(|name| name.to_string()),
        }
    }
}

/// The caller's security events, newest first: registration, logins
/// (failed ones too), refreshes, logouts.
#[utoipa::path(
    get, path = "/api/v1/users/me/events", operation_id = "list_my_events", tag = "users",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of the caller's events", body = EventList, headers(
            ("X-Total-Count" = u64, description = "How many events the caller has"),
            ("Link" = String, description = "`first`, `prev`, `next` and `last` pages (RFC 8288)"))),
        (status = 400, description = "Bad paging", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody,
            headers(("WWW-Authenticate" = String))),
        (status = 503, description = "The database is unavailable", body = ErrorBody,
            headers(("Retry-After" = u32))),
    )
)]
pub async fn events(
    user: AuthenticatedUser,
    state: web::Data<AppState>,
    request: HttpRequest,
    paging: Paging,
) -> actix_web::Result<HttpResponse> {
    let page = state
        .read_as(user, move |services, caller| {
            let page_request = paging.0?;
            services
                .users
                .events(caller.user_id, page_request)
                .map_err(ApiError::from)
        })
        .await?;
    Ok(paginated(&request, &[], page, |events| EventList {
        events: events.into_iter().map(EventBody::from).collect(),
    }))
}

/// What a password change sends.
#[derive(Deserialize, ToSchema)]
pub struct PasswordChange {
    /// The password now.
    #[schema(value_type = String, format = Password)]
    current_password: SecretString,
    /// The new one, under the password policy.
    #[schema(value_type = String, format = Password, example = "a new passphrase", min_length = 2, max_length = 72)]
    new_password: SecretString,
}

/// Change the caller's password. Every other session of the caller ends at
/// once; the caller's stays.
#[utoipa::path(
    put, path = "/api/v1/users/me/password", operation_id = "change_password", tag = "users",
    request_body = PasswordChange,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Changed", body = MessageBody),
        (status = 400, description = "`bad_request`, `validation_failed` or `weak_password`", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody,
            headers(("WWW-Authenticate" = String))),
        (status = 403, description = "`invalid_credentials`: the current password is wrong", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many attempts from this address, or too many failures of this username", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds until a retry can succeed"))),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is over the limit", body = ErrorBody),
        (status = 415, description = "Not JSON, or a content coding", body = ErrorBody),
        (status = 503, description = "The database or the password hasher is unavailable", body = ErrorBody,
            headers(("Retry-After" = u32))),
    )
)]
pub async fn change_password(
    user: AuthenticatedUser,
    state: web::Data<AppState>,
    client: ClientInfo,
    body: Deferred<Json<PasswordChange>>,
) -> Result<HttpResponse, ApiError> {
    state
        .as_caller(user, move |services, caller| {
            let Json(PasswordChange {
                current_password,
                new_password,
            }) = body.0?;
            services
                .users
                .change_password(caller, &current_password, new_password, &client.0)
                .map_err(ApiError::from)
        })
        .await?;
    Ok(HttpResponse::Ok().json(MessageBody::new("Password changed")))
}
