//! The composition root: builds the adapters, the services and the server.

use std::net::TcpListener;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{DefaultHeaders, ErrorHandlers};
use actix_web::{App, HttpServer, web};
use blog_domain::ports::{
    MfaRepository, PasswordHasher, RateLimiter, RepositoryError, SecurityEventRepository,
    TwoFactor, UserRepository,
};
use blog_domain::{
    PostService, ProviderName, Purge, PurgeReport, SessionPorts, SessionService, TokenLifetimes,
    UserPorts, UserService,
};
use blog_infra::keys::{KeySet, KeySetError};
use blog_infra::{
    BcryptHasher, DbPool, DieselMfaRepository, DieselPendingLoginRepository, DieselPostRepository,
    DieselRateLimiter, DieselSecurityEventRepository, DieselSessionRepository,
    DieselUserRepository, HashingPool, JwtCodec, JwtKeys, JwtOptions, OidcOptions, OpenIdConnect,
    OsRandomIds, PoolOptions, ProviderConfig, SystemClock, TotpTwoFactor, db,
};
use futures_util::FutureExt;
use secrecy::SecretString;
use tokio::sync::watch;

use crate::client::TrustedProxies;
use crate::configuration::{OidcSettings, Profile, ServerSettings, Settings, check_secret};
use crate::error::{ApiError, error_chain, jsonify_error_response};
use crate::extract::{self, BodyReading};
use crate::state::{AppState, ReadThreads, ReadinessCheck};
use crate::{metrics, routes, telemetry};

