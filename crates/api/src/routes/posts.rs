//! `/api/v1/posts`: reading for everyone, writing for authors.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use blog_domain::{Post, PostChanges, PostContent, PostId, PostTitle, UserId};
use serde::{Deserialize, Serialize};

use super::paginated;
use crate::error::ApiError;
use crate::extract::{AuthenticatedUser, Deferred, Json, page_request};
use crate::state::AppState;

/// A post as clients see it.
#[derive(Serialize)]
pub struct PostBody {
    id: i64,
    title: String,
    content: String,
    user_id: i64,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: time::OffsetDateTime,
}

impl From<Post> for PostBody {
    fn from(post: Post) -> Self {
        Self {
            id: post.id.get(),
            title: post.title.as_str().to_owned(),
            content: post.content.as_str().to_owned(),
            user_id: post.author_id.get(),
            created_at: post.created_at,
            updated_at: post.updated_at,
        }
    }
}

/// Not a flattened `PageParams`: serde's `flatten` makes the query
/// deserializer see numbers as strings.
#[derive(Deserialize)]
pub struct ListParams {
    user_id: Option<i64>,
    page: Option<i64>,
    per_page: Option<i64>,
}

#[derive(Deserialize)]
pub struct NewPostRequest {
    title: String,
    content: String,
}

#[derive(Deserialize)]
pub struct PostUpdateRequest {
    title: Option<String>,
    content: Option<String>,
}

impl PostUpdateRequest {
    fn into_changes(self) -> Result<PostChanges, ApiError> {
        Ok(PostChanges {
            title: self.title.as_deref().map(PostTitle::parse).transpose()?,
            content: self.content.map(PostContent::parse).transpose()?,
        })
    }
}

/// A path id that cannot name a post is a post that does not exist. Only
/// the canonical decimal form names one: not `+42`, not `042`.
fn post_id(path: &str) -> Result<PostId, ApiError> {
    let canonical = path.bytes().all(|b| b.is_ascii_digit()) && !path.starts_with('0');
    canonical
        .then(|| path.parse().ok())
        .flatten()
        .and_then(|id| PostId::new(id).ok())
        .ok_or_else(ApiError::post_not_found)
}

/// `GET /api/v1/posts[?user_id=N]`
pub async fn list(
    state: web::Data<AppState>,
    request: HttpRequest,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let page_request = page_request(params.page, params.per_page)?;
    let author = params.user_id.map(UserId::new).transpose()?;
    let page = state
        .posts(move |posts| posts.list(author, page_request))
        .await?;
    let filters: Vec<_> = author
        .map(|id| ("user_id", id.to_string()))
        .into_iter()
        .collect();
    Ok(paginated(&request, &filters, page, "posts", PostBody::from))
}

/// `GET /api/v1/posts/{id}`
pub async fn get(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<PostBody>, ApiError> {
    let id = post_id(&path)?;
    let post = state.posts(move |posts| posts.get(id)).await?;
    Ok(web::Json(post.into()))
}

/// `POST /api/v1/posts`
pub async fn create(
    user: AuthenticatedUser,
    state: web::Data<AppState>,
    body: Deferred<Json<NewPostRequest>>,
) -> Result<HttpResponse, ApiError> {
    let Json(NewPostRequest { title, content }) = body.0?;
    let (title, content) = (PostTitle::parse(&title)?, PostContent::parse(content)?);
    let post = state
        .posts(move |posts| posts.create(user.0.user_id, title, content))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/posts/{}", post.id)))
        .json(PostBody::from(post)))
}

/// `PUT /api/v1/posts/{id}`: the contract's order, top to bottom: the
/// token (401, by the extractor), the post (404), its author (403), and
/// only then the body (400).
pub async fn update(
    user: AuthenticatedUser,
    path: web::Path<String>,
    state: web::Data<AppState>,
    body: Deferred<Json<PostUpdateRequest>>,
) -> Result<web::Json<PostBody>, ApiError> {
    let id = post_id(&path)?;
    let actor = user.0.user_id;
    let post = state
        .posts(move |posts| {
            posts.editable(actor, id)?;
            let changes = body.0.and_then(|Json(body)| body.into_changes())?;
            posts.update(actor, id, &changes).map_err(ApiError::from)
        })
        .await?;
    Ok(web::Json(post.into()))
}

/// `DELETE /api/v1/posts/{id}`
pub async fn delete(
    user: AuthenticatedUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = post_id(&path)?;
    state
        .posts(move |posts| posts.delete(user.0.user_id, id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_canonical_decimal_form_names_a_post() {
        assert_eq!(post_id("42").map(|id| id.get()).ok(), Some(42));
        for path in [
            "+42",
            "042",
            "0",
            "-1",
            "",
            "4 2",
            "42.0",
            "0x2a",
            "99999999999999999999",
        ] {
            assert!(post_id(path).is_err(), "{path:?}");
        }
    }
}
