//! Request extractors: the authenticated caller, pagination, and JSON bodies
//! read after the other checks.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderMap};
use actix_web::mime;
use actix_web::{FromRequest, HttpRequest, web};
use blog_domain::{PageRequest, Principal};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// Longest bearer token looked at; ours are well under 1 KiB.
const MAX_TOKEN_BYTES: usize = 4096;

/// The caller, authenticated by the access token of the `Authorization:
/// Bearer` header: its signature, type, expiry, and a live session. Tokens
/// anywhere else (query string, body, cookie) are ignored.
#[derive(Debug)]
pub struct AuthenticatedUser(pub Principal);

impl FromRequest for AuthenticatedUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer_token(request.headers());
        let state = request.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let token = token?;
            let state = state.ok_or_else(|| ApiError::internal("AppState is not registered"))?;
            state
                .auth(move |auth| auth.authenticate(&token))
                .await
                .map(Self)
        })
    }
}

/// The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1).
fn bearer_token(headers: &HeaderMap) -> Result<String, ApiError> {
    let mut values = headers.get_all(header::AUTHORIZATION);
    let value = values
        .next()
        .ok_or_else(|| ApiError::missing_token("Missing Authorization header"))?;
    if values.next().is_some() {
        return Err(ApiError::malformed_token());
    }
    let value = value.to_str().map_err(|_| ApiError::malformed_token())?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    // The scheme is case-insensitive (RFC 9110 §11.1).
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::missing_token(
            "Authorization header must use the Bearer scheme",
        ));
    }
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_BYTES || !token.bytes().all(is_b64token_byte) {
        return Err(ApiError::malformed_token());
    }
    Ok(token.to_owned())
}

/// The characters of RFC 6750's `b64token`.
fn is_b64token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// `?page=&per_page=` as received; [`PageRequest`] checks the bounds.
#[derive(Debug, Deserialize)]
pub struct PageParams {
    page: Option<u32>,
    per_page: Option<u32>,
}

impl PageParams {
    /// The checked page request.
    ///
    /// # Errors
    /// 400 for a page below 1 or a page size outside 1 to 100.
    pub fn request(&self) -> Result<PageRequest, ApiError> {
        Ok(PageRequest::new(self.page, self.per_page)?)
    }
}

/// A JSON request body. Unlike `web::Json`, a body sent without any
/// `Content-Type` is still read as JSON (the seed's clients did not always
/// send one), while a body of another declared type is refused with 415.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type = check_content_type(request.headers());
        // Bounded by the app's `PayloadConfig`.
        let body = web::Bytes::from_request(request, payload);
        Box::pin(async move {
            content_type?;
            let body = body.await.map_err(ApiError::from_payload_error)?;
            Ok(Self(serde_json::from_slice(&body)?))
        })
    }
}

/// Parses a body already read, with the rules of [`Json`], for handlers
/// that judge the body only after other checks.
///
/// # Errors
/// 415 for a declared type other than JSON; 400 for a body that is not JSON
/// or not of the expected shape.
pub fn parse_json<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    check_content_type(headers)?;
    Ok(serde_json::from_slice(body)?)
}

/// `application/json` or any `+json` type, or no declared type at all.
fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let mime = content_type
        .to_str()
        .ok()
        .and_then(|value| value.parse::<mime::Mime>().ok());
    if mime.is_some_and(|mime| mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON)) {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type())
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;

    fn with_authorization(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn code(values: &[&str]) -> Option<crate::error::ErrorCode> {
        bearer_token(&with_authorization(values))
            .err()
            .map(|e| e.code())
    }

    fn content_type(value: Option<&str>) -> Result<(), crate::error::ErrorCode> {
        let mut headers = HeaderMap::new();
        if let Some(value) = value {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
        }
        check_content_type(&headers).map_err(|e| e.code())
    }

    #[test]
    fn json_or_no_declared_type_is_read_and_others_are_unsupported() {
        use crate::error::ErrorCode::UnsupportedMediaType;
        for ok in [
            None,
            Some("application/json"),
            Some("application/json; charset=utf-8"),
            Some("application/merge-patch+json"),
        ] {
            assert_eq!(content_type(ok), Ok(()), "{ok:?}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "json",
            "",
        ] {
            assert_eq!(
                content_type(Some(bad)),
                Err(UnsupportedMediaType),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_bearer_token_is_taken_from_the_header_whatever_the_scheme_case() {
        assert_eq!(
            bearer_token(&with_authorization(&["Bearer abc.def.ghi"])).unwrap(),
            "abc.def.ghi"
        );
        assert_eq!(
            bearer_token(&with_authorization(&["bearer abc.def.ghi"])).unwrap(),
            "abc.def.ghi"
        );
    }

    #[test]
    fn no_header_or_another_scheme_is_a_missing_token() {
        use crate::error::ErrorCode::MissingToken;
        assert_eq!(code(&[]), Some(MissingToken));
        assert_eq!(code(&["Basic dXNlcjpwYXNz"]), Some(MissingToken));
        assert_eq!(code(&["Token abc"]), Some(MissingToken));
    }

    #[test]
    fn an_empty_oversized_or_odd_token_is_invalid() {
        use crate::error::ErrorCode::InvalidToken;
        let huge = format!("Bearer {}", "a".repeat(20_000));
        for value in ["Bearer", "Bearer ", "Bearer a b", "Bearer ä", huge.as_str()] {
            assert_eq!(code(&[value]), Some(InvalidToken), "{value:?}");
        }
        assert_eq!(code(&["Bearer a", "Bearer b"]), Some(InvalidToken));
    }
}