/// Why the service cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The JWT secret is unfit for production.
    #[error(transparent)]
    Secret(#[from] crate::configuration::SecretError),
    /// The key set cannot be used.
    #[error(transparent)]
    Keys(#[from] KeySetError),
    /// `DATABASE_URL` names no database this service can use.
    #[error(transparent)]
    DatabaseUrl(#[from] db::DatabaseUrlError),
    /// The database could not be reached, read or migrated.
    #[error(transparent)]
    Database(#[from] db::DbError),
    /// Production does not migrate on start, and the database lags behind.
    #[error("the database lacks {0} migration(s) of this version: run `blog-api migrate` first")]
    PendingMigrations(usize),
    /// A setting is out of range.
    #[error("invalid setting: {0}")]
    Setting(String),
    /// The purge failed.
    #[error("purge failed: {0}")]
    Purge(String),
    /// The address could not be bound.
    // The cause is the source, printed by `error_chain`: not in the
    // message too, or it reads twice.
    #[error("could not listen")]
    Io(#[from] std::io::Error),
    /// The hashing or read threads could not be started.
    #[error("could not start a thread")]
    Threads(#[source] std::io::Error),
}

/// A built server, ready to run.
pub struct Application {
    port: u16,
    server: Server,
    purge: PurgeTask,
    purge_interval: Duration,
    /// Turned true on SIGTERM or Ctrl-C: body reads under way give up.
    shutdown: watch::Sender<bool>,
    /// The metrics listener and its port, when enabled.
    admin: Option<(Server, u16)>,
}

impl Application {
    /// Connects, migrates if asked to, and binds the listener.
    ///
    /// # Errors
    /// [`StartupError`].
    pub async fn build(settings: Settings, profile: Profile) -> Result<Self, StartupError> {
        settings.validate().map_err(StartupError::Setting)?;
        let tokens = token_codec(&settings, profile)?;
        let two_factor = two_factor(&settings, profile)?;
        let pool = open_pool(&settings, settings.database.pool_size)?;
        let migrate = settings.database.migrate_on_start;
        let checked_pool = pool.clone();
        let up_to_date =
            blocking(move || check_migrations(&checked_pool, migrate, profile)).await??;
        let cost = settings.password.bcrypt_cost;
        let hasher = blocking(move || BcryptHasher::new(cost))
            .await?
            .map_err(|error| StartupError::Setting(error.to_string()))?;
        let admin = if settings.admin.metrics_enabled {
            let address = settings.admin.metrics_address.as_str();
            let listener = TcpListener::bind(address).map_err(|error| {
                StartupError::Setting(format!("admin.metrics_address {address}: {error}"))
            })?;
            let port = listener.local_addr()?.port();
            let pool = pool.clone();
            let sample: metrics::Sampler = Arc::new(move || db::record_pool_state(&pool));
            Some((metrics::admin_server(listener, sample)?, port))
        } else {
            None
        };
        let purge = purge_task(&settings, pool.clone());
        let data = web::Data::new(app_state(
            &settings,
            (tokens, two_factor),
            hasher,
            pool,
            up_to_date,
        )?);

        let tls = tls_config(&settings.server)?;
        // HSTS only where it means something: on responses sent over TLS.
        let hsts = tls.is_some();
        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))?;
        let port = listener.local_addr()?.port();
        let body_limit = settings.server.body_limit_bytes;
        let (shutdown, stopping) = watch::channel(false);
        let body_reading = BodyReading::new(settings.server.body_timeout(), stopping);
        let proxies = TrustedProxies::new(
            settings
                .server
                .trusted_proxies()
                .map_err(StartupError::Setting)?,
        );
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(body_limit))
                .app_data(body_reading.clone())
                .app_data(proxies.clone())
                .app_data(
                    web::QueryConfig::default()
                        .error_handler(|error, _| extract::invalid_query(error).into()),
                )
                .configure(routes::configure)
                .default_service(web::to(routes::no_route))
                .wrap_fn(catch_panic)
                .wrap(ErrorHandlers::new().default_handler(jsonify_error_response))
                .wrap_fn(docs_content_security_policy)
                .wrap(security_headers(hsts))
                .wrap_fn(telemetry::observe)
        });
        let mut server = match tls {
            Some(config) => server.listen_rustls_0_23(listener, config)?,
            None => server.listen(listener)?,
        }
        // Signals are ours (see `run_until_stopped`): body reads must hear of
        // the stop before the server waits for them.
        .disable_signals()
        .shutdown_timeout(settings.server.shutdown_timeout_secs);
        if let Some(workers) = settings.server.workers {
            server = server.workers(workers);
        }
        Ok(Self {
            port,
            server: server.run(),
            purge,
            purge_interval: Duration::from_secs(
                settings.database.session_purge_interval_secs.max(1),
            ),
            shutdown,
            admin,
        })
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// The port it listens on (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the metrics listener, when enabled.
    pub fn admin_port(&self) -> Option<u16> {
        self.admin.as_ref().map(|(_, port)| *port)
    }

    /// Serves until SIGTERM or Ctrl-C, then lets in-flight requests finish.
    /// Expired state is purged in the background meanwhile.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let purge = actix_web::rt::spawn(purge_periodically(self.purge, self.purge_interval));
        let handle = self.server.handle();
        let shutdown = self.shutdown;
        let signals = actix_web::rt::spawn(async move {
            stop_signal().await;
            tracing::info!("stopping");
            shutdown.send_replace(true);
            handle.stop(true).await;
        });
        let admin = self.admin.map(|(server, _)| {
            let handle = server.handle();
            (actix_web::rt::spawn(server), handle)
        });
        let result = self.server.await;
        purge.abort();
        signals.abort();
        if let Some((server, handle)) = admin {
            handle.stop(true).await;
            let _ = server.await;
        }
        result
    }
}

/// `blog-api migrate`: applies the pending migrations with one connection,
/// and reports a database newer than this version.
///
/// # Errors
/// [`StartupError`] when the URL is unusable, the database unreachable or
/// a migration fails.
pub fn migrate(settings: &Settings) -> Result<(), StartupError> {
    let pool = open_pool(settings, 1)?;
    check_migrations(&pool, true, Profile::Production).map(drop)
}

/// The user service on the configured database, for the admin CLI: the
/// adapters the server uses, without the HTTP part. Migrates as `serve`
/// would, and refuses a production database with pending migrations.
///
/// # Errors
/// [`StartupError`] for a bad setting, an unusable URL or database.
pub fn user_service(settings: &Settings, profile: Profile) -> Result<UserService, StartupError> {
    settings.validate().map_err(StartupError::Setting)?;
    let pool = open_pool(settings, 1)?;
    check_migrations(&pool, settings.database.migrate_on_start, profile)?;
    let hasher = BcryptHasher::new(settings.password.bcrypt_cost)
        .map_err(|error| StartupError::Setting(error.to_string()))?;
    Ok(UserService::new(UserPorts {
        users: Arc::new(DieselUserRepository::new(pool.clone())),
        events: Arc::new(DieselSecurityEventRepository::new(pool.clone())),
        mfa: Arc::new(DieselMfaRepository::new(pool)),
        two_factor: Arc::new(two_factor(settings, profile)?),
        hasher: Arc::new(
            HashingPool::new(hasher, 1, HashingPool::<BcryptHasher>::DEFAULT_MAX_WAIT)
                .map_err(StartupError::Threads)?,
        ),
        clock: Arc::new(SystemClock),
    }))
}

