//! The OpenAPI 3.1 document, generated from the handlers' annotations and
//! the body types themselves.

use actix_web::HttpResponse;
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, Ref, Required};
use utoipa::{Modify, OpenApi};

use super::{auth, health, keys, mfa, oidc, posts, sessions, users};

/// The document; `ApiDoc::openapi()` builds it.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "blog-api",
        description = "A blog HTTP API with JWT authentication. Every error has the shape \
            `{\"error\", \"message\", \"code\"}`; a JSON body must be an object, and an optional \
            field is left out rather than set to null.",
    ),
    paths(
        users::register,
        users::list,
        users::me,
        users::events,
        users::change_password,
        mfa::start,
        mfa::confirm,
        mfa::disable,
        auth::login,
        auth::login_mfa,
        auth::refresh,
        auth::logout,
        auth::logout_all,
        oidc::providers,
        oidc::authorize,
        oidc::callback,
        sessions::list,
        sessions::end,
        posts::list,
        posts::get,
        posts::create,
        posts::update,
        posts::delete,
        document,
        health::live,
        health::ready,
        keys::jwks,
    ),
    modifiers(&BearerAuth, &OptionalLogoutBody),
    tags(
        (name = "users", description = "Registration and users"),
        (name = "auth", description = "Login, refresh with rotation, logout"),
        (name = "oidc", description = "Login with an OpenID Connect provider"),
        (name = "sessions", description = "The caller's logins, and ending them"),
        (name = "two-factor", description = "Two-factor login with TOTP (RFC 6238)"),
        (name = "posts", description = "Posts; only the author may change one"),
        (name = "probes", description = "Liveness and readiness"),
        (name = "keys", description = "The public keys that verify the tokens"),
        (name = "meta", description = "This document"),
    )
)]
pub struct ApiDoc;

/// The `bearer` security scheme: an access token in `Authorization: Bearer`.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".to_owned());
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Logout's body may be left out, but is never `null`: utoipa would write
/// `Option<LogoutRequest>` as "null or the object", so it is set here.
struct OptionalLogoutBody;

impl Modify for OptionalLogoutBody {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let logout = openapi
            .paths
            .paths
            .get_mut("/api/v1/logout")
            .and_then(|path| path.post.as_mut());
        if let Some(operation) = logout {
            operation.request_body = Some(
                RequestBodyBuilder::new()
                    .description(Some("Optional: an empty body is no body"))
                    .content(
                        "application/json",
                        Content::new(Some(Ref::from_schema_name("LogoutRequest"))),
                    )
                    .required(Some(Required::False))
                    .build(),
            );
        }
    }
}

/// This OpenAPI document.
#[utoipa::path(
    get, path = "/api/v1/openapi.json", operation_id = "openapi_document", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json"))
)]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
