//! Settings: `config/default.toml`, then `config/{APP_ENV}.toml`, then
//! `APP__SECTION__KEY` environment variables, then the seed's variable names.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use blog_domain::{RateLimit, RateLimits};
use config::{Config, ConfigError, Environment, File};
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

/// The profile, from `APP_ENV`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// The default: a random JWT secret if none is set.
    Development,
    /// The test suite.
    Testing,
    /// Refuses to start without a strong JWT secret.
    Production,
}

impl Profile {
    /// Reads `APP_ENV` (default `development`).
    ///
    /// # Errors
    /// For a value other than development, testing or production.
    pub fn from_env() -> Result<Self, ConfigError> {
        std::env::var("APP_ENV").map_or(Ok(Self::Development), |value| value.parse())
    }

    /// The name of the profile's file in `config/`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Testing => "testing",
            Self::Production => "production",
        }
    }
}

impl std::str::FromStr for Profile {
    type Err = ConfigError;

    fn from_str(value: &str) -> Result<Self, ConfigError> {
        match value.to_ascii_lowercase().as_str() {
            "development" => Ok(Self::Development),
            "testing" => Ok(Self::Testing),
            "production" => Ok(Self::Production),
            other => Err(ConfigError::Message(format!(
                "APP_ENV is {other:?}: use development, testing or production"
            ))),
        }
    }
}

/// Every setting of the service.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The HTTP server.
    pub server: ServerSettings,
    /// The database.
    pub database: DatabaseSettings,
    /// Tokens.
    pub jwt: JwtSettings,
    /// Password hashing.
    pub password: PasswordSettings,
    /// Logs.
    pub log: LogSettings,
    /// The admin listener (metrics).
    pub admin: AdminSettings,
    /// Rate limits (the client address they count comes from
    /// `server.trusted_proxies`).
    pub rate_limit: RateLimitSettings,
    /// Two-factor login.
    pub mfa: MfaSettings,
    /// Third-party login (OpenID Connect).
    pub oidc: OidcSettings,
}

/// Third-party login: the OpenID Connect providers, none by default.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The longest any call to a provider may take, in seconds (1 to 60);
    /// then the login answers 503.
    pub timeout_secs: u64,
    /// Seconds a provider's discovery document and keys are used before
    /// they are fetched again.
    pub metadata_ttl_secs: u64,
    /// One `[[oidc.providers]]` table each.
    #[serde(default)]
    pub providers: Vec<OidcProviderSettings>,
}

/// One identity provider.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OidcProviderSettings {
    /// Its name in the paths: 1 to 32 of a-z, digits, `-`, `_`.
    pub name: String,
    /// The issuer URL (discovery is at `/.well-known/openid-configuration`
    /// below it); https, or http to localhost.
    pub issuer: String,
    /// This service's client id at the provider.
    pub client_id: String,
    /// This service's client secret at the provider.
    #[serde(serialize_with = "redacted_secret")]
    pub client_secret: SecretString,
    /// The callback registered at the provider:
    /// `https://<this service>/api/v1/oidc/<name>/callback`.
    pub redirect_uri: String,
    /// Scopes besides `openid` (for a username: `profile`).
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// Two-factor login (TOTP).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MfaSettings {
    /// The key that seals TOTP secrets at rest: 64 hexadecimal digits
    /// (`openssl rand -hex 32`). Production refuses to start without one.
    #[serde(serialize_with = "redacted")]
    pub encryption_key: Option<SecretString>,
    /// The name authenticator apps show next to the account.
    pub issuer: String,
}

/// Rate limits, as the contract sets them by default.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Whether any limit applies.
    pub enabled: bool,
    /// Failed logins of one username in a window, then 429 for it.
    pub login_failures_per_username: u32,
    /// That window, in seconds.
    pub login_failure_window_secs: u64,
    /// Login attempts from one client address a minute.
    pub login_per_address_per_minute: u32,
    /// Registrations from one client address an hour.
    pub register_per_address_per_hour: u32,
    /// Refreshes (and second login steps) from one client address a minute.
    pub refresh_per_address_per_minute: u32,
}