/// Checks every setting as `serve` would, without connecting: ranges, the
/// production secret, the database URL, the trusted proxies.
///
/// # Errors
/// [`StartupError`] naming the first problem.
pub fn check_settings(settings: &Settings, profile: Profile) -> Result<(), StartupError> {
    settings.validate().map_err(StartupError::Setting)?;
    token_codec(settings, profile)?;
    tls_config(&settings.server)?;
    two_factor(settings, profile)?;
    identity_providers(&settings.oidc)?;
    db::DatabaseUrl::parse(&settings.database.url)?;
    Ok(())
}

/// The pool on the configured database: built, not connected yet.
fn open_pool(settings: &Settings, max_size: u32) -> Result<DbPool, StartupError> {
    let url = db::DatabaseUrl::parse(&settings.database.url)?;
    Ok(db::pool(
        &url,
        &PoolOptions {
            max_size,
            connection_timeout: settings.database.connect_timeout(),
        },
    ))
}

/// Migrates when asked to, then compares the database's migrations with
/// this binary's. Returns whether the database is up to date; an
/// unreachable one is reported and left to `/readyz`, so that an outage at
/// start is not a crash loop.
fn check_migrations(pool: &DbPool, migrate: bool, profile: Profile) -> Result<bool, StartupError> {
    if migrate {
        db::run_migrations(pool)?;
    }
    let status = match db::migration_status(pool) {
        Ok(status) => status,
        Err(error) => {
            tracing::warn!(
                cause = %error_chain(&error),
                "cannot read the database's migrations yet; /readyz answers 503 until it can"
            );
            return Ok(false);
        }
    };
    if !status.unknown.is_empty() {
        tracing::warn!(
            unknown = ?status.unknown,
            "the database has migrations this version does not know: it was migrated by a newer version"
        );
    }
    if status.is_up_to_date() {
        return Ok(true);
    }
    if profile == Profile::Production {
        return Err(StartupError::PendingMigrations(status.pending.len()));
    }
    tracing::warn!(
        pending = ?status.pending,
        "the database lacks migrations of this version: run `blog-api migrate`; /readyz answers 503 until then"
    );
    Ok(false)
}

/// Ready while the database answers and has every migration of this
/// version; once it has had them, only the connection is checked.
fn readiness_check(pool: DbPool, up_to_date: bool) -> ReadinessCheck {
    let migrated = AtomicBool::new(up_to_date);
    Arc::new(move || {
        if migrated.load(Ordering::Relaxed) {
            return db::check(&pool);
        }
        let status = db::migration_status(&pool)
            .map_err(|error| RepositoryError::Unavailable(Box::new(error)))?;
        if status.is_up_to_date() {
            migrated.store(true, Ordering::Relaxed);
            Ok(())
        } else {
            Err(RepositoryError::Unavailable(
                format!("{} migration(s) pending", status.pending.len()).into(),
            ))
        }
    })
}

