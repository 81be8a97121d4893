//! Third-party logins (OpenID Connect) of [`SessionService`].

use std::sync::Arc;

use secrecy::ExposeSecret;
use tracing::warn;

use super::SessionService;
use crate::limits::LimitKey;
use crate::ports::{
    IdentityProviderError, IdentityProviders, PendingLoginRepository, RepositoryError,
};
use crate::{
    AUTH_EVENTS, AuthError, Callback, CallbackRefusal, Client, DomainError, NewUser,
    PENDING_LOGIN_LIFETIME, PendingLogin, ProviderName, Resource, SecurityEvent, SecurityEventKind,
    TokenPair, UserId, Username, VerifiedIdentity,
};

/// The ports of third-party logins.
#[derive(Clone)]
pub(super) struct ExternalLogins {
    providers: Arc<dyn IdentityProviders>,
    pending: Arc<dyn PendingLoginRepository>,
}

/// How many usernames a first login tries before giving up: the base one,
/// then ones with random suffixes.
const USERNAME_ATTEMPTS: usize = 5;

/// The most characters of a provider's `error` code logged (it comes
/// from outside, through the browser).
const LOGGED_ERROR_CHARS: usize = 64;

impl SessionService {
    /// Lets users log in through `providers`, the logins sent to a provider
    /// kept in `pending` until its callback.
    #[must_use]
    pub fn with_identity_providers(
        mut self,
        providers: Arc<dyn IdentityProviders>,
        pending: Arc<dyn PendingLoginRepository>,
    ) -> Self {
        self.external = Some(ExternalLogins { providers, pending });
        self
    }

    /// The configured identity providers, in configuration order (none
    /// without [`Self::with_identity_providers`]).
    pub fn identity_providers(&self) -> Vec<ProviderName> {
        self.external
            .as_ref()
            .map(|external| external.providers.names())
            .unwrap_or_default()
    }

    /// Starts a login at `provider`: a fresh authorization request (code
    /// flow, PKCE S256, `state`, `nonce`) whose secrets are kept as a
    /// [`PendingLogin`] for [`PENDING_LOGIN_LIFETIME`]. Returns the URL to
    /// send the user to. Counted as a login attempt from the `client`
    /// address, since each one stores a pending login.
    ///
    /// # Errors
    /// [`DomainError::NotFound`] of [`Resource::IdentityProvider`] for an
    /// unknown provider; [`DomainError::RateLimited`];
    /// [`DomainError::Unavailable`] when the provider cannot be reached;
    /// store failures.
    #[tracing::instrument(name = "start_external_login", skip_all)]
    pub fn start_external_login(
        &self,
        provider: &str,
        client: &Client,
    ) -> Result<String, DomainError> {
        let (external, provider) = self.external_provider(provider)?;
        let now = self.ports.clock.now();
        if let (Some(limiting), Some(address)) = (&self.limiting, client.address) {
            limiting.hit(LimitKey::LoginAddress(address), now)?;
        }
        let authorization = external.providers.authorization(&provider)?;
        let login = PendingLogin {
            provider,
            nonce: authorization.nonce,
            pkce_verifier: authorization.pkce_verifier,
            expires_at: now + PENDING_LOGIN_LIFETIME,
        };
        external
            .pending
            .create(authorization.state.expose_secret(), &login)?;
        Ok(authorization.url)
    }