impl RateLimitSettings {
    /// The domain's limits, or `None` when disabled.
    pub fn limits(&self) -> Option<RateLimits> {
        let limit = |max, secs: u64| RateLimit {
            max,
            window: time::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX)),
        };
        self.enabled.then(|| RateLimits {
            login_failures_per_username: limit(
                self.login_failures_per_username,
                self.login_failure_window_secs,
            ),
            login_per_address: limit(self.login_per_address_per_minute, 60),
            register_per_address: limit(self.register_per_address_per_hour, 3600),
            refresh_per_address: limit(self.refresh_per_address_per_minute, 60),
        })
    }
}

/// The admin listener: metrics, apart from the public API.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    /// Whether to serve `GET /metrics`.
    pub metrics_enabled: bool,
    /// Where: keep it private (the default is the loopback interface).
    pub metrics_address: String,
}

impl Settings {
    /// Checks the values that types alone cannot.
    ///
    /// # Errors
    /// A sentence naming the first setting out of range.
    pub fn validate(&self) -> Result<(), String> {
        let checks = [
            (
                self.database.pool_size >= 1,
                "database.pool_size must be at least 1",
            ),
            (
                self.database.connect_timeout_secs >= 1,
                "database.connect_timeout_secs must be at least 1",
            ),
            (
                self.database.event_retention_days >= 1,
                "database.event_retention_days must be at least 1",
            ),
            (
                self.jwt.access_ttl_secs >= 1,
                "JWT_ACCESS_TOKEN_EXPIRES must be at least 1 second",
            ),
            (
                self.jwt.refresh_ttl_secs >= self.jwt.access_ttl_secs,
                "JWT_REFRESH_TOKEN_EXPIRES must not be shorter than JWT_ACCESS_TOKEN_EXPIRES",
            ),
            (
                (4..=31).contains(&self.password.bcrypt_cost),
                "password.bcrypt_cost must be 4 to 31",
            ),
            (
                self.server.body_limit_bytes >= 1024,
                "server.body_limit_bytes must be at least 1024",
            ),
            (
                self.server.body_timeout_secs >= 1,
                "server.body_timeout_secs must be at least 1",
            ),
            (
                (1..=60).contains(&self.oidc.timeout_secs),
                "oidc.timeout_secs must be 1 to 60",
            ),
            (
                [
                    self.rate_limit.login_failures_per_username,
                    self.rate_limit.login_per_address_per_minute,
                    self.rate_limit.register_per_address_per_hour,
                    self.rate_limit.refresh_per_address_per_minute,
                ]
                .iter()
                .all(|limit| *limit >= 1)
                    && (1..=86_400).contains(&self.rate_limit.login_failure_window_secs),
                "rate_limit: every limit must be at least 1, and login_failure_window_secs 1 to 86400",
            ),
        ];
        checks
            .iter()
            .find(|(ok, _)| !ok)
            .map_or(Ok(()), |(_, problem)| Err((*problem).to_owned()))?;
        self.server.trusted_proxies().map(drop)
    }
}

/// The HTTP server.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Listening address (`HOST`).
    pub host: String,
    /// Listening port (`PORT`); 0 picks a free one.
    pub port: u16,
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// Longest time to receive a request body, in seconds; then `408`.
    pub body_timeout_secs: u64,
    /// Addresses or CIDR ranges of the proxies whose `X-Forwarded-For` is
    /// believed; empty: the peer is the client. A TOML list, or one string
    /// of comma-separated entries (as an environment variable gives it).
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub trusted_proxies: Vec<String>,
    /// Grace period for in-flight requests at shutdown, in seconds.
    pub shutdown_timeout_secs: u64,
    /// Worker threads; unset: one per CPU.
    pub workers: Option<usize>,
    /// A PEM certificate chain: with `tls_private_key`, the listener serves
    /// HTTPS only (and says `Strict-Transport-Security`).
    pub tls_certificate: Option<String>,
    /// The PEM private key of `tls_certificate`.
    pub tls_private_key: Option<String>,
}

/// Secrets as printed: how many, never what they are.
fn redacted_list<S: Serializer>(secrets: &[String], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(secrets.iter().map(|_| "[redacted]"))
}

/// A secret that is always set, as printed: never what it is.
fn redacted_secret<S: Serializer>(_: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str("[redacted]")
}

/// A secret as printed: whether it is set, never what it is.
fn redacted<S: Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(if secret.is_some() {
        "[redacted]"
    } else {
        "[not set]"
    })
}

