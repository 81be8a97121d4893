//! The one HTTP error type: every error, from every layer, leaves as
//! `{"error": reason, "message": text, "code": machine_code}`.

use std::borrow::Cow;
use std::fmt;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use blog_domain::{
    AuthError, BoxError, CallbackRefusal, DomainError, ForbiddenAction, Resource, ValidationError,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use utoipa::ToSchema;

/// The stable machine codes of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Malformed request: not JSON, a bad query string.
    BadRequest,
    /// Well-formed, but a value breaks a rule or a field is missing.
    ValidationFailed,
    /// The password policy.
    WeakPassword,
    /// The username belongs to someone else.
    UsernameTaken,
    /// Unknown user or wrong password.
    InvalidCredentials,
    /// No bearer token.
    MissingToken,
    /// The token is malformed, badly signed or unknown.
    InvalidToken,
    /// The token has expired.
    TokenExpired,
    /// The token's session has been revoked.
    TokenRevoked,
    /// An access token for a refresh, or the reverse.
    WrongTokenType,
    /// Not the author.
    Forbidden,
    /// A uniqueness rule refused the change.
    Conflict,
    /// No such resource.
    NotFound,
    /// The route exists, the method does not.
    MethodNotAllowed,
    /// The body is over the limit.
    PayloadTooLarge,
    /// The body did not arrive in time.
    RequestTimeout,
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// The password was right; a second factor must follow (`POST /login/mfa`).
    MfaRequired,
    /// The second-factor code is wrong or was used.
    InvalidMfaCode,
    /// Too many requests.
    RateLimited,
    /// The database cannot be reached.
    ServiceUnavailable,
    /// Our bug.
    InternalError,
}

/// An error on its way to the client.
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: Cow<'static, str>,
    /// Logged for 5xx, never sent.
    source: Option<BoxError>,
    /// Close the connection after answering: the rest of the request (a
    /// body not read) cannot be skipped safely.
    close: bool,
    /// `Retry-After`, in seconds, when not the default of a 503.
    retry_after: Option<u64>,
    /// The token of the second login step, with `mfa_required` only.
    mfa_token: Option<SecretString>,
}

/// Every error, from every layer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody<'a> {
    /// The HTTP reason phrase.
    #[schema(example = "Unauthorized")]
    error: &'a str,
    /// For people.
    #[schema(example = "Token has expired")]
    message: &'a str,
    /// For programs: stable.
    code: ErrorCode,
    /// With `mfa_required` only: the token of `POST /api/v1/login/mfa`.
    #[serde(skip_serializing_if = "Option::is_none")]
    mfa_token: Option<&'a str>,
}

/// The realm named in `WWW-Authenticate`.
const REALM: &str = "blog-api";

