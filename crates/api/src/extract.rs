//! Request extractors: the authenticated caller, pagination, and JSON bodies
//! read after the other checks.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::error::QueryPayloadError;
use actix_web::http::header::{self, HeaderMap};
use actix_web::mime;
use actix_web::{FromRequest, HttpRequest, web};
use blog_domain::{Client, PageRequest, UserAgent, ValidationError, VerifiedAccess};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::watch;
use utoipa::IntoParams;

use crate::client::client_address;
use crate::error::ApiError;
use crate::state::AppState;

/// Longest bearer token looked at; ours are well under 1 KiB.
const MAX_TOKEN_BYTES: usize = 4096;

/// The caller, by the access token of the `Authorization: Bearer` header.
/// Tokens anywhere else (query string, body, cookie) are ignored.
///
/// The token itself (signature, type, expiry) is checked here, on the
/// async worker: a bad one costs no trip off it. Its session is checked
/// when the handler hands over its work ([`AppState::as_caller`],
/// [`AppState::read_as`]), before any check of the work's own.
pub struct AuthenticatedUser {
    access: VerifiedAccess,
    /// Where the user id goes, once the session is checked, for the
    /// request's access line.
    request: HttpRequest,
}

impl AuthenticatedUser {
    /// The verified token, and the request to record the caller in.
    pub(crate) fn into_parts(self) -> (VerifiedAccess, HttpRequest) {
        (self.access, self.request)
    }
}

impl FromRequest for AuthenticatedUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let Some(state) = request.app_data::<web::Data<AppState>>() else {
            return Box::pin(async { Err(ApiError::internal("AppState is not registered")) });
        };
        match bearer_token(request.headers()).and_then(|token| state.verify_access(&token)) {
            Ok(access) => {
                let caller = Self {
                    access,
                    request: request.clone(),
                };
                Box::pin(async { Ok(caller) })
            }
            Err(error) => {
                let unread = discard_small_body(request, payload);
                Box::pin(async move {
                    unread.await;
                    Err(error)
                })
            }
        }
    }
}

/// Largest body read and thrown away after a refusal; see [`discard_small_body`].
const MAX_DISCARDED_BODY_BYTES: u64 = 64 * 1024;

/// Reads the body of a request that is refused before its handler reads it
/// (a bad token), when it is small: a connection whose request body is left
/// unread is closed after the answer, and a client whose token expired
/// would have to connect again to refresh it. A larger body, or one of no
/// stated length, is left unread and its connection closed, as before.
fn discard_small_body(
    request: &HttpRequest,
    payload: &mut Payload,
) -> impl Future<Output = ()> + use<> {
    let small = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        .is_some_and(|length| length > 0 && length <= MAX_DISCARDED_BODY_BYTES);
    let body = small.then(|| read_body(request, payload));
    async move {
        if let Some(body) = body {
            // Within the body timeout; whatever it was, the answer stands.
            let _ = body.await;
        }
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

/// Who the client is: its address, as the trusted proxies decide it (what
/// rate limits count; `None` when the connection has no peer address, a
/// test socket), and its `User-Agent`. What security events record.
#[derive(Debug, Clone)]
pub struct ClientInfo(pub Client);

impl FromRequest for ClientInfo {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let user_agent = request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|value| UserAgent::new(&String::from_utf8_lossy(value.as_bytes())));
        std::future::ready(Ok(Self(Client {
            address: client_address(request),
            user_agent,
        })))
    }
}

/// The checked `page` and `per_page` of the query string, with its error
/// kept for the handler (as [`Deferred`] keeps one) rather than answered,
/// so that a bad query answers 400 only after the token had its 401.
pub struct Paging(pub Result<PageRequest, ApiError>);

impl FromRequest for Paging {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let paging = web::Query::<PageParams>::from_query(request.query_string())
            .map_err(invalid_query)
            .and_then(|params| params.request());
        std::future::ready(Ok(Self(paging)))
    }
}

/// The 400 of a query string that is not what the endpoint reads.
pub fn invalid_query(error: QueryPayloadError) -> ApiError {
    ApiError::bad_request(format!("Invalid query string: {error}"))
}

/// `?page=&per_page=` as received; [`page_request`] checks the bounds.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// From 1.
    #[param(minimum = 1, default = 1)]
    page: Option<i64>,
    /// 1 to 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    per_page: Option<i64>,
}

impl PageParams {
    /// The checked page request.
    ///
    /// # Errors
    /// As [`page_request`].
    pub fn request(&self) -> Result<PageRequest, ApiError> {
        page_request(self.page, self.per_page)
    }
}

