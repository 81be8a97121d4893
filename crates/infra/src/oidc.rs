//! The OpenID Connect relying party: [`OpenIdConnect`], the
//! [`IdentityProviders`] port on the `openidconnect` crate.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use blog_domain::ports::{IdentityProviderError, IdentityProviders};
use blog_domain::secrecy::{ExposeSecret, SecretString};
use blog_domain::{
    Authorization, ExternalIdentity, ExternalProfile, PendingLogin, ProviderName, Subject,
    VerifiedIdentity,
};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse, ureq,
};
use tracing::warn;

/// One provider, as configured.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// The name in the API's paths.
    pub name: ProviderName,
    /// The issuer URL, where discovery starts (`/.well-known/openid-configuration`).
    pub issuer: String,
    /// This service's client id at the provider.
    pub client_id: String,
    /// This service's client secret at the provider.
    pub client_secret: SecretString,
    /// The callback URL registered at the provider: this service's
    /// `/api/v1/oidc/{name}/callback`.
    pub redirect_uri: String,
    /// The scopes asked for besides `openid`.
    pub scopes: Vec<String>,
}

/// A provider's configuration was refused at start.
#[derive(Debug, thiserror::Error)]
pub enum OidcConfigError {
    /// Two providers have one name.
    #[error("identity provider {0} is configured twice")]
    Duplicate(String),
    /// A URL does not parse, or is plain HTTP to another host than this one.
    #[error("identity provider {provider}: {field} must be an https URL (http only to localhost)")]
    Url {
        /// The provider.
        provider: String,
        /// The key.
        field: &'static str,
    },
}

/// How the relying party talks to providers.
#[derive(Debug, Clone, Copy)]
pub struct OidcOptions {
    /// The longest any call to a provider may take, connecting included.
    pub timeout: Duration,
    /// How long a discovery document and its JWKS are used before they
    /// are fetched again (providers publish new keys before signing with
    /// them).
    pub metadata_ttl: Duration,
}

struct Provider {
    config: ProviderConfig,
    issuer: IssuerUrl,
    redirect_uri: RedirectUrl,
    metadata: Mutex<Option<(Instant, CoreProviderMetadata)>>,
}

/// [`IdentityProviders`] over HTTP: the authorization code flow with PKCE
/// (S256), `state` and `nonce`; the ID token verified by `openidconnect`
/// against the provider's discovered JWKS, issuer, client id, expiry, the
/// nonce, and the signing algorithms the provider publishes. Redirects are
/// not followed, and every call has the configured timeout.
pub struct OpenIdConnect {
    providers: Vec<Provider>,
    http: HttpClient,
    metadata_ttl: Duration,
}

/// The largest answer read from a provider (a discovery document, a JWKS,
/// a token response are a few kilobytes).
const MAX_RESPONSE_BYTES: u64 = 1024 * 1024;

/// ureq, as the relying party's HTTP client. Not the crate's own impl for
/// `ureq::Agent`: ureq 2 turns every 4xx and 5xx into an error, and the
/// token endpoint's 400 (`invalid_grant`: a refused code) would read as an
/// unreachable provider. Bodies are read up to [`MAX_RESPONSE_BYTES`].
struct HttpClient(ureq::Agent);