/// A database URL as printed: a password in it is replaced.
fn url_without_password<S: Serializer>(url: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&redact_url_password(url))
}

/// `scheme://user:password@host/...` with the password replaced by
/// `[redacted]`; anything else unchanged.
pub fn redact_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((credentials, host)) if credentials.contains(':') => {
            let user = credentials
                .split_once(':')
                .map_or(credentials, |(user, _)| user);
            format!("{scheme}://{user}:[redacted]@{host}{tail}")
        }
        _ => url.to_owned(),
    }
}

/// A list, or a string of comma-separated entries (blank ones dropped).
fn list_or_comma_separated<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrString {
        List(Vec<String>),
        String(String),
    }
    Ok(match ListOrString::deserialize(deserializer)? {
        ListOrString::List(list) => list,
        ListOrString::String(text) => text
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

impl ServerSettings {
    /// The body timeout.
    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_secs)
    }

    /// The trusted proxies as networks; a bare address is a network of one.
    ///
    /// # Errors
    /// A sentence naming the first entry that is neither.
    pub fn trusted_proxies(&self) -> Result<Vec<IpNet>, String> {
        self.trusted_proxies
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!(
                            "server.trusted_proxies: {entry:?} is not an IP address or CIDR range"
                        )
                    })
            })
            .collect()
    }
}

/// The database.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// A SQLite path or `sqlite:///path`, or a `postgres://` URL (`DATABASE_URL`).
    #[serde(serialize_with = "url_without_password")]
    pub url: String,
    /// The most pooled connections.
    pub pool_size: u32,
    /// How long to wait for a connection before answering 503, in seconds.
    pub connect_timeout_secs: u64,
    /// Whether `serve` applies pending migrations first.
    pub migrate_on_start: bool,
    /// Seconds between purges of expired sessions, ended rate-limit
    /// windows and old security events.
    pub session_purge_interval_secs: u64,
    /// Days security events are kept.
    pub event_retention_days: u16,
}

impl DatabaseSettings {
    /// The connection timeout.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }

    /// How long security events are kept.
    pub fn event_retention(&self) -> time::Duration {
        time::Duration::days(i64::from(self.event_retention_days))
    }
}

/// Tokens.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSettings {
    /// The HS256 secret (`JWT_SECRET_KEY`).
    #[serde(serialize_with = "redacted")]
    pub secret: Option<SecretString>,
    /// Access token lifetime in seconds (`JWT_ACCESS_TOKEN_EXPIRES`).
    pub access_ttl_secs: u32,
    /// Session and refresh token lifetime in seconds (`JWT_REFRESH_TOKEN_EXPIRES`).
    pub refresh_ttl_secs: u32,
    /// Tolerated clock skew in seconds.
    pub leeway_secs: u64,
    /// The `iss` claim.
    pub issuer: String,
    /// The `aud` claim.
    pub audience: String,
    /// HS256 secrets that still verify while `secret` signs: a secret
    /// rotates without logging anyone out. A TOML list, or one
    /// comma-separated string.
    #[serde(
        deserialize_with = "list_or_comma_separated",
        serialize_with = "redacted_list"
    )]
    pub previous_secrets: Vec<String>,
    /// A key set directory (`blog-api keys generate` writes one): asymmetric
    /// keys instead of the HS256 secret. Every key in it verifies.
    pub keys_dir: Option<String>,
    /// The kid of the key set's key that signs.
    pub signing_key: Option<String>,
}

/// Password hashing.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordSettings {
    /// bcrypt cost, 4 to 31.
    pub bcrypt_cost: u32,
    /// Hashes running at once (hashing threads, at a lower priority than
    /// requests); unset: one per CPU.
    pub max_concurrent_hashes: Option<usize>,
}

impl PasswordSettings {
    /// How many hashing threads to run.
    pub fn hashing_threads(&self) -> usize {
        self.max_concurrent_hashes
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
            .max(1)
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people.
    Pretty,
    /// One JSON object per line, for collectors.
    Json,
}

/// Logs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// An `EnvFilter` directive; `RUST_LOG` wins over it.
    pub filter: String,
    /// Pretty or JSON.
    pub format: LogFormat,
}

