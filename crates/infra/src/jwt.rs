//! HS256 JWTs with jsonwebtoken, checked as RFC 8725 asks: one pinned
//! algorithm, every claim required and of the right type, issuer checked.

use std::fmt;

use blog_domain::ports::{TokenCodec, TokenError};
use blog_domain::{Claims, SessionId, TokenId, TokenKind, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What [`JwtCodec`] is built from.
pub struct JwtOptions {
    /// The HMAC secret; at least 32 bytes in production.
    pub secret: SecretString,
    /// The `iss` written into every token and required on every token read.
    pub issuer: String,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
}

/// The JWT form of the domain's [`Claims`]. Every field is required: serde
/// refuses a token that lacks one, or has one of the wrong JSON type.
#[derive(Serialize, Deserialize)]
struct JwtClaims {
    sub: String,
    sid: String,
    jti: String,
    #[serde(rename = "type")]
    kind: String,
    iss: String,
    iat: i64,
    nbf: i64,
    exp: i64,
}

/// [`TokenCodec`] for HS256.
pub struct JwtCodec {
    header: Header,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    leeway: i64,
}

impl fmt::Debug for JwtCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtCodec")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl JwtCodec {
    /// Builds the codec; the secret is copied into the keys.
    pub fn hs256(options: &JwtOptions) -> Self {
        let secret = options.secret.expose_secret().as_bytes();
        // Only HS256 is accepted: a token naming `none`, another HMAC or an
        // asymmetric algorithm is refused before its signature is looked at.
        let mut validation = Validation::new(Algorithm::HS256);
        // The time claims are judged in `decode` against the caller's clock,
        // not the system's: one clock for tokens and sessions.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.set_issuer(&[&options.issuer]);
        validation.set_required_spec_claims(&["exp", "nbf", "sub", "iss"]);
        Self {
            header: Header::new(Algorithm::HS256),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: options.issuer.clone(),
            leeway: i64::try_from(options.leeway_secs).unwrap_or(i64::MAX),
        }
    }
}

impl TokenCodec for JwtCodec {
    fn encode(&self, claims: &Claims) -> Result<String, TokenError> {
        let issued_at = claims.issued_at.unix_timestamp();
        let jwt = JwtClaims {
            sub: claims.user_id.to_string(),
            sid: claims.session_id.as_str().to_owned(),
            jti: claims.token_id.as_str().to_owned(),
            kind: claims.kind.as_str().to_owned(),
            iss: self.issuer.clone(),
            iat: issued_at,
            nbf: issued_at,
            exp: claims.expires_at.unix_timestamp(),
        };
        jsonwebtoken::encode(&self.header, &jwt, &self.encoding)
            .map_err(|error| TokenError::Internal(Box::new(error)))
    }

