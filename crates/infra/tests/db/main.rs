//! The Diesel adapters against real databases: a temp SQLite file, and a
//! fresh PostgreSQL database where `BLOG_TEST_POSTGRES_URL` is set (else
//! those tests show as ignored). The repositories run the domain's
//! conformance suites; the rest is what only a database has: migrations,
//! URLs, outages.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::sync::Arc;
use std::time::Duration;

use blog_domain::ports::UserRepository;
use blog_domain::testing::{
    mfa_repository_contract, pending_login_repository_contract, post_repository_contract,
    rate_limiter_contract, security_event_repository_contract, session_repository_contract,
    user_repository_contract,
};
use blog_domain::{
    Client, NewUser, PasswordHash, SecurityEvent, SecurityEventKind, User, Username,
};
use blog_infra::testing::{TestBackend, TestDatabase};
use blog_infra::{
    DatabaseUrl, DbPool, DieselMfaRepository, DieselPendingLoginRepository, DieselPostRepository,
    DieselRateLimiter, DieselSecurityEventRepository, DieselSessionRepository,
    DieselUserRepository, PoolOptions, db,
};
use time::OffsetDateTime;
use time::macros::datetime;

pub const NOW: OffsetDateTime = datetime!(2026-11-28 10:00:00 UTC);

/// A URL the tests know to be valid.
pub fn url(url: &str) -> DatabaseUrl {
    DatabaseUrl::parse(url).unwrap()
}

/// A migrated pool on `database`.
pub fn pool(database: &TestDatabase) -> DbPool {
    let pool = db::pool(
        &url(database.url()),
        &PoolOptions {
            max_size: 4,
            connection_timeout: Duration::from_secs(5),
        },
    );
    db::run_migrations(&pool).unwrap();
    pool
}

/// An event of `kind` at [`NOW`], of no one in particular.
pub fn event(kind: SecurityEventKind) -> SecurityEvent {
    SecurityEvent {
        kind,
        user_id: None,
        session_id: None,
        client: Client::default(),
        provider: None,
        at: NOW,
    }
}

pub fn create_user(pool: &DbPool, name: &str) -> User {
    DieselUserRepository::new(pool.clone())
        .create(
            &NewUser {
                username: Username::parse(name).unwrap(),
                password_hash: Some(PasswordHash::new(format!("$2b$04$hash-of-{name}"))),
                created_at: NOW,
            },
            &event(SecurityEventKind::Registered),
        )
        .unwrap()
}

/// Runs `test` on a migrated pool of a fresh database of `backend`.
fn on_a_pool(backend: TestBackend, test: impl FnOnce(&DbPool)) {
    let database = TestDatabase::new(backend);
    test(&pool(&database));
}

/// Runs `test` with the backend alone: it makes its own databases.
fn on_the_backend(backend: TestBackend, test: impl FnOnce(TestBackend)) {
    test(backend);
}

mod pooled {
    use super::*;

    blog_infra::backend_matrix!(
        crate::on_a_pool;
        migrations_can_run_twice,
        a_migrated_database_is_up_to_date,
        a_purge_deletes_more_than_a_batch_of_expired_sessions_and_keeps_live_ones,
    );
}

mod contracts {
    use super::*;

    blog_infra::backend_matrix!(
        crate::on_the_backend;
        the_user_repository_meets_the_domain_contract,
        the_post_repository_meets_the_domain_contract,
        the_session_repository_meets_the_domain_contract,
        the_security_event_repository_meets_the_domain_contract,
        the_mfa_repository_meets_the_domain_contract,
        the_rate_limiter_meets_the_domain_contract,
        the_pending_login_repository_meets_the_domain_contract,
    );
}

/// A fresh migrated database for one check of a contract, with the user
/// repository on it; the database lives as long as the guard.
fn fresh(backend: TestBackend) -> (DbPool, Arc<dyn UserRepository>, TestDatabase) {
    let database = TestDatabase::new(backend);
    let pool = pool(&database);
    let users = Arc::new(DieselUserRepository::new(pool.clone()));
    (pool, users, database)
}

fn events(pool: DbPool) -> Arc<DieselSecurityEventRepository> {
    Arc::new(DieselSecurityEventRepository::new(pool))
}

