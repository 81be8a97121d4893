//! The routes of `/api/v1` and the probes, one small handler per operation.

mod auth;
mod health;
mod posts;
mod users;

use actix_web::{HttpResponse, web};

use crate::error::{ApiError, method_not_allowed};

/// Mounts every route. Each resource answers its other methods with 405 and
/// `Allow`; unknown paths get the JSON 404 of the app's default service.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::scope("/api/v1")
                .service(
                    web::resource("/users")
                        .route(web::get().to(users::list))
                        .route(web::head().to(users::list))
                        .route(web::post().to(users::register))
                        .default_service(web::to(|| async {
                            method_not_allowed("GET, HEAD, POST")
                        })),
                )
                .service(
                    web::resource("/users/me")
                        .route(web::get().to(users::me))
                        .route(web::head().to(users::me))
                        .default_service(web::to(|| async { method_not_allowed("GET, HEAD") })),
                )
                .service(post_only("/login", auth::login))
                .service(post_only("/refresh", auth::refresh))
                .service(post_only("/logout", auth::logout))
                .service(
                    web::resource("/posts")
                        .route(web::get().to(posts::list))
                        .route(web::head().to(posts::list))
                        .route(web::post().to(posts::create))
                        .default_service(web::to(|| async {
                            method_not_allowed("GET, HEAD, POST")
                        })),
                )
                .service(
                    web::resource("/posts/{id}")
                        .route(web::get().to(posts::get))
                        .route(web::head().to(posts::get))
                        .route(web::put().to(posts::update))
                        .route(web::delete().to(posts::delete))
                        .default_service(web::to(|| async {
                            method_not_allowed("GET, HEAD, PUT, DELETE")
                        })),
                ),
        )
        .service(
            web::resource("/healthz")
                .route(web::get().to(health::live))
                .route(web::head().to(health::live))
                .default_service(web::to(|| async { method_not_allowed("GET, HEAD") })),
        )
        .service(
            web::resource("/readyz")
                .route(web::get().to(health::ready))
                .route(web::head().to(health::ready))
                .default_service(web::to(|| async { method_not_allowed("GET, HEAD") })),
        );
}

fn post_only<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::post().to(handler))
        .default_service(web::to(|| async { method_not_allowed("POST") }))
}

/// The JSON 404 for paths no route matches.
pub async fn no_route() -> HttpResponse {
    actix_web::ResponseError::error_response(&ApiError::no_route())
}

/// One page as `{"<key>": [...]}`, with the list's size in `X-Total-Count`
/// and `first`, `prev`, `next` and `last` links in `Link` (RFC 8288). The
/// links keep the request's `filters`.
fn paginated<T, B: serde::Serialize>(
    request: &actix_web::HttpRequest,
    filters: &[(&str, String)],
    page: blog_domain::Page<T>,
    key: &str,
    to_body: impl Fn(T) -> B,
) -> HttpResponse {
    let (current, last, per_page) = (
        u64::from(page.request.page()),
        page.last_page(),
        page.request.per_page(),
    );
    let link = |number: u64, rel: &str| {
        let query: Vec<String> = filters
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .chain([format!("page={number}"), format!("per_page={per_page}")])
            .collect();
        format!("<{}?{}>; rel=\"{rel}\"", request.path(), query.join("&"))
    };
    let mut links = vec![link(1, "first")];
    if current > 1 {
        links.push(link((current - 1).min(last), "prev"));
    }
    if current < last {
        links.push(link(current + 1, "next"));
    }
    links.push(link(last, "last"));
    let total = page.total;
    let items: Vec<B> = page.items.into_iter().map(to_body).collect();
    HttpResponse::Ok()
        .insert_header(("X-Total-Count", total.to_string()))
        .insert_header((actix_web::http::header::LINK, links.join(", ")))
        .json(serde_json::json!({ key: items }))
}
