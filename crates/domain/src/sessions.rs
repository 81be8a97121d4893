//! [`SessionService`]: logins, and the life of a login session and its tokens.

use std::fmt;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use time::{Duration, OffsetDateTime};

use crate::limits::{LimitKey, LimitedBy, Limiting};
use crate::mfa::second_factor_holds;
use crate::ports::{
    Clock, IdGenerator, MfaRepository, PasswordHasher, RateLimiter, SecurityEventRepository,
    SessionRepository, TokenCodec, TwoFactor, UserRepository,
};
use crate::user::password_matches;
use crate::{
    AuthError, Claims, Client, DomainError, LoginAttempt, LoginOutcome, MFA_TOKEN_LIFETIME, Page,
    PageRequest, Principal, ProviderName, RateLimits, Resource, SecurityEvent, SecurityEventKind,
    Session, SessionId, TokenKind, TokenPair, UserId, Username, VerifiedAccess,
};

/// How long tokens live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLifetimes {
    /// Lifetime of an access token.
    pub access: Duration,
    /// Lifetime of a login session, and so of its refresh tokens: refreshing
    /// rotates the token but never extends the session.
    pub refresh: Duration,
}

/// The ports [`SessionService`] works on.
#[derive(Clone)]
pub struct SessionPorts {
    /// Stored users.
    pub users: Arc<dyn UserRepository>,
    /// Stored login sessions.
    pub sessions: Arc<dyn SessionRepository>,
    /// The audit trail, for the events that change nothing else.
    pub events: Arc<dyn SecurityEventRepository>,
    /// Stored two-factor state.
    pub mfa: Arc<dyn MfaRepository>,
    /// The cryptography of two-factor login.
    pub two_factor: Arc<dyn TwoFactor>,
    /// Password hashing.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Token signing and verification.
    pub tokens: Arc<dyn TokenCodec>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Random ids for sessions and tokens.
    pub ids: Arc<dyn IdGenerator>,
}

/// Logins and their sessions and tokens.
///
/// A login opens a [`Session`]; both of its tokens name it (`sid`).
///
/// - **Refresh** rotates: the session has one valid refresh token id at a
///   time, swapped by each refresh. The old *access* token is not revoked
///   by a refresh: it lives until its own `exp` (one access lifetime at
///   most), like any bearer token.
/// - **Reuse** of a refresh token that was already rotated away is taken as
///   theft and revokes the whole session. Two concurrent refreshes with the
///   same token count as a reuse too: one wins the swap, the other revokes
///   the session, and both tokens of that login stop working. Clients must
///   refresh one at a time.
/// - **Logout** revokes the session of the access token: every token of
///   that login stops working at once, on every instance sharing the store.
///
/// Each of these records its [`SecurityEvent`], with the change it goes
/// with, and logs it once stored.
#[derive(Clone)]
pub struct SessionService {
    ports: SessionPorts,
    lifetimes: TokenLifetimes,
    limiting: Option<Limiting>,
    external: Option<external::ExternalLogins>,
}

impl fmt::Debug for SessionService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("lifetimes", &self.lifetimes)
            .finish_non_exhaustive()
    }
}

impl SessionService {
    /// Builds the service on its ports, with no rate limit.
    pub fn new(ports: SessionPorts, lifetimes: TokenLifetimes) -> Self {
        Self {
            ports,
            lifetimes,
            limiting: None,
            external: None,
        }
    }

    /// Enforces `limits` on logins and refreshes, counted by `limiter`.
    #[must_use]
    pub fn with_rate_limits(mut self, limiter: Arc<dyn RateLimiter>, limits: RateLimits) -> Self {
        self.limiting = Some(Limiting { limiter, limits });
        self
    }