impl ApiError {
    /// An error with a status, a code and a message for people.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            source: None,
            close: false,
            retry_after: None,
            mfa_token: None,
        }
    }

    /// 401 `mfa_required`, with the token of the second login step (never
    /// to be cached, like a token pair).
    pub fn mfa_required(mfa_token: SecretString) -> Self {
        Self {
            mfa_token: Some(mfa_token),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::MfaRequired,
                "A second factor is required: send a code to /api/v1/login/mfa",
            )
        }
    }

    /// 500, with the cause kept for the log only.
    pub fn internal(source: impl Into<BoxError>) -> Self {
        Self {
            source: Some(source.into()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::InternalError,
                "Internal server error",
            )
        }
    }

    /// 401 without a token.
    pub fn missing_token(message: &'static str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::MissingToken, message)
    }

    /// 401 for a token that cannot be a bearer token.
    pub fn malformed_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidToken,
            "Token is invalid",
        )
    }

    /// 400 with a message.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
    }

    /// 400 for a value that breaks a rule.
    pub fn validation(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::ValidationFailed,
            message,
        )
    }

    /// 404 for a route that does not exist.
    pub fn no_route() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "Resource not found",
        )
    }

    /// 404 for a post id that cannot exist.
    pub fn post_not_found() -> Self {
        DomainError::NotFound(Resource::Post).into()
    }

    /// 415, saying which header is wrong.
    pub fn unsupported_media_type(message: &'static str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            message,
        )
    }

    /// 408 for a body that did not arrive in time; the connection closes.
    pub fn body_timeout() -> Self {
        Self {
            close: true,
            ..Self::new(
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::RequestTimeout,
                "The request body was not received in time",
            )
        }
    }

    /// 503 for a request still being received when the server stops; the
    /// connection closes.
    pub fn shutting_down() -> Self {
        Self {
            close: true,
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ServiceUnavailable,
                "The server is shutting down",
            )
        }
    }

    /// 413.
    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            "Request body is too large",
        )
    }

    /// A body that could not be read: over the limit (413) or cut short (400).
    pub fn from_payload_error(error: actix_web::Error) -> Self {
        if error.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::payload_too_large()
        } else {
            Self::bad_request("Request body could not be read")
        }
    }

    /// The machine code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// A body-less answer of the same status, for responses that already
    /// exist (see [`jsonify_error_response`]).
    fn for_status(status: StatusCode) -> Self {
        let code = match status {
            StatusCode::UNAUTHORIZED => ErrorCode::MissingToken,
            StatusCode::FORBIDDEN => ErrorCode::Forbidden,
            StatusCode::NOT_FOUND => ErrorCode::NotFound,
            StatusCode::CONFLICT => ErrorCode::Conflict,
            StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
            StatusCode::REQUEST_TIMEOUT => ErrorCode::RequestTimeout,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
            StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
            StatusCode::SERVICE_UNAVAILABLE => ErrorCode::ServiceUnavailable,
            status if status.is_server_error() => ErrorCode::InternalError,
            _ => ErrorCode::BadRequest,
        };
        let message = status.canonical_reason().unwrap_or("Error");
        Self::new(status, code, message)
    }

    fn www_authenticate(&self) -> Option<String> {
        // A challenge belongs to 401 only (RFC 9110 §15.5.2): a 403
        // `invalid_credentials` (a wrong current password) has none.
        if self.status != StatusCode::UNAUTHORIZED {
            return None;
        }
        let description = match self.code {
            // RFC 6750 §3.1: no error code when no token was sent.
            ErrorCode::MissingToken
            | ErrorCode::InvalidCredentials
            | ErrorCode::MfaRequired
            | ErrorCode::InvalidMfaCode => {
                return Some(format!("Bearer realm=\"{REALM}\""));
            }
            ErrorCode::InvalidToken
            | ErrorCode::TokenExpired
            | ErrorCode::TokenRevoked
            | ErrorCode::WrongTokenType => &self.message,
            _ => return None,
        };
        Some(format!(
            "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{description}\""
        ))
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("status", &self.status)
            .field("code", &self.code)
            .field("message", &self.message)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// An error and its causes on one line (libpq's messages span several).
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut cause = error.source();
    while let Some(next) = cause {
        parts.push(next.to_string());
        cause = next.source();
    }
    parts
        .join(": ")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if self.status.is_server_error() {
            match &self.source {
                Some(source) => {
                    tracing::error!(code = ?self.code, cause = %error_chain(source.as_ref()), "request failed")
                }
                None => tracing::error!(code = ?self.code, "request failed"),
            }
        }
        let mut response = HttpResponse::build(self.status);
        if let Some(challenge) = self.www_authenticate() {
            response.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        } else if self.code == ErrorCode::ServiceUnavailable {
            response.insert_header((header::RETRY_AFTER, "5"));
        }
        if self.close {
            response.force_close();
        }
        if self.mfa_token.is_some() {
            response
                .insert_header(header::CacheControl(vec![header::CacheDirective::NoStore]))
                .insert_header((header::PRAGMA, "no-cache"));
        }
        response.json(ErrorBody {
            error: self.status.canonical_reason().unwrap_or("Error"),
            message: &self.message,
            code: self.code,
            mfa_token: self.mfa_token.as_ref().map(ExposeSecret::expose_secret),
        })
    }
}