/// The page request of a query's `page` and `per_page`, read as signed
/// numbers so that `0`, `-1` and `2^40` all fail the same rule.
///
/// # Errors
/// 400 `validation_failed` for a page below 1 or a page size outside 1 to 100.
pub fn page_request(page: Option<i64>, per_page: Option<i64>) -> Result<PageRequest, ApiError> {
    let page = page
        .map(|n| u32::try_from(n).map_err(|_| ValidationError::InvalidPage))
        .transpose()?;
    let per_page = per_page
        .map(|n| u32::try_from(n).map_err(|_| ValidationError::InvalidPerPage))
        .transpose()?;
    Ok(PageRequest::new(page, per_page)?)
}

/// How request bodies are read: within a time limit, and given up at shutdown.
#[derive(Debug, Clone)]
pub struct BodyReading {
    timeout: Duration,
    shutdown: watch::Receiver<bool>,
}

impl BodyReading {
    /// Bodies get `timeout`; when `shutdown` turns true, reads still under
    /// way stop with 503.
    pub fn new(timeout: Duration, shutdown: watch::Receiver<bool>) -> Self {
        Self { timeout, shutdown }
    }
}

/// Reads the whole body: bounded in size by the app's `PayloadConfig`, in
/// time by [`BodyReading`]. A trickling or short body answers 408 and a
/// shutdown 503, both closing the connection.
fn read_body(
    request: &HttpRequest,
    payload: &mut Payload,
) -> impl Future<Output = Result<web::Bytes, ApiError>> + use<> {
    let reading = request.app_data::<BodyReading>().cloned();
    let body = web::Bytes::from_request(request, payload);
    async move {
        let Some(BodyReading {
            timeout,
            mut shutdown,
        }) = reading
        else {
            return Err(ApiError::internal("BodyReading is not registered"));
        };
        tokio::select! {
            body = body => body.map_err(ApiError::from_payload_error),
            () = tokio::time::sleep(timeout) => Err(ApiError::body_timeout()),
            _ = shutdown.wait_for(|stopping| *stopping) => Err(ApiError::shutting_down()),
        }
    }
}

/// A JSON object request body. Unlike `web::Json`, a body sent without any
/// `Content-Type` is still read as JSON (the seed's clients did not always
/// send one), while a body of another declared type, or in any coding but
/// `identity`, is refused with 415. Only an object is accepted, and no
/// member may be `null` (an optional field is left out instead).
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let headers = check_body_headers(request.headers());
        let body = read_body(request, payload);
        Box::pin(async move {
            headers?;
            parse_object(&body.await?).map(Self)
        })
    }
}

/// An optional JSON body: none at all is `None`; one that is sent must be
/// readable by the rules of [`Json`].
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let headers = check_body_headers(request.headers());
        let body = read_body(request, payload);
        Box::pin(async move {
            let body = body.await?;
            if body.is_empty() {
                return Ok(Self(None));
            }
            headers?;
            parse_object(&body).map(|value| Self(Some(value)))
        })
    }
}

/// An extractor whose failure is handed to the handler instead of ending
/// the request. Extractors run concurrently and the first to fail answers,
/// so a body checked at once could answer 400 before the token's (slower)
/// check answers 401; deferred, the body is judged in the contract's order.
#[derive(Debug)]
pub struct Deferred<E: FromRequest>(pub Result<E, E::Error>);

impl<E: FromRequest + 'static> FromRequest for Deferred<E> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let inner = E::from_request(request, payload);
        Box::pin(async move { Ok(Self(inner.await)) })
    }
}

/// A JSON object, deserialized as `T`. Going through `Value` first keeps
/// serde from reading an array as a struct (it would, field by field), and
/// its messages from naming Rust types or positions.
fn parse_object<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::bad_request("Request body is not valid JSON"))?;
    let Value::Object(members) = value else {
        return Err(ApiError::bad_request("Request body must be a JSON object"));
    };
    // Unknown members are ignored, whatever their value; known ones may be
    // left out but never be `null` (serde would read it as "left out").
    let fields = field_names::<T>();
    if members
        .iter()
        .any(|(name, value)| value.is_null() && fields.contains(&name.as_str()))
    {
        return Err(ApiError::validation(
            "A field is null: leave an optional field out instead",
        ));
    }
    T::deserialize(Value::Object(members))
        .map_err(|error| ApiError::validation(shape_message(&error)))
}