/// SIGTERM (orchestrators) or Ctrl-C.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn app_state(
    settings: &Settings,
    (tokens, two_factor): (JwtCodec, TotpTwoFactor),
    hasher: BcryptHasher,
    pool: DbPool,
    up_to_date: bool,
) -> Result<AppState, StartupError> {
    let clock = Arc::new(SystemClock);
    let jwt = &settings.jwt;
    let jwks: Vec<serde_json::Value> = tokens
        .jwks()
        .keys
        .iter()
        .filter_map(|jwk| serde_json::to_value(jwk).ok())
        .collect();
    // Every hash and verification, whoever asks, takes a turn here.
    let hasher: Arc<dyn PasswordHasher> = Arc::new(
        HashingPool::new(
            hasher,
            settings.password.hashing_threads(),
            HashingPool::<BcryptHasher>::DEFAULT_MAX_WAIT,
        )
        .map_err(StartupError::Threads)?,
    );
    let users: Arc<dyn UserRepository> = Arc::new(DieselUserRepository::new(pool.clone()));
    let events: Arc<dyn SecurityEventRepository> =
        Arc::new(DieselSecurityEventRepository::new(pool.clone()));
    let mfa: Arc<dyn MfaRepository> = Arc::new(DieselMfaRepository::new(pool.clone()));
    let two_factor: Arc<dyn TwoFactor> = Arc::new(two_factor);
    let mut sessions = SessionService::new(
        SessionPorts {
            users: Arc::clone(&users),
            sessions: Arc::new(DieselSessionRepository::new(pool.clone())),
            events: Arc::clone(&events),
            mfa: Arc::clone(&mfa),
            two_factor: Arc::clone(&two_factor),
            hasher: Arc::clone(&hasher),
            tokens: Arc::new(tokens),
            clock: clock.clone(),
            ids: Arc::new(OsRandomIds),
        },
        TokenLifetimes {
            access: time::Duration::seconds(i64::from(jwt.access_ttl_secs)),
            refresh: time::Duration::seconds(i64::from(jwt.refresh_ttl_secs)),
        },
    );
    let mut users = UserService::new(UserPorts {
        users,
        events,
        mfa,
        two_factor,
        hasher,
        clock: clock.clone(),
    });
    if !settings.oidc.providers.is_empty() {
        sessions = sessions.with_identity_providers(
            Arc::new(identity_providers(&settings.oidc)?),
            Arc::new(DieselPendingLoginRepository::new(pool.clone())),
        );
    }
    if let Some(limits) = settings.rate_limit.limits() {
        let limiter: Arc<dyn RateLimiter> = Arc::new(DieselRateLimiter::new(pool.clone()));
        sessions = sessions.with_rate_limits(Arc::clone(&limiter), limits);
        users = users.with_rate_limits(limiter, limits);
    }
    let posts = PostService::new(Arc::new(DieselPostRepository::new(pool.clone())), clock);
    let reads = ReadThreads::new(pool.concurrent_reads()).map_err(StartupError::Threads)?;
    let readiness = readiness_check(pool, up_to_date);
    Ok(AppState::new(users, sessions, posts, readiness, reads).with_jwks(jwks))
}

/// The relying party of the configured identity providers. Nothing is
/// fetched now: a provider that is down must not stop the service.
fn identity_providers(settings: &OidcSettings) -> Result<OpenIdConnect, StartupError> {
    let providers = settings
        .providers
        .iter()
        .map(|provider| {
            Ok(ProviderConfig {
                name: ProviderName::parse(provider.name.as_str()).map_err(|error| {
                    StartupError::Setting(format!(
                        "oidc.providers name {:?}: {error}",
                        provider.name
                    ))
                })?,
                issuer: provider.issuer.clone(),
                client_id: provider.client_id.clone(),
                client_secret: provider.client_secret.clone(),
                redirect_uri: provider.redirect_uri.clone(),
                scopes: provider.scopes.clone(),
            })
        })
        .collect::<Result<Vec<_>, StartupError>>()?;
    let options = OidcOptions {
        timeout: Duration::from_secs(settings.timeout_secs),
        metadata_ttl: Duration::from_secs(settings.metadata_ttl_secs),
    };
    OpenIdConnect::new(providers, options).map_err(|error| StartupError::Setting(error.to_string()))
}

/// The two-factor cryptography with the configured key, which production
/// requires; elsewhere a missing one is replaced by a random one, with a
/// warning.
fn two_factor(settings: &Settings, profile: Profile) -> Result<TotpTwoFactor, StartupError> {
    let key = match &settings.mfa.encryption_key {
        Some(key) => key.clone(),
        None if profile == Profile::Production => {
            return Err(StartupError::Setting(
                "APP__MFA__ENCRYPTION_KEY is not set: production needs 64 hexadecimal digits (openssl rand -hex 32)".into(),
            ));
        }
        None => {
            tracing::warn!(
                "APP__MFA__ENCRYPTION_KEY is not set: using a random key; two-factor enrolments stop working when the process stops"
            );
            blog_infra::random_secret()
        }
    };
    TotpTwoFactor::new(&key, &settings.mfa.issuer)
        .map_err(|error| StartupError::Setting(format!("APP__MFA__ENCRYPTION_KEY: {error}")))
}

