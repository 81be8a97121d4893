//! The HTTP API, black box: the app on a random port over real HTTP, on
//! SQLite always and on PostgreSQL when `BLOG_TEST_POSTGRES_URL` is set,
//! with the same test code.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

mod account;
mod cli;
mod concurrency;
mod errors;
mod events;
mod health;
mod helpers;
mod idp;
mod inputs;
mod jwt_attacks;
mod keys;
mod metrics;
mod multi_instance;
mod oidc;
mod openapi;
mod outage;
mod persistence;
mod posts;
mod rate_limits;
mod tls;
mod tokens;
mod two_factor;
mod users;