/// The field names of a struct that derives `Deserialize`, asked of its own
/// `Deserialize` impl: it names them when it asks for a struct.
fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut names = FieldNames(&[]);
    let _ = T::deserialize(&mut names);
    names.0
}

/// A deserializer that only listens: it records the fields a struct asks
/// for, and fails every request.
struct FieldNames(&'static [&'static str]);

impl<'de> serde::Deserializer<'de> for &mut FieldNames {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("only struct fields are asked for"))
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = fields;
        Err(serde::de::Error::custom("fields recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
        identifier ignored_any
    }
}

/// serde's message for a field of the wrong type or a missing one, unless
/// it names a Rust type.
fn shape_message(error: &serde_json::Error) -> String {
    const RUST_WORDS: [&str; 14] = [
        "struct", "enum", "tuple", "u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "f32",
        "f64", "usize",
    ];
    let message = error.to_string();
    let names_a_type = message
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| RUST_WORDS.contains(&word));
    if names_a_type || message.len() > 200 {
        "A field has the wrong type".to_owned()
    } else {
        message
    }
}

/// `application/json` or any `+json` type, or no declared type at all; and
/// no content coding but `identity` (none is decoded here).
fn check_body_headers(headers: &HeaderMap) -> Result<(), ApiError> {
    let identity = headers
        .get_all(header::CONTENT_ENCODING)
        .all(|coding| coding.as_bytes().eq_ignore_ascii_case(b"identity"));
    if !identity {
        return Err(ApiError::unsupported_media_type(
            "Content-Encoding must be identity: compressed bodies are not accepted",
        ));
    }
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
        Err(ApiError::unsupported_media_type(
            "Content-Type must be application/json",
        ))
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
        check_body_headers(&headers).map_err(|e| e.code())
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
    fn any_content_coding_but_identity_is_unsupported() {
        use crate::error::ErrorCode::UnsupportedMediaType;
        let with_coding = |codings: &[&str]| {
            let mut headers = HeaderMap::new();
            for coding in codings {
                headers.append(
                    header::CONTENT_ENCODING,
                    HeaderValue::from_str(coding).unwrap(),
                );
            }
            check_body_headers(&headers).map_err(|e| e.code())
        };
        assert_eq!(with_coding(&[]), Ok(()));
        assert_eq!(with_coding(&["identity"]), Ok(()));
        assert_eq!(with_coding(&["IDENTITY"]), Ok(()));
        for bad in [
            &["gzip"][..],
            &["br"],
            &["identity", "gzip"],
            &["gzip, identity"],
        ] {
            assert_eq!(with_coding(bad), Err(UnsupportedMediaType), "{bad:?}");
        }
    }

    #[derive(Debug, Deserialize)]
    struct Sample {
        #[expect(dead_code, reason = "only its shape is tested")]
        name: String,
        #[expect(dead_code, reason = "only its shape is tested")]
        count: Option<u32>,
    }

    fn parsed(body: &str) -> Result<(), (crate::error::ErrorCode, String)> {
        parse_object::<Sample>(body.as_bytes())
            .map(drop)
            .map_err(|e| (e.code(), e.to_string()))
    }

    #[test]
    fn only_an_object_without_nulls_of_the_right_shape_is_read() {
        use crate::error::ErrorCode::{BadRequest, ValidationFailed};
        assert_eq!(parsed(r#"{"name": "a"}"#), Ok(()));
        assert_eq!(parsed(r#"{"name": "a", "count": 3, "extra": 1}"#), Ok(()));
        // An unknown member is ignored, even a null one (found by the fuzzer).
        assert_eq!(parsed(r#"{"name": "a", "extra": null, "": null}"#), Ok(()));
        assert_eq!(field_names::<Sample>(), ["name", "count"]);
        for not_an_object in [r#"["a", 3]"#, r#""a""#, "3", "null", "true"] {
            assert_eq!(
                parsed(not_an_object).map_err(|(code, _)| code),
                Err(BadRequest),
                "{not_an_object}"
            );
        }
        for bad_shape in [
            r#"{"name": null}"#,
            r#"{"name": "a", "count": null}"#,
            r#"{"name": 1}"#,
            r#"{"count": 1}"#,
            r#"{"name": "a", "count": "x"}"#,
            r#"{"name": "a", "count": -1}"#,
        ] {
            let (code, message) = parsed(bad_shape).unwrap_err();
            assert_eq!(code, ValidationFailed, "{bad_shape}");
            for rust in ["struct", "Sample", "u32", "line"] {
                assert!(!message.contains(rust), "{bad_shape}: {message}");
            }
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