    /// Checks a username and password and opens a session.
    ///
    /// The rate limits come first, so that a limited attempt costs no hash:
    /// attempts from the `client` address, then the failures of the
    /// username (whose limit refuses the right password too). Then every
    /// attempt spends exactly one password verification, against a dummy
    /// hash when the username is unknown or malformed, so the answer takes
    /// as long whether the user exists or not.
    ///
    /// With two-factor login on, a right password opens no session: it
    /// answers [`LoginOutcome::SecondFactorRequired`], and
    /// [`Self::login_mfa`] completes the login.
    ///
    /// Records `login_succeeded` with the new session, `login_failed` (of
    /// no user when the name is unknown), or `login_rate_limited` when the
    /// username's limit refuses it (a refusal by the address limit is
    /// logged, not stored: it concerns no account, and storing each would
    /// let one client fill the table).
    ///
    /// # Errors
    /// [`DomainError::RateLimited`]; [`AuthError::InvalidCredentials`], the
    /// same for every reason; store, hasher and codec failures.
    #[tracing::instrument(name = "login", skip_all)]
    pub fn login(
        &self,
        attempt: &LoginAttempt,
        client: &Client,
    ) -> Result<LoginOutcome, DomainError> {
        let username = Username::parse(attempt.username.as_str()).ok();
        self.check_login_limits(username.as_ref(), client)?;
        let credentials = match &username {
            Some(username) => self.ports.users.find_credentials(username)?,
            None => None,
        };
        let matches = password_matches(
            self.ports.hasher.as_ref(),
            attempt.password.expose_secret(),
            credentials.as_ref().and_then(|c| c.password_hash.as_ref()),
        )?;
        let user_id = credentials.map(|c| c.user.id);
        let Some(user_id) = user_id.filter(|_| matches) else {
            return Err(self.login_failed(username.as_ref(), user_id, client));
        };
        let second_factor = self
            .ports
            .mfa
            .totp(user_id)?
            .is_some_and(|credential| credential.active);
        if second_factor {
            let (mfa_token, digest) = self.ports.two_factor.mfa_token();
            let expires_at = self.ports.clock.now() + MFA_TOKEN_LIFETIME;
            self.ports
                .mfa
                .create_challenge(&digest, user_id, expires_at)?;
            return Ok(LoginOutcome::SecondFactorRequired { mfa_token });
        }
        self.open_session(user_id, client, None)
            .map(LoginOutcome::Tokens)
    }

    /// Completes a login whose password was right with its second factor:
    /// the `mfa_token` of [`LoginOutcome::SecondFactorRequired`] and a TOTP
    /// code of a step not used yet, or an unused recovery code (which is
    /// spent, recording `recovery_code_used`). A wrong code records
    /// `mfa_failed` and counts as a failed login of the username (whose
    /// limit then refuses second steps too); after
    /// [`MFA_MAX_FAILURES`](crate::MFA_MAX_FAILURES) of them, or
    /// [`MFA_TOKEN_LIFETIME`], or one completed login, the token is dead.
    /// Limited per client address like refreshes.
    ///
    /// # Errors
    /// [`DomainError::RateLimited`]; [`AuthError::InvalidToken`] for a dead
    /// or unknown token; [`AuthError::InvalidMfaCode`]; store failures.
    #[tracing::instrument(name = "login_mfa", skip_all)]
    pub fn login_mfa(
        &self,
        mfa_token: &str,
        code: &str,
        client: &Client,
    ) -> Result<TokenPair, DomainError> {
        let now = self.ports.clock.now();
        if let (Some(limiting), Some(address)) = (&self.limiting, client.address) {
            limiting.hit(LimitKey::SecondStepAddress(address), now)?;
        }
        let digest = self.ports.two_factor.mfa_token_hash(mfa_token);
        let challenge = self
            .ports
            .mfa
            .challenge(&digest)?
            .filter(|challenge| challenge.is_open(now))
            .ok_or(AuthError::InvalidToken)?;
        let user_id = challenge.user_id;
        let credential = self
            .ports
            .mfa
            .totp(user_id)?
            .filter(|credential| credential.active)
            .ok_or(AuthError::InvalidToken)?;
        let event = |kind| SecurityEvent {
            kind,
            user_id: Some(user_id),
            session_id: None,
            client: client.clone(),
            provider: None,
            at: now,
        };
        // Wrong codes count as failed logins of the username: guessing codes
        // with a known password is throttled like guessing passwords.
        let username = match &self.limiting {
            Some(limiting) => {
                let user = self
                    .ports
                    .users
                    .find(user_id)?
                    .ok_or(AuthError::InvalidToken)?;
                let locked = limiting.peek(LimitKey::LoginFailures(&user.username), now);
                if locked.is_err() {
                    self.ports
                        .events
                        .record(&event(SecurityEventKind::LoginRateLimited))?;
                }
                locked?;
                Some((limiting, user.username))
            }
            None => None,
        };
        let holds = second_factor_holds(
            self.ports.two_factor.as_ref(),
            self.ports.mfa.as_ref(),
            (user_id, &credential),
            code,
            &event(SecurityEventKind::RecoveryCodeUsed),
        )?;
        if !holds {
            let failed = event(SecurityEventKind::MfaFailed);
            self.ports.mfa.fail_challenge(&digest, &failed)?;
            failed.log();
            if let Some((limiting, username)) = &username {
                limiting.count_failure(username, now)?;
            }
            return Err(AuthError::InvalidMfaCode.into());
        }
        if !self.ports.mfa.consume_challenge(&digest, now)? {
            return Err(AuthError::InvalidToken.into());
        }
        self.open_session(user_id, client, None)
    }