fn the_user_repository_meets_the_domain_contract(backend: TestBackend) {
    user_repository_contract(|| {
        let (pool, users, database) = fresh(backend);
        (users, events(pool), database)
    });
}

fn the_mfa_repository_meets_the_domain_contract(backend: TestBackend) {
    mfa_repository_contract(|| {
        let (pool, users, database) = fresh(backend);
        (
            users,
            Arc::new(DieselMfaRepository::new(pool.clone())),
            events(pool),
            database,
        )
    });
}

fn the_security_event_repository_meets_the_domain_contract(backend: TestBackend) {
    security_event_repository_contract(|| {
        let (pool, users, database) = fresh(backend);
        (users, events(pool), database)
    });
}

fn the_post_repository_meets_the_domain_contract(backend: TestBackend) {
    post_repository_contract(|| {
        let (pool, users, database) = fresh(backend);
        (users, Arc::new(DieselPostRepository::new(pool)), database)
    });
}

fn the_session_repository_meets_the_domain_contract(backend: TestBackend) {
    session_repository_contract(|| {
        let (pool, users, database) = fresh(backend);
        (
            users,
            Arc::new(DieselSessionRepository::new(pool.clone())),
            events(pool),
            database,
        )
    });
}

fn the_rate_limiter_meets_the_domain_contract(backend: TestBackend) {
    rate_limiter_contract(|| {
        let (pool, _, database) = fresh(backend);
        (Arc::new(DieselRateLimiter::new(pool)), database)
    });
}

fn the_pending_login_repository_meets_the_domain_contract(backend: TestBackend) {
    pending_login_repository_contract(|| {
        let (pool, _, database) = fresh(backend);
        (Arc::new(DieselPendingLoginRepository::new(pool)), database)
    });
}

fn a_purge_deletes_more_than_a_batch_of_expired_sessions_and_keeps_live_ones(pool: &DbPool) {
    use blog_domain::ports::SessionRepository;
    use diesel::RunQueryDsl;
    let alice = create_user(pool, "alice");
    // 1,100 expired sessions in one statement: more than two purge batches.
    let insert = match &mut *pool.get().unwrap() {
        db::DbConnection::Sqlite(connection) => diesel::sql_query(format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1100) \
             INSERT INTO sessions (id, user_id, refresh_token_id, created_at, expires_at) \
             SELECT printf('%032x', i), {}, printf('%032x', i), '2026-01-01 00:00:00', \
             '2026-01-01 00:00:00' FROM n",
            alice.id
        ))
        .execute(connection),
        db::DbConnection::Postgres(connection) => diesel::sql_query(format!(
            "INSERT INTO sessions (id, user_id, refresh_token_id, created_at, expires_at) \
             SELECT lpad(to_hex(i), 32, '0'), {}, lpad(to_hex(i), 32, '0'), \
             timestamp '2026-01-01', timestamp '2026-01-01' FROM generate_series(1, 1100) i",
            alice.id
        ))
        .execute(connection),
    };
    assert_eq!(insert.unwrap(), 1100);
    let sessions = DieselSessionRepository::new(pool.clone());
    let live = blog_domain::Session {
        id: blog_domain::SessionId::from_bytes([0xee; 16]),
        user_id: alice.id,
        refresh_token_id: blog_domain::TokenId::from_bytes([0xee; 16]),
        created_at: NOW,
        last_used_at: NOW,
        expires_at: NOW + time::Duration::days(1),
        revoked_at: None,
        client: Client::default(),
    };
    sessions
        .create(&live, &event(SecurityEventKind::LoginSucceeded))
        .unwrap();
    assert_eq!(sessions.delete_expired(NOW).unwrap(), 1100);
    assert_eq!(sessions.find(&live.id).unwrap(), Some(live));
    assert_eq!(sessions.delete_expired(NOW).unwrap(), 0);
}