/// Why a call to a provider got no answer.
#[derive(Debug, thiserror::Error)]
enum HttpError {
    #[error(transparent)]
    Transport(#[from] Box<ureq::Transport>),
    #[error("reading the answer: {0}")]
    Read(#[from] std::io::Error),
    #[error(transparent)]
    Http(#[from] openidconnect::http::Error),
    #[error("the request has a header that is not text")]
    Header,
}

impl openidconnect::SyncHttpClient for HttpClient {
    type Error = HttpError;

    fn call(
        &self,
        request: openidconnect::HttpRequest,
    ) -> Result<openidconnect::HttpResponse, HttpError> {
        use std::io::Read;
        let mut call = self
            .0
            .request(request.method().as_str(), &request.uri().to_string());
        for (name, value) in request.headers() {
            call = call.set(
                name.as_str(),
                value.to_str().map_err(|_| HttpError::Header)?,
            );
        }
        let sent = if request.method() == openidconnect::http::Method::GET {
            call.call()
        } else {
            call.send_bytes(request.body())
        };
        let answer = match sent {
            Ok(answer) | Err(ureq::Error::Status(_, answer)) => answer,
            Err(ureq::Error::Transport(transport)) => return Err(Box::new(transport).into()),
        };
        let mut builder = openidconnect::http::Response::builder().status(answer.status());
        if let Some(content_type) = answer.header("content-type") {
            builder = builder.header("content-type", content_type);
        }
        let mut body = Vec::new();
        answer
            .into_reader()
            .take(MAX_RESPONSE_BYTES)
            .read_to_end(&mut body)?;
        Ok(builder.body(body)?)
    }
}

impl std::fmt::Debug for OpenIdConnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenIdConnect")
            .field("providers", &self.names())
            .finish_non_exhaustive()
    }
}

/// Whether `url` may be used: https, or http to this machine (tests, and a
/// provider beside the service).
fn secure_url(url: &openidconnect::url::Url) -> bool {
    url.scheme() == "https"
        || (url.scheme() == "http"
            && matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")))
}

impl OpenIdConnect {
    /// The relying party of `providers`.
    ///
    /// # Errors
    /// [`OidcConfigError`] for a name used twice, or an issuer or redirect
    /// URI that is not an https URL (http is allowed to localhost only).
    pub fn new(
        providers: Vec<ProviderConfig>,
        options: OidcOptions,
    ) -> Result<Self, OidcConfigError> {
        let mut checked: Vec<Provider> = Vec::with_capacity(providers.len());
        for config in providers {
            if checked.iter().any(|p| p.config.name == config.name) {
                return Err(OidcConfigError::Duplicate(config.name.to_string()));
            }
            let bad = |field| OidcConfigError::Url {
                provider: config.name.to_string(),
                field,
            };
            let issuer = IssuerUrl::new(config.issuer.clone())
                .ok()
                .filter(|url| secure_url(url.url()))
                .ok_or_else(|| bad("issuer"))?;
            let redirect_uri = RedirectUrl::new(config.redirect_uri.clone())
                .ok()
                .filter(|url| secure_url(url.url()))
                .ok_or_else(|| bad("redirect_uri"))?;
            checked.push(Provider {
                config,
                issuer,
                redirect_uri,
                metadata: Mutex::new(None),
            });
        }
        let http = HttpClient(
            ureq::AgentBuilder::new()
                .timeout(options.timeout)
                // A provider's redirect is never followed (SSRF).
                .redirects(0)
                .build(),
        );
        Ok(Self {
            providers: checked,
            http,
            metadata_ttl: options.metadata_ttl,
        })
    }

    fn provider(&self, name: &ProviderName) -> Result<&Provider, IdentityProviderError> {
        self.providers
            .iter()
            .find(|provider| &provider.config.name == name)
            .ok_or(IdentityProviderError::UnknownProvider)
    }

    /// The provider's discovery document with its JWKS, fetched again once
    /// older than the TTL. Fetched without the lock held: two concurrent
    /// fetches are harmless, a lock held across the network is not.
    fn metadata(&self, provider: &Provider) -> Result<CoreProviderMetadata, IdentityProviderError> {
        let cached = provider
            .metadata
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|(fetched, _)| fetched.elapsed() < self.metadata_ttl)
            .map(|(_, metadata)| metadata.clone());
        if let Some(metadata) = cached {
            return Ok(metadata);
        }
        // The crate checks that the document's issuer is the one configured.
        let metadata = CoreProviderMetadata::discover(&provider.issuer, &self.http).map_err(
            |error| {
                warn!(provider = %provider.config.name, error = %error, "OpenID Connect discovery failed");
                IdentityProviderError::Unavailable(Box::new(error))
            },
        )?;
        *provider
            .metadata
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    fn client(&self, provider: &Provider) -> Result<ProviderClient, IdentityProviderError> {
        let metadata = self.metadata(provider)?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.config.client_id.clone()),
            Some(ClientSecret::new(
                provider.config.client_secret.expose_secret().to_owned(),
            )),
        )
        .set_redirect_uri(provider.redirect_uri.clone()))
    }
}

/// A client from discovery: authorization endpoint set, token endpoint
/// perhaps.
type ProviderClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

impl IdentityProviders for OpenIdConnect {
    fn names(&self) -> Vec<ProviderName> {
        self.providers
            .iter()
            .map(|provider| provider.config.name.clone())
            .collect()
    }