    /// Opens a session of `user_id` for `client`, recording `login_succeeded`
    /// (with the identity provider of a third-party login).
    fn open_session(
        &self,
        user_id: UserId,
        client: &Client,
        provider: Option<&ProviderName>,
    ) -> Result<TokenPair, DomainError> {
        let now = self.ports.clock.now();
        let session = Session {
            id: self.ports.ids.session_id(),
            user_id,
            refresh_token_id: self.ports.ids.token_id(),
            created_at: now,
            last_used_at: now,
            expires_at: now + self.lifetimes.refresh,
            revoked_at: None,
            client: client.clone(),
        };
        let event = SecurityEvent {
            provider: provider.cloned(),
            ..self.event(
                SecurityEventKind::LoginSucceeded,
                user_id,
                &session.id,
                client,
            )
        };
        self.ports.sessions.create(&session, &event)?;
        event.log();
        self.issue(&session, now)
    }

    /// Records a failed login and counts it against its username; returns
    /// the error to answer.
    fn login_failed(
        &self,
        username: Option<&Username>,
        user_id: Option<UserId>,
        client: &Client,
    ) -> DomainError {
        match self.record_login_failure(username, user_id, client) {
            Ok(()) => AuthError::InvalidCredentials.into(),
            Err(error) => error,
        }
    }

    fn record_login_failure(
        &self,
        username: Option<&Username>,
        user_id: Option<UserId>,
        client: &Client,
    ) -> Result<(), DomainError> {
        let event = SecurityEvent {
            kind: SecurityEventKind::LoginFailed,
            user_id,
            session_id: None,
            client: client.clone(),
            provider: None,
            at: self.ports.clock.now(),
        };
        self.ports.events.record(&event)?;
        event.log();
        // Malformed names, which no account can have, are not counted.
        if let (Some(limiting), Some(username)) = (&self.limiting, username) {
            limiting.count_failure(username, event.at)?;
        }
        Ok(())
    }

    /// Trades a refresh token for a new pair, rotating the refresh token.
    ///
    /// # Errors
    /// [`AuthError::TokenExpired`], [`AuthError::InvalidToken`],
    /// [`AuthError::WrongTokenType`] for an access token,
    /// [`AuthError::TokenRevoked`] for a logged-out session or a reused
    /// refresh token (which revokes the session, recording
    /// `refresh_reuse_detected`); store and codec failures.
    #[tracing::instrument(name = "refresh", skip_all)]
    pub fn refresh(&self, refresh_token: &str, client: &Client) -> Result<TokenPair, DomainError> {
        let now = self.ports.clock.now();
        if let (Some(limiting), Some(address)) = (&self.limiting, client.address) {
            limiting.hit(LimitKey::RefreshAddress(address), now)?;
        }
        let claims = self.verify(refresh_token, TokenKind::Refresh, now)?;
        let session = self.session_of(&claims, now)?;
        let next = self.ports.ids.token_id();
        let refreshed = self.event(
            SecurityEventKind::Refreshed,
            session.user_id,
            &session.id,
            client,
        );
        let rotated = self.ports.sessions.rotate_refresh_token(
            &session.id,
            &claims.token_id,
            &next,
            now,
            &refreshed,
        )?;
        if !rotated {
            let reuse = SecurityEvent {
                kind: SecurityEventKind::RefreshReuseDetected,
                ..refreshed
            };
            self.ports.sessions.revoke(&session.id, now, &reuse)?;
            reuse.log();
            return Err(AuthError::TokenRevoked.into());
        }
        refreshed.log();
        let session = Session {
            refresh_token_id: next,
            last_used_at: now,
            ..session
        };
        self.issue(&session, now)
    }