/// The seed's variable names, kept so that its deployments keep working.
const SEED_VARIABLES: [(&str, &str); 6] = [
    ("DATABASE_URL", "database.url"),
    ("JWT_SECRET_KEY", "jwt.secret"),
    ("JWT_ACCESS_TOKEN_EXPIRES", "jwt.access_ttl_secs"),
    ("JWT_REFRESH_TOKEN_EXPIRES", "jwt.refresh_ttl_secs"),
    ("HOST", "server.host"),
    ("PORT", "server.port"),
];

/// Where `config/` is: `APP_CONFIG_DIR`, else `./config` when it exists
/// (`cargo run` from the workspace), else the workspace's own folder (tests
/// run from a crate's folder).
pub fn config_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("APP_CONFIG_DIR") {
        return PathBuf::from(dir);
    }
    let local = PathBuf::from("config");
    if local.join("default.toml").is_file() {
        local
    } else {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../config"))
    }
}

/// Reads the settings of `profile` from the files and the environment.
///
/// Values stay strings until deserialized (no `try_parsing`), so a secret
/// made of digits stays a string.
///
/// # Errors
/// A missing `default.toml`, a malformed file, or a value of the wrong type.
pub fn load(profile: Profile) -> Result<Settings, ConfigError> {
    load_with(profile, std::env::vars().collect())
}

/// [`load`] with the environment given as a map, for tests.
///
/// # Errors
/// As [`load`].
pub fn load_with(
    profile: Profile,
    environment: HashMap<String, String>,
) -> Result<Settings, ConfigError> {
    let dir = config_dir();
    let mut builder = Config::builder()
        .add_source(File::from(dir.join("default.toml")))
        .add_source(File::from(dir.join(format!("{}.toml", profile.as_str()))).required(false))
        .add_source(
            Environment::with_prefix("APP")
                .prefix_separator("__")
                .separator("__")
                .source(Some(environment.clone())),
        );
    for (variable, key) in SEED_VARIABLES {
        builder = builder.set_override_option(key, environment.get(variable).cloned())?;
    }
    builder.build()?.try_deserialize()
}

/// Why the JWT secret cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// None was configured.
    #[error("JWT_SECRET_KEY is not set: production needs a random secret of at least 32 bytes")]
    Missing,
    /// Set, but empty or only whitespace.
    #[error("JWT_SECRET_KEY is empty: production needs a random secret of at least 32 bytes")]
    Empty,
    /// A short pattern repeated, such as `abcabcabc…`: long, but guessable.
    #[error("JWT_SECRET_KEY is a short pattern repeated: use a random secret of at least 32 bytes")]
    Repetitive,
    /// Shorter than 32 bytes.
    #[error("JWT_SECRET_KEY is shorter than 32 bytes: use a random secret of at least 32 bytes")]
    TooShort,
    /// A value copied from an example or a default.
    #[error(
        "JWT_SECRET_KEY is a well-known example value: use a random secret of at least 32 bytes"
    )]
    WellKnown,
}

/// The shortest secret accepted in production: 256 bits for HS256.
pub const MIN_SECRET_BYTES: usize = 32;

/// Secrets from examples, tutorials and the seed's defaults, refused as they are.
const WELL_KNOWN_SECRETS: [&str; 10] = [
    "secret",
    "secret-key",
    "secretkey",
    "jwt-secret",
    "jwt-secret-string",
    "jwt_secret_key",
    "super-secret",
    "super-secret-key",
    "dev-secret",
    "password",
];

/// Phrases that mark a placeholder however it is padded.
const PLACEHOLDER_PHRASES: [&str; 9] = [
    "changeme",
    "change-me",
    "change_me",
    "change-this",
    "change-in-production",
    "your-secret",
    "your-256-bit-secret",
    "replace-me",
    "placeholder",
];

/// A secret that repeats a pattern of at most this many bytes is refused.
const MAX_REPEATED_PATTERN_BYTES: usize = 8;

