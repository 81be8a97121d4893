//! JWTs with jsonwebtoken, checked as RFC 8725 asks: the algorithm pinned
//! per key (found by the token's `kid`, never chosen by its `alg`), every
//! claim required and of the right type, issuer and audience checked.

use std::collections::HashMap;
use std::fmt;

use blog_domain::ports::{TokenCodec, TokenError};
use blog_domain::{Claims, SessionId, TokenId, TokenKind, UserId};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::keys::{KeySet, KeySetError};

/// Which keys sign and verify tokens.
pub enum JwtKeys {
    /// HS256: `current` signs; it and every `previous` secret verify, so
    /// that a secret rotates without logging anyone out. One service only:
    /// whoever can verify can sign.
    Hmac {
        /// The secret that signs.
        current: SecretString,
        /// Secrets that still verify.
        previous: Vec<SecretString>,
    },
    /// Asymmetric keys: the signer of the set signs, every key verifies,
    /// and the public keys are published (JWKS) for other services.
    KeySet(KeySet),
}

/// What [`JwtCodec`] is built from.
pub struct JwtOptions {
    /// The keys.
    pub keys: JwtKeys,
    /// The `iss` written into every token and required on every token read.
    pub issuer: String,
    /// The `aud` written into every token and required on every token read.
    pub audience: String,
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
    aud: String,
    iat: i64,
    nbf: i64,
    exp: i64,
}

/// A key that verifies, with its pinned algorithm's validation.
struct VerifyingKey {
    key: DecodingKey,
    validation: Validation,
}

/// [`TokenCodec`] on a key set or HMAC secrets.
pub struct JwtCodec {
    header: Header,
    signing: EncodingKey,
    verifying: HashMap<String, VerifyingKey>,
    jwks: JwkSet,
    issuer: String,
    audience: String,
    leeway: i64,
}

impl fmt::Debug for JwtCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtCodec")
            .field("kid", &self.header.kid)
            .field("verifying", &self.verifying.keys().collect::<Vec<_>>())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// The kid of an HMAC secret: a digest prefix, so that instances agree on