    fn decode(&self, token: &str, now: OffsetDateTime) -> Result<Claims, TokenError> {
        // The signature is checked here, before any claim is believed.
        let jwt = jsonwebtoken::decode::<JwtClaims>(token, &self.decoding, &self.validation)
            .map_err(|_| TokenError::Invalid)?
            .claims;
        let now = now.unix_timestamp();
        if jwt.nbf.saturating_sub(self.leeway) > now {
            return Err(TokenError::Invalid);
        }
        if jwt.exp.saturating_add(self.leeway) < now {
            return Err(TokenError::Expired);
        }
        let kind = TokenKind::from_claim(&jwt.kind).ok_or(TokenError::Invalid)?;
        let time =
            |seconds| OffsetDateTime::from_unix_timestamp(seconds).map_err(|_| TokenError::Invalid);
        Ok(Claims {
            user_id: jwt
                .sub
                .parse()
                .ok()
                .and_then(|id| UserId::new(id).ok())
                .ok_or(TokenError::Invalid)?,
            session_id: SessionId::parse(jwt.sid).map_err(|_| TokenError::Invalid)?,
            token_id: TokenId::parse(jwt.jti).map_err(|_| TokenError::Invalid)?,
            kind,
            issued_at: time(jwt.iat)?,
            expires_at: time(jwt.exp)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use serde_json::json;
    use time::Duration;

    use super::*;

    const SECRET: &str = "test-secret-that-is-at-least-32-bytes-long";

    fn codec() -> JwtCodec {
        JwtCodec::hs256(&JwtOptions {
            secret: SecretString::from(SECRET),
            issuer: "blog-api".into(),
            leeway_secs: 0,
        })
    }

    fn now() -> i64 {
        OffsetDateTime::now_utc().unix_timestamp()
    }

    fn valid_claims() -> serde_json::Value {
        json!({
            "sub": "7", "sid": "ab".repeat(16), "jti": "cd".repeat(16), "type": "access",
            "iss": "blog-api", "iat": now(), "nbf": now(), "exp": now() + 600,
        })
    }

    fn sign(claims: &serde_json::Value, secret: &str) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn claims() -> Claims {
        let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
        Claims {
            user_id: UserId::new(7).unwrap(),
            session_id: SessionId::from_bytes([1; 16]),
            token_id: TokenId::from_bytes([2; 16]),
            kind: TokenKind::Refresh,
            issued_at: now,
            expires_at: now + Duration::minutes(5),
        }
    }

    fn assert_invalid(token: &str) {
        assert!(
            matches!(
                codec().decode(token, OffsetDateTime::now_utc()),
                Err(TokenError::Invalid)
            ),
            "{token}"
        );
    }

    #[test]
    fn encoded_claims_decode_back() {
        let token = codec().encode(&claims()).unwrap();
        assert_eq!(
            codec().decode(&token, OffsetDateTime::now_utc()).unwrap(),
            claims()
        );
    }

    #[test]
    fn a_token_with_every_claim_right_decodes() {
        assert!(
            codec()
                .decode(&sign(&valid_claims(), SECRET), OffsetDateTime::now_utc())
                .is_ok()
        );
    }

    #[test]
    fn an_expired_token_is_expired() {
        let mut expired = valid_claims();
        expired["exp"] = json!(now() - 10);
        assert!(matches!(
            codec().decode(&sign(&expired, SECRET), OffsetDateTime::now_utc()),
            Err(TokenError::Expired)
        ));
    }

    #[test]
    fn time_claims_are_judged_by_the_clock_passed_in() {
        let token = sign(&valid_claims(), SECRET);
        let now = OffsetDateTime::now_utc();
        assert!(codec().decode(&token, now).is_ok());
        assert!(matches!(
            codec().decode(&token, now + Duration::hours(1)),
            Err(TokenError::Expired)
        ));
        assert!(matches!(
            codec().decode(&token, now - Duration::hours(1)),
            Err(TokenError::Invalid)
        ));
    }

    #[test]
    fn an_expired_token_with_a_bad_signature_is_invalid_not_expired() {
        let mut expired = valid_claims();
        expired["exp"] = json!(now() - 10);
        assert_invalid(&sign(&expired, "another-secret-that-is-32-bytes-long!!"));
    }

    #[test]
    fn a_token_signed_with_another_key_is_invalid() {
        assert_invalid(&sign(
            &valid_claims(),
            "another-secret-that-is-32-bytes-long!!",
        ));
    }

    #[test]
    fn a_token_not_yet_valid_is_invalid() {
        let mut early = valid_claims();
        early["nbf"] = json!(now() + 600);
        assert_invalid(&sign(&early, SECRET));
    }

    #[test]
    fn every_claim_is_required() {
        for claim in ["sub", "sid", "jti", "type", "iss", "iat", "nbf", "exp"] {
            let mut partial = valid_claims();
            partial.as_object_mut().unwrap().remove(claim);
            assert_invalid(&sign(&partial, SECRET));
        }
    }

    #[test]
    fn time_claims_of_the_wrong_json_type_are_refused() {
        for claim in ["exp", "iat", "nbf"] {
            let mut stringly = valid_claims();
            stringly[claim] = json!(stringly[claim].to_string());
            assert_invalid(&sign(&stringly, SECRET));
        }
    }

    #[test]
    fn claims_outside_the_domain_rules_are_refused() {
        for (claim, value) in [
            ("sub", json!("0")),
            ("sub", json!("alice")),
            ("sub", json!(7)),
            ("sid", json!("short")),
            ("jti", json!("' OR 1=1 --")),
            ("type", json!("admin")),
            ("iss", json!("someone-else")),
        ] {
            let mut odd = valid_claims();
            odd[claim] = value;
            assert_invalid(&sign(&odd, SECRET));
        }
    }

    #[test]
    fn alg_none_and_other_algorithms_are_refused() {
        let token = sign(&valid_claims(), SECRET);
        let payload = token.split('.').nth(1).unwrap();
        // {"alg":"none","typ":"JWT"} and {"alg":"HS512","typ":"JWT"}
        assert_invalid(&format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}."));
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &valid_claims(),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert_invalid(&hs512);
    }

    #[test]
    fn garbage_is_invalid() {
        for token in ["", "garbage", "a.b.c", "...", &"x".repeat(20_000)] {
            assert_invalid(token);
        }
    }
}