/// The token codec: on the key set when one is configured, else on the
/// HS256 secret (and the previous ones, which still verify).
fn token_codec(settings: &Settings, profile: Profile) -> Result<JwtCodec, StartupError> {
    let jwt = &settings.jwt;
    let keys = match (&jwt.keys_dir, &jwt.signing_key) {
        (Some(dir), Some(kid)) => JwtKeys::KeySet(KeySet::load(Path::new(dir), kid)?),
        (None, None) => {
            let previous: Vec<SecretString> = jwt
                .previous_secrets
                .iter()
                .map(|secret| SecretString::from(secret.as_str()))
                .collect();
            if profile == Profile::Production
                && previous
                    .iter()
                    .any(|secret| check_secret(Some(secret)).is_err())
            {
                return Err(StartupError::Setting(
                    "APP__JWT__PREVIOUS_SECRETS: every previous secret must be as strong as JWT_SECRET_KEY (at least 32 random bytes, not a well-known value)".into(),
                ));
            }
            JwtKeys::Hmac {
                current: jwt_secret(settings, profile)?,
                previous,
            }
        }
        _ => {
            return Err(StartupError::Setting(
                "APP__JWT__KEYS_DIR and APP__JWT__SIGNING_KEY go together: `blog-api keys generate --dir DIR` prints both".into(),
            ));
        }
    };
    Ok(JwtCodec::new(JwtOptions {
        keys,
        issuer: jwt.issuer.clone(),
        audience: jwt.audience.clone(),
        leeway_secs: jwt.leeway_secs,
    })?)
}

/// The configured secret, checked in production; elsewhere a missing one is
/// replaced by a random one, with a warning.
fn jwt_secret(settings: &Settings, profile: Profile) -> Result<SecretString, StartupError> {
    if profile == Profile::Production {
        check_secret(settings.jwt.secret.as_ref())?;
    }
    Ok(settings.jwt.secret.clone().unwrap_or_else(|| {
        tracing::warn!(
            "JWT_SECRET_KEY is not set: using a random secret; tokens stop working when the process stops"
        );
        blog_infra::random_secret()
    }))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StartupError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|error| StartupError::Io(std::io::Error::other(error)))
}

/// One purge, run by one instance at a time: `None` when another was
/// purging the same database.
type PurgeTask = Arc<dyn Fn() -> Result<Option<PurgeReport>, String> + Send + Sync>;

/// The purge of `settings`' database on `pool` (which needs two connections).
fn purge_task(settings: &Settings, pool: DbPool) -> PurgeTask {
    let limiter: Arc<dyn RateLimiter> = Arc::new(DieselRateLimiter::new(pool.clone()));
    let purge = Purge::new(
        Arc::new(DieselSessionRepository::new(pool.clone())),
        Arc::new(DieselMfaRepository::new(pool.clone())),
        (
            Arc::new(DieselSecurityEventRepository::new(pool.clone())),
            settings.database.event_retention(),
        ),
        settings.rate_limit.limits().map(|limits| (limiter, limits)),
        Arc::new(SystemClock),
    )
    .with_pending_logins(Arc::new(DieselPendingLoginRepository::new(pool.clone())));
    Arc::new(move || {
        db::exclusively(&pool, || purge.run())
            .map_err(|error| error_chain(&error))?
            .transpose()
            .map_err(|error| error_chain(&error))
    })
}

async fn purge_periodically(purge: PurgeTask, every: Duration) {
    let mut interval = tokio::time::interval(every);
    loop {
        interval.tick().await;
        let purge = Arc::clone(&purge);
        match tokio::task::spawn_blocking(move || purge()).await {
            Ok(Ok(Some(report))) if report != PurgeReport::default() => tracing::info!(
                sessions = report.sessions,
                rate_limit_windows = report.rate_limit_windows,
                security_events = report.security_events,
                mfa_challenges = report.mfa_challenges,
                pending_logins = report.pending_logins,
                "purged"
            ),
            Ok(Ok(Some(_))) => {}
            Ok(Ok(None)) => tracing::debug!("another instance is purging"),
            Ok(Err(cause)) => tracing::warn!(%cause, "could not purge"),
            Err(error) => tracing::warn!(%error, "the purge panicked"),
        }
    }
}