/// Checks a secret for production.
///
/// # Errors
/// [`SecretError`] when it is missing or empty, a well-known value or
/// placeholder, a short pattern repeated, or shorter than 32 bytes.
pub fn check_secret(secret: Option<&SecretString>) -> Result<(), SecretError> {
    let secret = secret
        .map(ExposeSecret::expose_secret)
        .ok_or(SecretError::Missing)?;
    let lower = secret.trim().to_ascii_lowercase();
    if lower.is_empty() {
        Err(SecretError::Empty)
    } else if WELL_KNOWN_SECRETS.contains(&lower.as_str())
        || PLACEHOLDER_PHRASES
            .iter()
            .any(|phrase| lower.contains(phrase))
    {
        Err(SecretError::WellKnown)
    } else if is_repetitive(lower.as_bytes()) {
        Err(SecretError::Repetitive)
    } else if secret.len() < MIN_SECRET_BYTES {
        Err(SecretError::TooShort)
    } else {
        Ok(())
    }
}

/// Whether `bytes` is one pattern of up to [`MAX_REPEATED_PATTERN_BYTES`]
/// repeated (the last repetition may be cut short).
fn is_repetitive(bytes: &[u8]) -> bool {
    (1..=MAX_REPEATED_PATTERN_BYTES.min(bytes.len() / 2)).any(|period| {
        bytes
            .iter()
            .zip(bytes.iter().skip(period))
            .all(|(a, b)| a == b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(value: &str) -> SecretString {
        SecretString::from(value)
    }

    #[test]
    fn a_random_32_byte_secret_is_accepted() {
        assert_eq!(
            check_secret(Some(&secret("q3Z8pL1xV7mN4bR9tY2wK6cJ0hF5gD3s"))),
            Ok(())
        );
    }

    #[test]
    fn missing_short_and_well_known_secrets_are_refused() {
        assert_eq!(check_secret(None), Err(SecretError::Missing));
        assert_eq!(
            check_secret(Some(&secret("short-but-random-9f8e7d"))),
            Err(SecretError::TooShort)
        );
        assert_eq!(
            check_secret(Some(&secret("super-secret"))),
            Err(SecretError::WellKnown)
        );
        assert_eq!(
            check_secret(Some(&secret(
                "your-256-bit-secret-padded-to-be-long-enough"
            ))),
            Err(SecretError::WellKnown)
        );
    }

    #[test]
    fn empty_and_repetitive_secrets_are_named_for_what_they_are() {
        for empty in ["", "   ", "\t\n"] {
            assert_eq!(check_secret(Some(&secret(empty))), Err(SecretError::Empty));
        }
        for repetitive in [
            "a".repeat(64),
            "ab".repeat(20),
            "0123456789".repeat(4).get(..40).unwrap().to_owned(),
            "abcdefgh".repeat(5),
            "Abc1Abc1Abc1Abc1Abc1Abc1Abc1Abc1Abc1".to_owned(),
        ] {
            let expected = if repetitive.starts_with("0123") {
                // A period of ten is past the pattern bound: length decides.
                Ok(())
            } else {
                Err(SecretError::Repetitive)
            };
            assert_eq!(
                check_secret(Some(&secret(&repetitive))),
                expected,
                "{repetitive}"
            );
        }
    }

    #[test]
    fn printed_settings_show_no_secret() {
        assert_eq!(
            redact_url_password("postgres://blog:s3cret@db:5432/blog?sslmode=require"),
            "postgres://blog:[redacted]@db:5432/blog?sslmode=require"
        );
        for unchanged in ["postgres://blog@db/blog", "blog.db", "sqlite:///blog.db"] {
            assert_eq!(redact_url_password(unchanged), unchanged);
        }
        let mut settings = load_with(Profile::Development, HashMap::new()).unwrap();
        settings.jwt.secret = Some(SecretString::from("q3Z8pL1xV7mN4bR9tY2wK6cJ0hF5gD3s"));
        settings.database.url = "postgres://u:hunter2@h/db".into();
        let printed = serde_json::to_string(&settings).unwrap();
        assert!(
            !printed.contains("q3Z8") && !printed.contains("hunter2"),
            "{printed}"
        );
        assert!(printed.contains("[redacted]"), "{printed}");
    }

    #[test]
    fn profiles_parse_from_their_names() {
        assert_eq!(
            "production".parse::<Profile>().ok(),
            Some(Profile::Production)
        );
        assert_eq!("Testing".parse::<Profile>().ok(), Some(Profile::Testing));
        assert!("prod".parse::<Profile>().is_err());
    }

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_seed_variable_names_override_the_files() {
        let settings = load_with(
            Profile::Development,
            env(&[
                ("DATABASE_URL", "postgres://u@127.0.0.1/blog"),
                ("JWT_SECRET_KEY", "12345678901234567890123456789012"),
                ("JWT_ACCESS_TOKEN_EXPIRES", "60"),
                ("JWT_REFRESH_TOKEN_EXPIRES", "120"),
                ("HOST", "0.0.0.0"),
                ("PORT", "9090"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.database.url, "postgres://u@127.0.0.1/blog");
        // A secret of digits stays the same string, not a number.
        assert_eq!(
            settings
                .jwt
                .secret
                .map(|s| s.expose_secret().to_owned())
                .as_deref(),
            Some("12345678901234567890123456789012")
        );
        assert_eq!(
            (settings.jwt.access_ttl_secs, settings.jwt.refresh_ttl_secs),
            (60, 120)
        );
        assert_eq!(
            (settings.server.host.as_str(), settings.server.port),
            ("0.0.0.0", 9090)
        );
    }

    #[test]
    fn the_shipped_settings_are_valid_and_out_of_range_ones_are_named() {
        assert_eq!(
            load_with(Profile::Production, HashMap::new())
                .unwrap()
                .validate(),
            Ok(())
        );
        for (variable, value, named) in [
            ("APP__DATABASE__POOL_SIZE", "0", "pool_size"),
            (
                "APP__DATABASE__EVENT_RETENTION_DAYS",
                "0",
                "event_retention_days",
            ),
            ("JWT_ACCESS_TOKEN_EXPIRES", "0", "JWT_ACCESS_TOKEN_EXPIRES"),
            (
                "JWT_REFRESH_TOKEN_EXPIRES",
                "60",
                "JWT_REFRESH_TOKEN_EXPIRES",
            ),
            ("APP__PASSWORD__BCRYPT_COST", "40", "bcrypt_cost"),
        ] {
            let settings = load_with(Profile::Development, env(&[(variable, value)])).unwrap();
            assert!(
                settings
                    .validate()
                    .is_err_and(|problem| problem.contains(named)),
                "{variable}"
            );
        }
    }

    #[test]
    fn trusted_proxies_come_as_a_comma_separated_variable_and_bad_ones_are_named() {
        let settings = load_with(
            Profile::Development,
            env(&[(
                "APP__SERVER__TRUSTED_PROXIES",
                "10.0.0.0/8, 192.168.1.7,::1",
            )]),
        )
        .unwrap();
        assert_eq!(
            settings.server.trusted_proxies().unwrap(),
            ["10.0.0.0/8", "192.168.1.7/32", "::1/128"].map(|net| net.parse::<IpNet>().unwrap())
        );
        let settings = load_with(
            Profile::Development,
            env(&[("APP__SERVER__TRUSTED_PROXIES", "10.0.0.0/8,proxy.local")]),
        )
        .unwrap();
        assert!(
            settings
                .validate()
                .is_err_and(|problem| problem.contains("proxy.local")),
        );
        let default = load_with(Profile::Production, HashMap::new()).unwrap();
        assert!(default.server.trusted_proxies.is_empty());
    }

    #[test]
    fn app_variables_set_any_key_and_bad_values_are_errors() {
        let settings = load_with(
            Profile::Development,
            env(&[("APP__DATABASE__POOL_SIZE", "3")]),
        )
        .unwrap();
        assert_eq!(settings.database.pool_size, 3);
        assert!(load_with(Profile::Development, env(&[("PORT", "eighty")])).is_err());
        assert!(load_with(Profile::Development, env(&[("APP__LOG__FORMAT", "xml")])).is_err());
    }

    #[test]
    fn the_shipped_files_load_for_every_profile() {
        for profile in [Profile::Development, Profile::Testing, Profile::Production] {
            let settings = load_with(profile, HashMap::new()).unwrap();
            assert_eq!(settings.jwt.access_ttl_secs, 3600, "{profile:?}");
        }
        assert_eq!(
            load_with(Profile::Production, HashMap::new())
                .unwrap()
                .log
                .format,
            LogFormat::Json
        );
        assert_eq!(
            load_with(Profile::Testing, HashMap::new())
                .unwrap()
                .password
                .bcrypt_cost,
            4
        );
    }
}
