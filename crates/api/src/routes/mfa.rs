//! `/api/v1/users/me/mfa/totp`: two-factor login with TOTP.

use actix_web::{HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthenticatedUser, ClientInfo, Deferred, Json};
use crate::state::AppState;

/// A started enrolment: what an authenticator app needs, shown once.
#[derive(Serialize, ToSchema)]
pub struct EnrolmentBody {
    /// The TOTP secret in base32, to type into an app.
    #[schema(example = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")]
    secret: String,
    /// The same as an `otpauth://totp/...` URI, for a QR code.
    #[schema(
        example = "otpauth://totp/blog-api:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=blog-api"
    )]
    otpauth_uri: String,
}

/// A code of the authenticator app.
#[derive(Deserialize, ToSchema)]
pub struct CodeRequest {
    /// Six digits.
    #[schema(value_type = String, example = "123456")]
    code: SecretString,
}

/// Two-factor login is on: the recovery codes, shown once.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten codes, each good for one login instead of a TOTP code.
    #[schema(example = json!(["3f9a-0c1e-77d2-9b40-5e61"]))]
    recovery_codes: Vec<String>,
}

/// What turning two-factor login off sends.
#[derive(Deserialize, ToSchema)]
pub struct DisableRequest {
    /// The caller's password.
    #[schema(value_type = String, format = Password)]
    password: SecretString,
    /// A current TOTP code, or an unused recovery code.
    #[schema(value_type = String, example = "123456")]
    code: SecretString,
}

/// Start a TOTP enrolment: a new secret, not active until confirmed.
#[utoipa::path(
    post, path = "/api/v1/users/me/mfa/totp", operation_id = "start_totp", tag = "two-factor",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The new secret, shown once; a pending enrolment is replaced", body = EnrolmentBody,
            headers(("Cache-Control" = String, description = "no-store"))),
        (status = 401, description = "No valid access token", body = ErrorBody,
            headers(("WWW-Authenticate" = String))),
        (status = 409, description = "`conflict`: two-factor login is active already", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody,
            headers(("Retry-After" = u32))),
    )
)]
pub async fn start(
    user: AuthenticatedUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let enrolment = state
        .as_caller(user, |services, caller| services.users.start_totp(caller))
        .await?;
    Ok(HttpResponse::Ok().json(EnrolmentBody {
        secret: enrolment.secret.expose_secret().to_owned(),
        otpauth_uri: enrolment.otpauth_uri.expose_secret().to_owned(),
    }))
}

/// Confirm the pending enrolment with a first code: two-factor login is on.
#[utoipa::path(
    post, path = "/api/v1/users/me/mfa/totp/confirm", operation_id = "confirm_totp", tag = "two-factor",
    request_body = CodeRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "On; the recovery codes, shown once", body = RecoveryCodes,
            headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "`invalid_mfa_code`; or not a JSON object, a field missing or of the wrong type", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody,
            headers(("WWW-Authenticate" = String))),
        (status = 409, description = "`conflict`: no enrolment is pending", body = ErrorBody),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is over the limit", body = ErrorBody),
        (status = 415, description = "Not JSON, or a content coding", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody,
            headers(("Retry-After" = u32))),
    )
)]
pub async fn confirm(
    user: AuthenticatedUser,
    state: web::Data<AppState>,
    client: ClientInfo,
    body: Deferred<Json<CodeRequest>>,
) -> Result<HttpResponse, ApiError> {
    let codes = state
        .as_caller(user, move |services, caller| {
            let Json(CodeRequest { code }) = body.0?;
            services
                .users
                .confirm_totp(caller, code.expose_secret(), &client.0)
                .map_err(ApiError::from)
        })
        .await?;
    Ok(HttpResponse::Ok().json(RecoveryCodes {
        recovery_codes: codes
            .iter()
            .map(|code| code.expose_secret().to_owned())
            .collect(),
    }))
}

/// Turn two-factor login off, with the password and a code.
#[utoipa::path(
    delete, path = "/api/v1/users/me/mfa/totp", operation_id = "disable_totp", tag = "two-factor",
    request_body = DisableRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Off"),
        (status = 400, description = "Not a JSON object, or a field missing or of the wrong type", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody,
            headers(("WWW-Authenticate" = String))),
        (status = 403, description = "`invalid_credentials` (wrong password) or `invalid_mfa_code`", body = ErrorBody),
        (status = 404, description = "`not_found`: two-factor login is not active", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many password attempts", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds until a retry can succeed"))),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is over the limit", body = ErrorBody),
        (status = 415, description = "Not JSON, or a content coding", body = ErrorBody),
        (status = 503, description = "The database or the password hasher is unavailable", body = ErrorBody,
            headers(("Retry-After" = u32))),
    )
)]
pub async fn disable(
    user: AuthenticatedUser,
    state: web::Data<AppState>,
    client: ClientInfo,
    body: Deferred<Json<DisableRequest>>,
) -> Result<HttpResponse, ApiError> {
    state
        .as_caller(user, move |services, caller| {
            let Json(DisableRequest { password, code }) = body.0?;
            services
                .users
                .disable_totp(caller, &password, code.expose_secret(), &client.0)
                .map_err(ApiError::from)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