    /// Completes a login at `provider` from its callback, and opens a
    /// session of the user linked to the provider's `sub`, made on the
    /// first login (with a unique username from the profile, and no
    /// password), recording `registered` then and `login_succeeded` each
    /// time, with the provider.
    ///
    /// In this order: the `state` is taken (so used once, whatever comes
    /// next) and must have been sent to this `provider`, unexpired (CSRF,
    /// replay, mix-up); a provider `error` ends the login; the code is
    /// traded with the login's PKCE verifier, and the ID token verified
    /// with its nonce. A failed ID token records `login_failed` of no user.
    ///
    /// # Errors
    /// [`DomainError::NotFound`] of [`Resource::IdentityProvider`];
    /// [`DomainError::Callback`] for a missing or unknown `state`, a
    /// provider `error` or a refused code, a missing `code`;
    /// [`AuthError::InvalidCredentials`] for a failed ID token;
    /// [`DomainError::Unavailable`] when the provider cannot be reached;
    /// store failures.
    #[tracing::instrument(name = "finish_external_login", skip_all)]
    pub fn finish_external_login(
        &self,
        provider: &str,
        callback: &Callback,
        client: &Client,
    ) -> Result<TokenPair, DomainError> {
        let (external, provider) = self.external_provider(provider)?;
        let state = callback
            .state
            .as_deref()
            .ok_or(CallbackRefusal::MissingState)?;
        let now = self.ports.clock.now();
        let login = external
            .pending
            .take(state)?
            .filter(|login| login.provider == provider && now < login.expires_at)
            .ok_or(CallbackRefusal::UnknownState)?;
        if let Some(error) = &callback.error {
            // OAuth error codes are printable ASCII; anything else is dropped
            // rather than written to the log.
            let error: String = error
                .chars()
                .filter(char::is_ascii_graphic)
                .take(LOGGED_ERROR_CHARS)
                .collect();
            warn!(target: AUTH_EVENTS, provider = %provider, error, "the identity provider refused the login");
            return Err(CallbackRefusal::ProviderRefused.into());
        }
        let code = callback
            .code
            .as_deref()
            .filter(|code| !code.is_empty())
            .ok_or(CallbackRefusal::MissingCode)?;
        let verified = match external.providers.identify(code, &login) {
            Ok(verified) => verified,
            Err(IdentityProviderError::InvalidIdToken(reason)) => {
                warn!(target: AUTH_EVENTS, provider = %provider, reason = %reason, "ID token refused");
                let failed = SecurityEvent {
                    kind: SecurityEventKind::LoginFailed,
                    user_id: None,
                    session_id: None,
                    client: client.clone(),
                    provider: Some(provider),
                    at: now,
                };
                self.ports.events.record(&failed)?;
                failed.log();
                return Err(AuthError::InvalidCredentials.into());
            }
            Err(other) => return Err(other.into()),
        };
        let user_id = self.linked_user(&verified, client)?;
        self.open_session(user_id, client, Some(&provider))
    }

    /// The ports, and `name` if it is a configured provider.
    fn external_provider(
        &self,
        name: &str,
    ) -> Result<(&ExternalLogins, ProviderName), DomainError> {
        let unknown = || DomainError::NotFound(Resource::IdentityProvider);
        let external = self.external.as_ref().ok_or_else(unknown)?;
        let name = ProviderName::parse(name).map_err(|_| unknown())?;
        if external.providers.names().contains(&name) {
            Ok((external, name))
        } else {
            Err(unknown())
        }
    }

    /// The user linked to `verified`'s identity, made now if there is none.
    /// A taken username, or a first login of the same identity racing this
    /// one, refuses the new user: then the link is looked up again, and
    /// another username tried.
    fn linked_user(
        &self,
        verified: &VerifiedIdentity,
        client: &Client,
    ) -> Result<UserId, DomainError> {
        let identity = &verified.identity;
        let base = verified.profile.base_username();
        for attempt in 0..USERNAME_ATTEMPTS {
            if let Some(user) = self.ports.users.find_by_identity(identity)? {
                return Ok(user.id);
            }
            let username = if attempt == 0 {
                base.clone()
            } else {
                // Eight of the 32 random hex digits (the last: a sequential
                // test generator counts there).
                let random = self.ports.ids.token_id();
                let suffix = random.as_str().get(24..).unwrap_or_default();
                Username::parse(format!("{}_{suffix}", base.as_str()))?
            };
            let now = self.ports.clock.now();
            let mut event = SecurityEvent {
                kind: SecurityEventKind::Registered,
                user_id: None,
                session_id: None,
                client: client.clone(),
                provider: Some(identity.provider.clone()),
                at: now,
            };
            let user = NewUser {
                username,
                password_hash: None,
                created_at: now,
            };
            match self.ports.users.create_linked(&user, identity, &event) {
                Ok(user) => {
                    event.user_id = Some(user.id);
                    event.log();
                    return Ok(user.id);
                }
                Err(RepositoryError::Conflict) => {}
                Err(other) => return Err(other.into()),
            }
        }
        Err(DomainError::Conflict)
    }
}

#[cfg(test)]
mod tests;
