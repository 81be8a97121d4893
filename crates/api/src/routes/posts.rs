//! `/api/v1/posts`: reading for everyone, writing for authors.

use actix_web::http::header;
use actix_web::web::Query;
use actix_web::{HttpRequest, HttpResponse, web};
use blog_domain::{Post, PostChanges, PostContent, PostId, PostTitle, UserId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::paginated;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthenticatedUser, Deferred, Json, page_request};
use crate::state::AppState;

/// A post as clients see it.
#[derive(Serialize, ToSchema)]
pub struct PostBody {
    #[schema(example = 1, minimum = 1)]
    id: i64,
    #[schema(example = "Hello")]
    title: String,
    #[schema(example = "First post")]
    content: String,
    /// The author.
    #[schema(example = 1, minimum = 1)]
    user_id: i64,
    /// RFC 3339, UTC.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: time::OffsetDateTime,
    /// RFC 3339, UTC.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    updated_at: time::OffsetDateTime,
}

/// One page of posts.
#[derive(Serialize, ToSchema)]
pub struct PostList {
    /// Newest first.
    posts: Vec<PostBody>,
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
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this author's posts.
    #[param(minimum = 1)]
    user_id: Option<i64>,
    /// From 1.
    #[param(minimum = 1, default = 1)]
    page: Option<i64>,
    /// 1 to 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    per_page: Option<i64>,
}

/// A new post.
#[derive(Deserialize, ToSchema)]
pub struct NewPostRequest {
    /// 1 to 200 characters after trimming, no control characters.
    #[schema(example = "Hello", min_length = 1, max_length = 200)]
    title: String,
    /// At most 100,000 characters, no NUL.
    #[schema(example = "First post", max_length = 100000)]
    content: String,
}

/// The fields to change; a field left out keeps its value (never `null`).
#[derive(Deserialize, ToSchema)]
pub struct PostUpdateRequest {
    /// 1 to 200 characters after trimming, no control characters.
    #[schema(
        example = "New title",
        min_length = 1,
        max_length = 200,
        nullable = false
    )]
    title: Option<String>,
    /// At most 100,000 characters, no NUL.
    #[schema(example = "New content", max_length = 100000, nullable = false)]
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

/// List posts, newest first, of one author if `user_id` is given.
#[utoipa::path(
    get, path = "/api/v1/posts", operation_id = "list_posts", tag = "posts",
    responses(
        (status = 200, description = "One page of posts", body = PostList, headers(
            ("X-Total-Count" = u64, description = "How many posts there are"),
            ("Link" = String, description = "`first`, `prev`, `next` and `last` pages (RFC 8288)"))),
        (status = 400, description = "Bad paging or `user_id`", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody,
            headers(("Retry-After" = u32))),
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    request: HttpRequest,
    params: Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let page_request = page_request(params.page, params.per_page)?;
    let author = params.user_id.map(UserId::new).transpose()?;
    let page = state
        .read(move |services| services.posts.list(author, page_request))
        .await?;
    let filters: Vec<_> = author
        .map(|id| ("user_id", id.to_string()))
        .into_iter()
        .collect();
    Ok(paginated(&request, &filters, page, |posts| PostList {
        posts: posts.into_iter().map(PostBody::from).collect(),
    }))
}

/// One post.
#[utoipa::path(
    get, path = "/api/v1/posts/{id}", operation_id = "get_post", tag = "posts",
    params(("id" = String, Path, description = "The post's id, in canonical decimal form", pattern = "^[1-9][0-9]{0,18}$")),
    responses(
        (status = 200, description = "The post", body = PostBody),
        (status = 404, description = "No such post", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody,
            headers(("Retry-After" = u32))),
    )
)]
pub async fn get(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<PostBody>, ApiError> {
    let id = post_id(&path)?;
    let post = state.read(move |services| services.posts.get(id)).await?;
    Ok(web::Json(post.into()))
}

/// Write a post.
#[utoipa::path(
    post, path = "/api/v1/posts", operation_id = "create_post", tag = "posts",
    request_body = NewPostRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new post", body = PostBody,
            headers(("Location" = String, description = "The post's URL"))),
        (status = 400, description = "`bad_request` or `validation_failed`", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody,
            headers(("WWW-Authenticate" = String))),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is over the limit", body = ErrorBody),
        (status = 415, description = "Not JSON, or a content coding", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody,
            headers(("Retry-After" = u32))),
    )
)]
pub async fn create(
    user: AuthenticatedUser,
    state: web::Data<AppState>,
    body: Deferred<Json<NewPostRequest>>,
) -> Result<HttpResponse, ApiError> {
    let caller = state.authenticate(user).await?;
    let Json(NewPostRequest { title, content }) = body.0?;
    let (title, content) = (PostTitle::parse(&title)?, PostContent::parse(content)?);
    let post = state.posts().create(caller.user_id, title, content).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/posts/{}", post.id)))
        .json(PostBody::from(post)))
}

/// Change a post of the caller's. The checks run in the contract's order,
/// top to bottom: the token (401, by the extractor), the post (404), its
/// author (403), and only then the body (400).
#[utoipa::path(
    put, path = "/api/v1/posts/{id}", operation_id = "update_post", tag = "posts",
    params(("id" = String, Path, description = "The post's id, in canonical decimal form", pattern = "^[1-9][0-9]{0,18}$")),
    request_body = PostUpdateRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The post as changed", body = PostBody),
        (status = 400, description = "`bad_request` or `validation_failed`", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody,
            headers(("WWW-Authenticate" = String))),
        (status = 403, description = "Not the author", body = ErrorBody),
        (status = 404, description = "No such post", body = ErrorBody),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is over the limit", body = ErrorBody),
        (status = 415, description = "Not JSON, or a content coding", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody,
            headers(("Retry-After" = u32))),
    )
)]
pub async fn update(
    user: AuthenticatedUser,
    path: web::Path<String>,
    state: web::Data<AppState>,
    body: Deferred<Json<PostUpdateRequest>>,
) -> Result<web::Json<PostBody>, ApiError> {
    let post = state
        .as_caller(user, move |services, caller| {
            let (id, actor, posts) = (post_id(&path)?, caller.user_id, &services.posts);
            posts.editable(actor, id)?;
            let changes = body.0.and_then(|Json(body)| body.into_changes())?;
            posts.update(actor, id, &changes).map_err(ApiError::from)
        })
        .await?;
    Ok(web::Json(post.into()))
}

/// Delete a post of the caller's.
#[utoipa::path(
    delete, path = "/api/v1/posts/{id}", operation_id = "delete_post", tag = "posts",
    params(("id" = String, Path, description = "The post's id, in canonical decimal form", pattern = "^[1-9][0-9]{0,18}$")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid access token", body = ErrorBody,
            headers(("WWW-Authenticate" = String))),
        (status = 403, description = "Not the author", body = ErrorBody),
        (status = 404, description = "No such post", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody,
            headers(("Retry-After" = u32))),
    )
)]
pub async fn delete(
    user: AuthenticatedUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .as_caller(user, move |services, caller| {
            services
                .posts
                .delete(caller.user_id, post_id(&path)?)
                .map_err(ApiError::from)
        })
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
