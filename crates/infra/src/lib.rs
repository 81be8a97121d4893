#![doc = include_str!("../README.md")]

mod batch;
pub mod db;
mod ids;
mod jwt;
pub mod keys;
mod oidc;
mod password;
mod repositories;
mod schema;
#[cfg(feature = "testing")]
pub mod testing;
mod two_factor;
mod writer;

pub use db::{Backend, DatabaseUrl, DbPool, PoolOptions};
pub use ids::{OsRandomIds, SystemClock, random_secret};
pub use jwt::{JwtCodec, JwtKeys, JwtOptions, hmac_kid};
pub use oidc::{OidcConfigError, OidcOptions, OpenIdConnect, ProviderConfig};
pub use password::{BcryptHasher, HashingPool};
pub use repositories::{
    DieselMfaRepository, DieselPendingLoginRepository, DieselPostRepository, DieselRateLimiter,
    DieselSecurityEventRepository, DieselSessionRepository, DieselUserRepository,
};
pub use two_factor::{KeyError, TotpTwoFactor};