/// it without configuring one, and a token names the secret to check.
pub fn hmac_kid(secret: &SecretString) -> String {
    let digest = Sha256::digest(secret.expose_secret().as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("hs256-{hex}")
}

impl JwtCodec {
    /// Builds the codec; secrets and keys are copied into it.
    ///
    /// # Errors
    /// [`KeySetError::NoSigningKey`] when the set's signer is not in it.
    pub fn new(options: JwtOptions) -> Result<Self, KeySetError> {
        let validation = |algorithm| {
            // Only the key's algorithm is accepted: a token naming `none`,
            // another HMAC or another family is refused before its
            // signature is looked at.
            let mut validation = Validation::new(algorithm);
            // The time claims are judged in `decode` against the caller's
            // clock, not the system's: one clock for tokens and sessions.
            validation.validate_exp = false;
            validation.validate_nbf = false;
            validation.set_issuer(&[&options.issuer]);
            validation.set_audience(&[&options.audience]);
            validation.set_required_spec_claims(&["exp", "nbf", "sub", "iss", "aud"]);
            validation
        };
        let (kid, signing, verifying, jwks) = match options.keys {
            JwtKeys::Hmac { current, previous } => {
                let verifying = std::iter::once(&current)
                    .chain(&previous)
                    .map(|secret| {
                        let key = DecodingKey::from_secret(secret.expose_secret().as_bytes());
                        let validation = validation(Algorithm::HS256);
                        (hmac_kid(secret), VerifyingKey { key, validation })
                    })
                    .collect();
                let signing = EncodingKey::from_secret(current.expose_secret().as_bytes());
                // Nothing public to publish: a secret verifies and signs.
                let jwks = JwkSet { keys: Vec::new() };
                (
                    hmac_kid(&current),
                    (Algorithm::HS256, signing),
                    verifying,
                    jwks,
                )
            }
            JwtKeys::KeySet(set) => {
                let mut signing = None;
                let mut verifying = HashMap::new();
                let mut jwks = JwkSet { keys: Vec::new() };
                for stored in set.keys {
                    let algorithm = stored.algorithm.algorithm();
                    let verifier = VerifyingKey {
                        key: stored.decoding,
                        validation: validation(algorithm),
                    };
                    verifying.insert(stored.kid.clone(), verifier);
                    jwks.keys.push(stored.jwk);
                    if stored.kid == set.signing {
                        signing = Some((algorithm, stored.encoding));
                    }
                }
                let signing =
                    signing.ok_or_else(|| KeySetError::NoSigningKey(set.signing.clone()))?;
                (set.signing, signing, verifying, jwks)
            }
        };
        let (algorithm, signing) = signing;
        let mut header = Header::new(algorithm);
        header.kid = Some(kid);
        Ok(Self {
            header,
            signing,
            verifying,
            jwks,
            issuer: options.issuer,
            audience: options.audience,
            leeway: i64::try_from(options.leeway_secs).unwrap_or(i64::MAX),
        })
    }

    /// The public keys that verify this codec's tokens, the retiring ones
    /// included, as a JWK set (RFC 7517); empty with HMAC secrets.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
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
            aud: self.audience.clone(),
            iat: issued_at,
            nbf: issued_at,
            exp: claims.expires_at.unix_timestamp(),
        };
        jsonwebtoken::encode(&self.header, &jwt, &self.signing)
            .map_err(|error| TokenError::Internal(Box::new(error)))
    }

    fn decode(&self, token: &str, now: OffsetDateTime) -> Result<Claims, TokenError> {
        // The kid picks the key, and the key its algorithm; a token without
        // a kid, or with one no key has, names nothing to check.
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let key = header
            .kid
            .and_then(|kid| self.verifying.get(&kid))
            .ok_or(TokenError::Invalid)?;
        // The signature is checked here, before any claim is believed.
        let jwt = jsonwebtoken::decode::<JwtClaims>(token, &key.key, &key.validation)
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
    use crate::keys::{KeyAlgorithm, generate_key};

    const SECRET: &str = "test-secret-that-is-at-least-32-bytes-long";
    const OTHER: &str = "another-secret-that-is-32-bytes-long!!";

    fn options(keys: JwtKeys) -> JwtOptions {
        JwtOptions {
            keys,
            issuer: "blog-api".into(),
            audience: "blog-api".into(),
            leeway_secs: 0,
        }
    }

    fn hmac(current: &str, previous: &[&str]) -> JwtCodec {
        JwtCodec::new(options(JwtKeys::Hmac {
            current: SecretString::from(current),
            previous: previous.iter().map(|s| SecretString::from(*s)).collect(),
        }))
        .unwrap()
    }

    fn codec() -> JwtCodec {
        hmac(SECRET, &[])
    }

    fn now() -> i64 {
        OffsetDateTime::now_utc().unix_timestamp()
    }

    fn valid_claims() -> serde_json::Value {
        json!({
            "sub": "7", "sid": "ab".repeat(16), "jti": "cd".repeat(16), "type": "access",
            "iss": "blog-api", "aud": "blog-api", "iat": now(), "nbf": now(), "exp": now() + 600,
        })
    }

    /// Signs with `secret` under its own kid, as a codec of it would.
    fn sign(claims: &serde_json::Value, secret: &str) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(hmac_kid(&SecretString::from(secret)));
        jsonwebtoken::encode(
            &header,
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

    #[track_caller]
    fn assert_invalid_by(codec: &JwtCodec, token: &str) {
        assert!(
            matches!(
                codec.decode(token, OffsetDateTime::now_utc()),
                Err(TokenError::Invalid)
            ),
            "{token}"
        );
    }

    #[track_caller]
    fn assert_invalid(token: &str) {
        assert_invalid_by(&codec(), token);
    }

    #[test]
    fn encoded_claims_decode_back_with_the_kid_iss_and_aud() {
        let token = codec().encode(&claims()).unwrap();
        assert_eq!(
            codec().decode(&token, OffsetDateTime::now_utc()).unwrap(),
            claims()
        );
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid, Some(hmac_kid(&SecretString::from(SECRET))));
        // Read as any verifier would: the claims are there, with our values.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["iss", "aud"]);
        validation.set_issuer(&["blog-api"]);
        validation.set_audience(&["blog-api"]);
        let key = DecodingKey::from_secret(SECRET.as_bytes());
        let payload = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation)
            .unwrap()
            .claims;
        assert_eq!(
            (payload["iss"].as_str(), payload["aud"].as_str()),
            (Some("blog-api"), Some("blog-api"))
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
    fn a_previous_secret_verifies_while_the_new_one_signs() {
        let old_token = hmac(OTHER, &[]).encode(&claims()).unwrap();
        let rotated = hmac(SECRET, &[OTHER]);
        assert!(
            rotated
                .decode(&old_token, OffsetDateTime::now_utc())
                .is_ok()
        );
        let new_token = rotated.encode(&claims()).unwrap();
        assert!(
            codec()
                .decode(&new_token, OffsetDateTime::now_utc())
                .is_ok()
        );
        assert_invalid_by(&hmac(SECRET, &[]), &old_token);
    }

    #[test]
    fn a_token_without_a_kid_or_with_an_unknown_one_is_invalid() {
        let no_kid = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &valid_claims(),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert_invalid(&no_kid);
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("hs256-0000000000000000".into());
        let unknown = jsonwebtoken::encode(
            &header,
            &valid_claims(),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert_invalid(&unknown);
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
        let forged = sign(&expired, OTHER);
        // Under the kid of the codec's secret, so the signature is what fails.
        let mut header = jsonwebtoken::decode_header(&forged).unwrap();
        header.kid = Some(hmac_kid(&SecretString::from(SECRET)));
        let forged = jsonwebtoken::encode(
            &header,
            &expired,
            &EncodingKey::from_secret(OTHER.as_bytes()),
        )
        .unwrap();
        assert_invalid(&forged);
    }

    #[test]
    fn a_token_signed_with_another_key_is_invalid() {
        assert_invalid(&sign(&valid_claims(), OTHER));
    }

    #[test]
    fn a_token_not_yet_valid_is_invalid() {
        let mut early = valid_claims();
        early["nbf"] = json!(now() + 600);
        assert_invalid(&sign(&early, SECRET));
    }

    #[test]
    fn every_claim_is_required() {
        for claim in [
            "sub", "sid", "jti", "type", "iss", "aud", "iat", "nbf", "exp",
        ] {
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
            ("aud", json!("another-service")),
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
        let mut header = Header::new(Algorithm::HS512);
        header.kid = Some(hmac_kid(&SecretString::from(SECRET)));
        let hs512 = jsonwebtoken::encode(
            &header,
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

    fn key_set_codec(dir: &std::path::Path, signing: &str) -> JwtCodec {
        JwtCodec::new(options(JwtKeys::KeySet(
            KeySet::load(dir, signing).unwrap(),
        )))
        .unwrap()
    }

    #[test]
    fn asymmetric_keys_sign_with_their_kid_and_verify_during_a_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let old = generate_key(dir.path(), KeyAlgorithm::EdDsa).unwrap();
        let before = key_set_codec(dir.path(), &old);
        let old_token = before.encode(&claims()).unwrap();
        let header = jsonwebtoken::decode_header(&old_token).unwrap();
        assert_eq!(
            (header.alg, header.kid.as_deref()),
            (Algorithm::EdDSA, Some(old.as_str()))
        );

        let new = generate_key(dir.path(), KeyAlgorithm::Es256).unwrap();
        let added = key_set_codec(dir.path(), &old);
        let during = key_set_codec(dir.path(), &new);
        let new_token = during.encode(&claims()).unwrap();
        for codec in [&added, &during] {
            for token in [&old_token, &new_token] {
                assert!(codec.decode(token, OffsetDateTime::now_utc()).is_ok());
            }
        }
        assert_eq!(
            during.jwks().keys.len(),
            2,
            "the retiring key is published too"
        );

        std::fs::remove_file(dir.path().join(format!("{old}.EdDSA.pem"))).unwrap();
        let after = key_set_codec(dir.path(), &new);
        assert_invalid_by(&after, &old_token);
        assert!(after.decode(&new_token, OffsetDateTime::now_utc()).is_ok());
        assert_eq!(after.jwks().keys.len(), 1);
    }

    #[test]
    fn a_key_sets_tokens_refuse_another_alg_and_hmac_with_the_public_key() {
        let dir = tempfile::tempdir().unwrap();
        let kid = generate_key(dir.path(), KeyAlgorithm::Rs256).unwrap();
        let codec = key_set_codec(dir.path(), &kid);
        // The public key, as a verifier would hold it, used as an HMAC secret.
        let public = serde_json::to_vec(&codec.jwks().keys[0]).unwrap();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.clone());
        let confused =
            jsonwebtoken::encode(&header, &valid_claims(), &EncodingKey::from_secret(&public))
                .unwrap();
        assert_invalid_by(&codec, &confused);
        let stranger = tempfile::tempdir().unwrap();
        let other = generate_key(stranger.path(), KeyAlgorithm::Rs256).unwrap();
        let foreign = key_set_codec(stranger.path(), &other)
            .encode(&claims())
            .unwrap();
        assert_invalid_by(&codec, &foreign);
        assert!(
            hmac(SECRET, &[]).jwks().keys.is_empty(),
            "no secret is ever published"
        );
    }
}
