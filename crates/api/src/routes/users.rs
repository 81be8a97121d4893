//! `/api/v1/users`: registration, the user list, and the caller.

use actix_web::{HttpRequest, HttpResponse, web};
use blog_domain::{User, Username};
use serde::Serialize;

use super::auth::Credentials;
use super::paginated;
use crate::error::ApiError;
use crate::extract::{AuthenticatedUser, Json, PageParams};
use crate::state::AppState;

/// A user as clients see it: never a password or hash.
#[derive(Serialize)]
pub struct UserBody {
    id: i64,
    username: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
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

/// `POST /api/v1/users`
pub async fn register(
    state: web::Data<AppState>,
    body: Json<Credentials>,
) -> Result<HttpResponse, ApiError> {
    let Json(Credentials { username, password }) = body;
    let username = Username::parse(username)?;
    let user = state
        .users(move |users| users.register(username, password))
        .await?;
    Ok(HttpResponse::Created().json(UserBody::from(user)))
}

/// `GET /api/v1/users`
pub async fn list(
    state: web::Data<AppState>,
    request: HttpRequest,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page_request = params.request()?;
    let page = state.users(move |users| users.list(page_request)).await?;
    Ok(paginated(&request, &[], page, "users", UserBody::from))
}

/// `GET /api/v1/users/me`
pub async fn me(
    user: AuthenticatedUser,
    state: web::Data<AppState>,
) -> Result<web::Json<UserBody>, ApiError> {
    let id = user.0.user_id;
    let user = state.users(move |users| users.get(id)).await?;
    Ok(web::Json(user.into()))
}