#[test]
#[cfg_attr(not(blog_postgres_tests), ignore = "needs BLOG_TEST_POSTGRES_URL")]
fn one_instance_purges_at_a_time_on_postgres() {
    let database = TestDatabase::new(TestBackend::Postgres);
    let pool = pool(&database);
    let other = pool.clone();
    let nested = db::exclusively(&pool, || {
        // While one holds the lock, another instance's purge is skipped.
        db::exclusively(&other, || "ran").unwrap()
    })
    .unwrap();
    assert_eq!(nested, Some(None));
    assert_eq!(
        db::exclusively(&pool, || "ran").unwrap(),
        Some("ran"),
        "released"
    );
    // A purge that panics releases the lock too.
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        db::exclusively(&pool, || panic!("purge failed"))
    }));
    assert!(panicked.is_err());
    // Asked from connections of another pool, that is another session.
    assert_eq!(
        db::exclusively(&self::pool(&database), || "ran").unwrap(),
        Some("ran"),
        "released after a panic"
    );
}

fn migrations_can_run_twice(pool: &DbPool) {
    db::run_migrations(pool).unwrap();
}

#[test]
fn a_pool_on_an_unreachable_postgres_reports_unavailable() {
    let pool = db::pool(
        &url("postgres://postgres@127.0.0.1:1/none"),
        &PoolOptions {
            max_size: 1,
            connection_timeout: Duration::from_millis(300),
        },
    );
    let error = DieselUserRepository::new(pool)
        .find(blog_domain::UserId::new(1).unwrap())
        .unwrap_err();
    assert!(
        matches!(error, blog_domain::ports::RepositoryError::Unavailable(_)),
        "{error:?}"
    );
}

#[test]
#[cfg_attr(not(blog_postgres_tests), ignore = "needs BLOG_TEST_POSTGRES_URL")]
fn instances_migrating_at_once_on_postgres_all_succeed() {
    let database = TestDatabase::new(TestBackend::Postgres);
    let options = PoolOptions {
        max_size: 1,
        connection_timeout: Duration::from_secs(10),
    };
    std::thread::scope(|scope| {
        let runs: Vec<_> = (0..4)
            .map(|_| {
                let pool = db::pool(&url(database.url()), &options);
                scope.spawn(move || db::run_migrations(&pool))
            })
            .collect();
        for run in runs {
            run.join().unwrap().unwrap();
        }
    });
    create_user(&pool(&database), "alice");
}

#[test]
fn a_sqlite_url_with_four_slashes_names_the_same_file_as_its_absolute_path() {
    let database = TestDatabase::new(TestBackend::Sqlite);
    assert!(database.url().starts_with('/'), "{}", database.url());
    let options = PoolOptions {
        max_size: 1,
        connection_timeout: Duration::from_secs(5),
    };
    let with_scheme = db::pool(&url(&format!("sqlite:///{}", database.url())), &options);
    db::run_migrations(&with_scheme).unwrap();
    create_user(&with_scheme, "alice");
    let plain = db::pool(&url(database.url()), &options);
    let found = DieselUserRepository::new(plain)
        .find_credentials(&Username::parse("alice").unwrap())
        .unwrap();
    assert!(found.is_some());
}

fn a_migrated_database_is_up_to_date(pool: &DbPool) {
    assert_eq!(
        db::migration_status(pool).unwrap(),
        db::MigrationStatus::default()
    );
}

#[test]
fn a_fresh_database_has_every_migration_pending_and_a_newer_one_is_reported() {
    use diesel::RunQueryDsl;
    let database = TestDatabase::new(TestBackend::Sqlite);
    let pool = db::pool(
        &url(database.url()),
        &PoolOptions {
            max_size: 1,
            connection_timeout: Duration::from_secs(5),
        },
    );
    let fresh = db::migration_status(&pool).unwrap();
    assert!(!fresh.is_up_to_date());
    assert!(
        !fresh.pending.is_empty() && fresh.unknown.is_empty(),
        "{fresh:?}"
    );

    db::run_migrations(&pool).unwrap();
    let mut connection = sqlite_connection(database.url());
    diesel::sql_query("INSERT INTO __diesel_schema_migrations (version) VALUES ('29991231000000')")
        .execute(&mut connection)
        .unwrap();
    let newer = db::migration_status(&pool).unwrap();
    assert!(newer.is_up_to_date());
    assert_eq!(newer.unknown, ["29991231000000"]);
}

fn sqlite_connection(path: &str) -> diesel::SqliteConnection {
    use diesel::Connection;
    diesel::SqliteConnection::establish(path).unwrap()
}
