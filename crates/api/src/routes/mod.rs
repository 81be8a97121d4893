//! The routes of `/api/v1` and the probes, one small handler per operation.

mod auth;
mod health;
mod posts;
mod users;

use actix_web::{FromRequest, Handler, HttpResponse, Resource, Responder, Route, guard, web};

use crate::error::{ApiError, method_not_allowed};

/// Mounts every route. Each resource answers its other methods with 405 and
/// an `Allow` made from the routes it has; unknown paths get the JSON 404 of
/// the app's default service.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::scope("/api/v1")
                .service(
                    Endpoint::new("/users")
                        .get(users::list)
                        .post(users::register)
                        .build(),
                )
                .service(Endpoint::new("/users/me").get(users::me).build())
                .service(Endpoint::new("/login").post(auth::login).build())
                .service(Endpoint::new("/refresh").post(auth::refresh).build())
                .service(Endpoint::new("/logout").post(auth::logout).build())
                .service(
                    Endpoint::new("/posts")
                        .get(posts::list)
                        .post(posts::create)
                        .build(),
                )
                .service(
                    Endpoint::new("/posts/{id}")
                        .get(posts::get)
                        .put(posts::update)
                        .delete(posts::delete)
                        .build(),
                ),
        )
        .service(Endpoint::new("/healthz").get(health::live).build())
        .service(Endpoint::new("/readyz").get(health::ready).build());
}

/// A resource and the methods it answers, so that `Allow` (RFC 9110
/// §15.5.6) is made from the routes themselves.
struct Endpoint {
    resource: Resource,
    methods: Vec<&'static str>,
}

impl Endpoint {
    fn new(path: &str) -> Self {
        Self {
            resource: web::resource(path),
            methods: Vec::new(),
        }
    }

    fn route<F, Args>(mut self, route: Route, methods: &[&'static str], handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.resource = self.resource.route(route.to(handler));
        self.methods.extend_from_slice(methods);
        self
    }

    /// `GET`, and `HEAD` answered by the same handler (the server drops the body).
    fn get<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let get_or_head = web::route().guard(guard::Any(guard::Get()).or(guard::Head()));
        self.route(get_or_head, &["GET", "HEAD"], handler)
    }

    fn post<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(web::post(), &["POST"], handler)
    }

    fn put<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(web::put(), &["PUT"], handler)
    }

    fn delete<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(web::delete(), &["DELETE"], handler)
    }

    /// The resource, with 405 and `Allow` for every other method.
    fn build(self) -> Resource {
        let allow = self.methods.join(", ");
        self.resource.default_service(web::to(move || {
            let allow = allow.clone();
            async move { method_not_allowed(&allow) }
        }))
    }
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