    fn authorization(&self, name: &ProviderName) -> Result<Authorization, IdentityProviderError> {
        let provider = self.provider(name)?;
        let client = self.client(provider)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scopes(provider.config.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .url();
        Ok(Authorization {
            url: url.into(),
            state: SecretString::from(state.into_secret()),
            nonce: SecretString::from(nonce.secret().clone()),
            pkce_verifier: SecretString::from(verifier.into_secret()),
        })
    }

    fn identify(
        &self,
        code: &str,
        login: &PendingLogin,
    ) -> Result<VerifiedIdentity, IdentityProviderError> {
        let provider = self.provider(&login.provider)?;
        let client = self.client(provider)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|error| IdentityProviderError::Unavailable(Box::new(error)))?
            .set_pkce_verifier(PkceCodeVerifier::new(
                login.pkce_verifier.expose_secret().to_owned(),
            ))
            .request(&self.http)
            .map_err(|error| match error {
                RequestTokenError::ServerResponse(refusal) => {
                    IdentityProviderError::CodeRefused(refusal.to_string().into())
                }
                // Unreachable, timed out, or answering what is no token
                // response (an error page): the provider is not serving.
                other => {
                    warn!(provider = %login.provider, error = %other, "OpenID Connect token request failed");
                    IdentityProviderError::Unavailable(Box::new(other))
                }
            })?;
        let invalid = |reason: String| IdentityProviderError::InvalidIdToken(reason.into());
        let id_token = response
            .id_token()
            .ok_or_else(|| invalid("the token response has no ID token".into()))?;
        let nonce = Nonce::new(login.nonce.expose_secret().to_owned());
        let claims = id_token
            .claims(&client.id_token_verifier(), &nonce)
            .map_err(|error| invalid(error.to_string()))?;
        let subject = Subject::parse(claims.subject().as_str())
            .map_err(|error| invalid(error.to_string()))?;
        Ok(VerifiedIdentity {
            identity: ExternalIdentity {
                provider: login.provider.clone(),
                subject,
            },
            profile: ExternalProfile {
                preferred_username: claims.preferred_username().map(|name| name.to_string()),
                name: claims
                    .name()
                    .and_then(|name| name.get(None))
                    .map(|name| name.to_string()),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(name: &str, issuer: &str, redirect_uri: &str) -> ProviderConfig {
        ProviderConfig {
            name: ProviderName::parse(name).unwrap_or_else(|error| panic!("{error}")),
            issuer: issuer.into(),
            client_id: "blog".into(),
            client_secret: SecretString::from("secret"),
            redirect_uri: redirect_uri.into(),
            scopes: vec!["profile".into()],
        }
    }

    const OPTIONS: OidcOptions = OidcOptions {
        timeout: Duration::from_secs(1),
        metadata_ttl: Duration::from_secs(60),
    };

    #[test]
    fn providers_must_be_https_unless_local_and_named_once() {
        let callback = "https://blog.example/api/v1/oidc/a/callback";
        assert!(
            OpenIdConnect::new(
                vec![
                    config("a", "https://idp.example", callback),
                    config("b", "http://127.0.0.1:9000", "http://localhost:8080/cb"),
                ],
                OPTIONS
            )
            .is_ok()
        );
        for (issuer, redirect_uri, field) in [
            ("http://idp.example", callback, "issuer"),
            ("not a url", callback, "issuer"),
            (
                "https://idp.example",
                "http://blog.example/cb",
                "redirect_uri",
            ),
        ] {
            let refused = OpenIdConnect::new(vec![config("a", issuer, redirect_uri)], OPTIONS);
            assert!(
                matches!(&refused, Err(OidcConfigError::Url { field: f, .. }) if *f == field),
                "{issuer} {redirect_uri}: {refused:?}"
            );
        }
        let twice = OpenIdConnect::new(
            vec![
                config("a", "https://idp.example", callback),
                config("a", "https://other.example", callback),
            ],
            OPTIONS,
        );
        assert!(matches!(twice, Err(OidcConfigError::Duplicate(name)) if name == "a"));
    }

    #[test]
    fn an_unreachable_provider_is_unavailable_within_the_timeout() {
        // A port nothing listens on: refused at once.
        let oidc = OpenIdConnect::new(
            vec![config(
                "a",
                "http://127.0.0.1:9",
                "http://127.0.0.1:8080/cb",
            )],
            OPTIONS,
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let name = ProviderName::parse("a").unwrap_or_else(|error| panic!("{error}"));
        let started = Instant::now();
        assert!(matches!(
            oidc.authorization(&name),
            Err(IdentityProviderError::Unavailable(_))
        ));
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(matches!(
            oidc.authorization(&ProviderName::parse("b").unwrap_or_else(|error| panic!("{error}"))),
            Err(IdentityProviderError::UnknownProvider)
        ));
    }
}