/// The one mapping from domain errors to HTTP. No `_` arm: a new variant
/// must be decided here.
impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        use StatusCode as S;
        match error {
            DomainError::Validation(ValidationError::WeakPassword(rule)) => {
                Self::new(S::BAD_REQUEST, ErrorCode::WeakPassword, rule.to_string())
            }
            DomainError::Validation(ValidationError::InvalidMfaCode) => Self::new(
                S::BAD_REQUEST,
                ErrorCode::InvalidMfaCode,
                "The code is not the authenticator's current one",
            ),
            DomainError::Validation(
                rule @ (ValidationError::InvalidUsername
                | ValidationError::InvalidTitle
                | ValidationError::InvalidContent
                | ValidationError::InvalidId
                | ValidationError::InvalidPage
                | ValidationError::InvalidPerPage
                | ValidationError::InvalidRandomId
                | ValidationError::InvalidProviderName
                | ValidationError::InvalidSubject),
            ) => Self::validation(rule.to_string()),
            DomainError::Callback(refusal) => {
                let message = match refusal {
                    CallbackRefusal::MissingState => "The callback has no state",
                    CallbackRefusal::UnknownState => {
                        "Unknown, expired or already used state: start the login again"
                    }
                    CallbackRefusal::ProviderRefused => "The identity provider refused the login",
                    CallbackRefusal::MissingCode => "The callback has no code",
                };
                Self::bad_request(message)
            }
            DomainError::Conflict => Self::new(
                S::CONFLICT,
                ErrorCode::Conflict,
                "The change conflicts with the current state",
            ),
            DomainError::UsernameTaken => Self::new(
                S::BAD_REQUEST,
                ErrorCode::UsernameTaken,
                "Username already exists",
            ),
            DomainError::Unauthorized(reason) => {
                let (code, message) = match reason {
                    AuthError::InvalidCredentials => (
                        ErrorCode::InvalidCredentials,
                        "Invalid username or password",
                    ),
                    AuthError::InvalidToken => (ErrorCode::InvalidToken, "Token is invalid"),
                    AuthError::TokenExpired => (ErrorCode::TokenExpired, "Token has expired"),
                    AuthError::TokenRevoked => (ErrorCode::TokenRevoked, "Token has been revoked"),
                    AuthError::WrongTokenType => (ErrorCode::WrongTokenType, "Wrong token type"),
                    AuthError::InvalidMfaCode => {
                        (ErrorCode::InvalidMfaCode, "Invalid second-factor code")
                    }
                };
                Self::new(S::UNAUTHORIZED, code, message)
            }
            DomainError::Forbidden(action) => {
                let message = match action {
                    ForbiddenAction::EditPost => "You can only edit your own posts",
                    ForbiddenAction::DeletePost => "You can only delete your own posts",
                };
                Self::new(S::FORBIDDEN, ErrorCode::Forbidden, message)
            }
            // 403, not 401: the caller is authenticated; its confirmation is wrong.
            DomainError::WrongPassword => Self::new(
                S::FORBIDDEN,
                ErrorCode::InvalidCredentials,
                "Current password is incorrect",
            ),
            DomainError::WrongMfaCode => Self::new(
                S::FORBIDDEN,
                ErrorCode::InvalidMfaCode,
                "Invalid second-factor code",
            ),
            DomainError::NotFound(resource) => {
                let message = match resource {
                    Resource::Post => "Post not found",
                    Resource::User => "User not found",
                    Resource::Session => "Session not found",
                    Resource::SecondFactor => "Two-factor login is not active",
                    Resource::IdentityProvider => "Identity provider not found",
                };
                Self::new(S::NOT_FOUND, ErrorCode::NotFound, message)
            }
            DomainError::RateLimited { retry_after_secs } => Self {
                retry_after: Some(retry_after_secs.max(1)),
                ..Self::new(
                    S::TOO_MANY_REQUESTS,
                    ErrorCode::RateLimited,
                    "Too many attempts: try again later",
                )
            },
            DomainError::Unavailable(source) => Self {
                source: Some(source),
                ..Self::new(
                    S::SERVICE_UNAVAILABLE,
                    ErrorCode::ServiceUnavailable,
                    "Service temporarily unavailable",
                )
            },
            DomainError::Internal(source) => Self::internal(source),
        }
    }
}

impl From<ValidationError> for ApiError {
    fn from(error: ValidationError) -> Self {
        DomainError::from(error).into()
    }
}

/// Not JSON at all is a bad request; JSON of the wrong shape (a missing
/// field, a wrong type) fails validation.
impl From<serde_json::Error> for ApiError {
    fn from(error: serde_json::Error) -> Self {
        use serde_json::error::Category;
        match error.classify() {
            Category::Data => Self::validation(error.to_string()),
            Category::Syntax | Category::Eof | Category::Io => {
                Self::bad_request("Request body is not valid JSON")
            }
        }
    }
}

/// The last line of defence: any error response that is not yet JSON (from
/// actix itself or a middleware) gets the contract's body for its status.
///
/// # Errors
/// Never: the signature is the one `ErrorHandlers` asks for.
pub fn jsonify_error_response<B: MessageBody + 'static>(
    response: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(
            response.map_into_left_body(),
        ));
    }
    let (request, original) = response.into_parts();
    let mut json = ApiError::for_status(original.status()).error_response();
    // Keep what the original said about methods and retries.
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = original.headers().get(&name) {
            json.headers_mut().insert(name, value.clone());
        }
    }
    let response = ServiceResponse::new(request, json.map_into_boxed_body()).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(response))
}

/// A 405 naming the methods the route has in `Allow` (RFC 9110 §15.5.6).
pub fn method_not_allowed(allow: &str) -> HttpResponse<BoxBody> {
    let mut response = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "Method not allowed",
    )
    .error_response();
    if let Ok(allow) = HeaderValue::from_str(allow) {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_serializes_as_the_contract_spells_it() {
        let spelled = |code| serde_json::to_value(code).unwrap();
        assert_eq!(spelled(ErrorCode::ValidationFailed), "validation_failed");
        assert_eq!(spelled(ErrorCode::WrongTokenType), "wrong_token_type");
        assert_eq!(
            spelled(ErrorCode::ServiceUnavailable),
            "service_unavailable"
        );
    }

    #[test]
    fn rejected_tokens_name_invalid_token_in_the_challenge() {
        let error = ApiError::from(DomainError::Unauthorized(AuthError::TokenExpired));
        assert_eq!(
            error.www_authenticate().as_deref(),
            Some(
                "Bearer realm=\"blog-api\", error=\"invalid_token\", error_description=\"Token has expired\""
            )
        );
        assert_eq!(
            ApiError::missing_token("x").www_authenticate().as_deref(),
            Some("Bearer realm=\"blog-api\"")
        );
        assert_eq!(ApiError::post_not_found().www_authenticate(), None);
    }

    #[test]
    fn internal_errors_never_show_their_cause() {
        let error = ApiError::from(DomainError::Internal("SELECT * FROM users failed".into()));
        assert_eq!(error.to_string(), "Internal server error");
        let response = error.error_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
