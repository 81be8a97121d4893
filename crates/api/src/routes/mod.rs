//! The routes of `/api/v1` and the probes, one small handler per operation.

mod auth;
mod health;
mod posts;
mod users;

use actix_web::{HttpResponse, Resource, Route, guard, web};

use crate::error::{ApiError, method_not_allowed};

/// Mounts every route. Each resource answers its other methods with 405 and
/// `Allow`; unknown paths get the JSON 404 of the app's default service.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::scope("/api/v1")
                .service(
                    resource("/users", "GET, HEAD, POST")
                        .route(get_or_head().to(users::list))
                        .route(web::post().to(users::register)),
                )
                .service(resource("/users/me", "GET, HEAD").route(get_or_head().to(users::me)))
                .service(resource("/login", "POST").route(web::post().to(auth::login)))
                .service(resource("/refresh", "POST").route(web::post().to(auth::refresh)))
                .service(resource("/logout", "POST").route(web::post().to(auth::logout)))
                .service(
                    resource("/posts", "GET, HEAD, POST")
                        .route(get_or_head().to(posts::list))
                        .route(web::post().to(posts::create)),
                )
                .service(
                    resource("/posts/{id}", "GET, HEAD, PUT, DELETE")
                        .route(get_or_head().to(posts::get))
                        .route(web::put().to(posts::update))
                        .route(web::delete().to(posts::delete)),
                ),
        )
        .service(resource("/healthz", "GET, HEAD").route(get_or_head().to(health::live)))
        .service(resource("/readyz", "GET, HEAD").route(get_or_head().to(health::ready)));
}

/// A resource whose other methods get 405 with `allow` (RFC 9110 §15.5.6).
fn resource(path: &str, allow: &'static str) -> Resource {
    web::resource(path).default_service(web::to(move || async move { method_not_allowed(allow) }))
}

/// `GET`, and `HEAD` answered by the same handler (the server drops the body).
fn get_or_head() -> Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
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