    /// Checks an access token and its session: [`Self::verify_access`],
    /// then [`Self::authenticate_verified`].
    ///
    /// # Errors
    /// As those two.
    pub fn authenticate(&self, access_token: &str) -> Result<Principal, DomainError> {
        self.authenticate_verified(&self.verify_access(access_token)?)
    }

    /// Checks an access token itself: signature, issuer, audience, expiry
    /// and type. Pure computation (microseconds), no store: a caller on an
    /// async worker may run it in place, so that a bad token costs no trip
    /// to the blocking pool.
    ///
    /// # Errors
    /// [`AuthError::TokenExpired`], [`AuthError::InvalidToken`],
    /// [`AuthError::WrongTokenType`] for a refresh token.
    pub fn verify_access(&self, access_token: &str) -> Result<VerifiedAccess, DomainError> {
        let now = self.ports.clock.now();
        self.verify(access_token, TokenKind::Access, now)
            .map(VerifiedAccess)
    }

    /// Checks that the session of a verified access token is live (one
    /// store read), so that a logout takes effect at once everywhere.
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`] for a session that does not exist or is
    /// another user's, [`AuthError::TokenRevoked`]; store failures.
    pub fn authenticate_verified(&self, access: &VerifiedAccess) -> Result<Principal, DomainError> {
        let session = self.session_of(access.claims(), self.ports.clock.now())?;
        Ok(Principal {
            user_id: session.user_id,
            session_id: session.id,
        })
    }

    /// Ends the caller's login session: its access and refresh tokens stop
    /// working at once, on every instance sharing the store.
    ///
    /// `refresh_token` is for a client that holds tokens of two logins (two
    /// devices, say) and wants both ended in one call: a refresh token of
    /// another of the caller's own live sessions ends that session too.
    /// Anything else in it (a token of someone else, an expired or forged
    /// one) is ignored, so a logout never fails because of it.
    ///
    /// Records `logged_out` for each session ended.
    ///
    /// # Errors
    /// Store failures.
    #[tracing::instrument(name = "logout", skip_all)]
    pub fn logout(
        &self,
        principal: &Principal,
        refresh_token: Option<&SecretString>,
        client: &Client,
    ) -> Result<(), DomainError> {
        let now = self.ports.clock.now();
        let other_session = refresh_token
            .and_then(|token| {
                self.verify(token.expose_secret(), TokenKind::Refresh, now)
                    .ok()
            })
            .filter(|claims| {
                claims.user_id == principal.user_id && claims.session_id != principal.session_id
            })
            .map(|claims| claims.session_id);
        for session_id in std::iter::once(&principal.session_id).chain(&other_session) {
            let event = self.event(
                SecurityEventKind::LoggedOut,
                principal.user_id,
                session_id,
                client,
            );
            self.ports.sessions.revoke(session_id, now, &event)?;
            event.log();
        }
        Ok(())
    }

    /// One page of the caller's live sessions, newest first (the caller's
    /// own among them: compare with its `session_id`).
    ///
    /// # Errors
    /// Store failures.
    pub fn sessions(
        &self,
        principal: &Principal,
        page: PageRequest,
    ) -> Result<Page<Session>, DomainError> {
        let now = self.ports.clock.now();
        Ok(self
            .ports
            .sessions
            .list_live(principal.user_id, now, page)?)
    }

    /// Ends one of the caller's live sessions (its own included): its tokens
    /// stop working at once, on every instance. Records `session_revoked`.
    ///
    /// # Errors
    /// [`DomainError::NotFound`] for a session that is not one of the
    /// caller's live ones: another user's is not told apart from an unknown
    /// one. Store failures.
    #[tracing::instrument(name = "end_session", skip_all)]
    pub fn end_session(
        &self,
        principal: &Principal,
        id: &SessionId,
        client: &Client,
    ) -> Result<(), DomainError> {
        let event = self.event(
            SecurityEventKind::SessionRevoked,
            principal.user_id,
            id,
            client,
        );
        let ended = self
            .ports
            .sessions
            .revoke_of_user(id, principal.user_id, event.at, &event)?;
        if !ended {
            return Err(DomainError::NotFound(Resource::Session));
        }
        event.log();
        Ok(())
    }

    /// Ends every session of the caller, its own included. Records
    /// `logged_out_all`, naming the caller's session.
    ///
    /// # Errors
    /// Store failures.
    #[tracing::instrument(name = "logout_all", skip_all)]
    pub fn logout_all(&self, principal: &Principal, client: &Client) -> Result<(), DomainError> {
        let event = self.event(
            SecurityEventKind::LoggedOutAll,
            principal.user_id,
            &principal.session_id,
            client,
        );
        self.ports
            .sessions
            .revoke_all_of_user(principal.user_id, event.at, &event)?;
        event.log();
        Ok(())
    }

    /// An event of `user_id`'s session `session_id`, now.
    fn event(
        &self,
        kind: SecurityEventKind,
        user_id: UserId,
        session_id: &SessionId,
        client: &Client,
    ) -> SecurityEvent {
        SecurityEvent {
            kind,
            user_id: Some(user_id),
            session_id: Some(session_id.clone()),
            client: client.clone(),
            provider: None,
            at: self.ports.clock.now(),
        }
    }

    /// The login limits, before any password work. A refusal by the
    /// username's limit is an event of its account, when there is one (the
    /// lookup is cheap: no hash).
    fn check_login_limits(
        &self,
        username: Option<&Username>,
        client: &Client,
    ) -> Result<(), DomainError> {
        let Some(limiting) = &self.limiting else {
            return Ok(());
        };
        let now = self.ports.clock.now();
        match limiting.check_password_attempt(username, client.address, now) {
            Ok(()) => Ok(()),
            Err((LimitedBy::Address, error)) => Err(error),
            Err((LimitedBy::Username, error)) => {
                let user_id = match username {
                    Some(username) => self
                        .ports
                        .users
                        .find_credentials(username)?
                        .map(|credentials| credentials.user.id),
                    None => None,
                };
                self.ports.events.record(&SecurityEvent {
                    kind: SecurityEventKind::LoginRateLimited,
                    user_id,
                    session_id: None,
                    client: client.clone(),
                    provider: None,
                    at: now,
                })?;
                Err(error)
            }
        }
    }

    fn verify(
        &self,
        token: &str,
        expected: TokenKind,
        now: OffsetDateTime,
    ) -> Result<Claims, DomainError> {
        let claims = self.ports.tokens.decode(token, now)?;
        if claims.kind == expected {
            Ok(claims)
        } else {
            Err(AuthError::WrongTokenType.into())
        }
    }

    /// The live session a verified token names.
    fn session_of(&self, claims: &Claims, now: OffsetDateTime) -> Result<Session, DomainError> {
        let session = self
            .ports
            .sessions
            .find(&claims.session_id)?
            .filter(|session| session.user_id == claims.user_id)
            .ok_or(AuthError::InvalidToken)?;
        session.ensure_active(now)?;
        Ok(session)
    }

    fn issue(&self, session: &Session, now: OffsetDateTime) -> Result<TokenPair, DomainError> {
        let claims = |kind, token_id, expires_at| Claims {
            user_id: session.user_id,
            session_id: session.id.clone(),
            token_id,
            kind,
            issued_at: now,
            expires_at,
        };
        let access = claims(
            TokenKind::Access,
            self.ports.ids.token_id(),
            now + self.lifetimes.access,
        );
        let refresh = claims(
            TokenKind::Refresh,
            session.refresh_token_id.clone(),
            session.expires_at,
        );
        Ok(TokenPair {
            access_token: self.ports.tokens.encode(&access)?.into(),
            refresh_token: self.ports.tokens.encode(&refresh)?.into(),
            expires_in: self.lifetimes.access.whole_seconds(),
        })
    }
}

mod external;
#[cfg(test)]
mod tests;