/// `blog-api purge`: one purge now, for cron-style deployments. `None`
/// when another instance was purging.
///
/// # Errors
/// [`StartupError`] for a bad setting or an unusable database.
pub fn purge(settings: &Settings, profile: Profile) -> Result<Option<PurgeReport>, StartupError> {
    settings.validate().map_err(StartupError::Setting)?;
    let pool = open_pool(settings, 2)?;
    check_migrations(&pool, settings.database.migrate_on_start, profile)?;
    purge_task(settings, pool)().map_err(StartupError::Purge)
}

/// Headers for a JSON API that no browser should render, frame or cache
/// (OWASP REST Security Cheat Sheet). Handlers may set their own.
fn security_headers(hsts: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add((
            "Content-Security-Policy",
            "default-src 'none'; frame-ancestors 'none'",
        ))
        .add(("Cache-Control", "no-store"))
        .add(("Referrer-Policy", "no-referrer"));
    if hsts {
        // A year: browsers then never try this host over plain HTTP.
        headers.add(("Strict-Transport-Security", "max-age=31536000"))
    } else {
        headers
    }
}

/// The TLS configuration of the listener, when a certificate and key are
/// configured: TLS 1.2 and 1.3 with rustls' safe defaults.
fn tls_config(server: &ServerSettings) -> Result<Option<rustls::ServerConfig>, StartupError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};

    let (certificate, key) = match (&server.tls_certificate, &server.tls_private_key) {
        (None, None) => return Ok(None),
        (Some(certificate), Some(key)) => (certificate, key),
        _ => {
            return Err(StartupError::Setting(
                "server.tls_certificate and server.tls_private_key go together".into(),
            ));
        }
    };
    let unreadable = |name: &str, path: &str, error: &dyn std::fmt::Display| {
        StartupError::Setting(format!("{name} {path}: {error}"))
    };
    let chain = CertificateDer::pem_file_iter(certificate)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|error| unreadable("server.tls_certificate", certificate, &error))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|error| unreadable("server.tls_private_key", key, &error))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
    .map_err(|error| unreadable("server.tls_certificate", certificate, &error))?;
    Ok(Some(config))
}

/// The interactive docs are a page a browser must render: their own
/// scripts, styles (Swagger UI sets inline ones) and images may load, from
/// this origin only. Everything else keeps `default-src 'none'`.
fn docs_content_security_policy<S, B>(
    request: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    let docs = request.path().starts_with("/docs/");
    service.call(request).map(move |result| {
        result.map(|mut response| {
            if docs {
                response.headers_mut().insert(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(
                        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
                    ),
                );
            }
            response
        })
    })
}

/// Turns a panic in a handler into a JSON 500 instead of a dropped connection.
/// The error carries its own response: no request clone is held meanwhile,
/// which would keep the router from writing the match info.
fn catch_panic<S, B>(
    request: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    AssertUnwindSafe(service.call(request))
        .catch_unwind()
        .map(|outcome| {
            outcome.unwrap_or_else(|_| Err(ApiError::internal("a request handler panicked").into()))
        })
}

#[cfg(test)]
mod tests {
    use actix_web::dev::Service as _;
    use actix_web::test::{TestRequest, init_service, read_body};
    use actix_web::{HttpResponse, http::StatusCode};

    use super::*;

    #[test]
    fn a_startup_error_names_its_cause_once() {
        let error = StartupError::Io(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "address already in use",
        ));
        assert_eq!(
            error_chain(&error),
            "could not listen: address already in use"
        );
    }

    #[actix_web::test]
    async fn a_panicking_handler_answers_a_json_500_without_detail() {
        let app = init_service(App::new().wrap_fn(catch_panic).route(
            "/boom",
            web::get().to(|| async {
                if true {
                    panic!("secret detail");
                }
                HttpResponse::Ok().finish()
            }),
        ))
        .await;
        let response = app.call(TestRequest::get().uri("/boom").to_request()).await;
        let response = match response {
            Ok(response) => response.map_into_boxed_body(),
            Err(error) => ServiceResponse::new(
                TestRequest::default().to_http_request(),
                error.error_response(),
            ),
        };
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body: serde_json::Value = serde_json::from_slice(&read_body(response).await).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": "Internal Server Error", "message": "Internal server error", "code": "internal_error"})
        );
    }
}
