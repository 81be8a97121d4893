//! The routes of `/api/v1` and the probes, one small handler per operation.

mod auth;
mod health;
mod keys;
mod mfa;
mod oidc;
pub mod openapi;
mod posts;
mod sessions;
mod users;

use actix_web::http::header;
use actix_web::{FromRequest, Handler, HttpResponse, Resource, Responder, Route, guard, web};
use utoipa_swagger_ui::SwaggerUi;

use crate::error::{ApiError, method_not_allowed};
use crate::telemetry::RouteTemplate;

/// Mounts every route, and the interactive docs at `/docs/`. Each resource
/// answers its other methods with 405 and an `Allow` made from the routes
/// it has; unknown paths get the JSON 404 of the app's default service.
pub fn configure(config: &mut web::ServiceConfig) {
    for endpoint in endpoints() {
        config.service(endpoint.build());
    }
    config
        .service(web::resource("/docs").to(|| async {
            HttpResponse::PermanentRedirect()
                .insert_header((header::LOCATION, "/docs/"))
                .finish()
        }))
        .service(
            SwaggerUi::new("/docs/{_:.*}").config(utoipa_swagger_ui::Config::new([OPENAPI_PATH])),
        );
}

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// Every endpoint of the service, with its full path: what is served, and
/// what the test compares with the OpenAPI document.
///
/// The router tries them in this order, and each pattern with a `{}`
/// segment costs a regex match: the posts, most of the traffic, come first.
fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new("/api/v1/posts")
            .get(posts::list)
            .post(posts::create),
        Endpoint::new("/api/v1/posts/{id}")
            .get(posts::get)
            .put(posts::update)
            .delete(posts::delete),
        Endpoint::new("/api/v1/users")
            .get(users::list)
            .post(users::register),
        Endpoint::new("/api/v1/users/me").get(users::me),
        Endpoint::new("/api/v1/users/me/events").get(users::events),
        Endpoint::new("/api/v1/users/me/password").put(users::change_password),
        Endpoint::new("/api/v1/users/me/mfa/totp")
            .post(mfa::start)
            .delete(mfa::disable),
        Endpoint::new("/api/v1/users/me/mfa/totp/confirm").post(mfa::confirm),
        Endpoint::new("/api/v1/login").post(auth::login),
        Endpoint::new("/api/v1/login/mfa").post(auth::login_mfa),
        Endpoint::new("/api/v1/refresh").post(auth::refresh),
        Endpoint::new("/api/v1/logout").post(auth::logout),
        Endpoint::new("/api/v1/logout/all").post(auth::logout_all),
        Endpoint::new("/api/v1/oidc/providers").get(oidc::providers),
        Endpoint::new("/api/v1/oidc/{provider}/authorize").get(oidc::authorize),
        Endpoint::new("/api/v1/oidc/{provider}/callback").get(oidc::callback),
        Endpoint::new("/api/v1/sessions").get(sessions::list),
        Endpoint::new("/api/v1/sessions/{id}").delete(sessions::end),
        Endpoint::new(OPENAPI_PATH).get(openapi::document),
        Endpoint::new("/healthz").get(health::live),
        Endpoint::new("/readyz").get(health::ready),
        Endpoint::new("/.well-known/jwks.json").get(keys::jwks),
    ]
}

/// Each served path with the methods it answers (`HEAD` aside), sorted.
pub fn route_table() -> Vec<(String, Vec<&'static str>)> {
    let mut table: Vec<_> = endpoints()
        .into_iter()
        .map(|endpoint| {
            let mut methods: Vec<_> = endpoint
                .methods
                .iter()
                .copied()
                .filter(|method| *method != "HEAD")
                .collect();
            methods.sort_unstable();
            (endpoint.path.to_owned(), methods)
        })
        .collect();
    table.sort();
    table
}

/// A resource and the methods it answers, so that `Allow` (RFC 9110
/// §15.5.6) is made from the routes themselves.
struct Endpoint {
    path: &'static str,
    resource: Resource,
    methods: Vec<&'static str>,
}

impl Endpoint {
    fn new(path: &'static str) -> Self {
        Self {
            path,
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

    /// The resource, with 405 and `Allow` for every other method, and its
    /// path template for the logs and metrics.
    fn build(self) -> Resource {
        let allow = self.methods.join(", ");
        self.resource
            .app_data(RouteTemplate(self.path))
            .default_service(web::to(move || {
                let allow = allow.clone();
                async move { method_not_allowed(&allow) }
            }))
    }
}

/// The JSON 404 for paths no route matches.
pub async fn no_route() -> HttpResponse {
    actix_web::ResponseError::error_response(&ApiError::no_route())
}

/// One page: the body `to_body` makes of the items (the list under its
/// seed key), with the list's size in `X-Total-Count` and `first`, `prev`,
/// `next` and `last` links in `Link` (RFC 8288). The links keep the
/// request's `filters`.
fn paginated<T, B: serde::Serialize>(
    request: &actix_web::HttpRequest,
    filters: &[(&str, String)],
    page: blog_domain::Page<T>,
    to_body: impl FnOnce(Vec<T>) -> B,
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
    HttpResponse::Ok()
        .insert_header(("X-Total-Count", page.total.to_string()))
        .insert_header((header::LINK, links.join(", ")))
        .json(to_body(page.items))
}
