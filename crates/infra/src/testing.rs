//! Throwaway databases for tests: a SQLite file in a temp folder, or a fresh
//! PostgreSQL database created on the server named by
//! `BLOG_TEST_POSTGRES_URL` and dropped again on `Drop`; and the one
//! backend-matrix macro, [`backend_matrix!`](crate::backend_matrix).

use diesel::{Connection, PgConnection, RunQueryDsl};

use blog_domain::ports::IdGenerator;

use crate::OsRandomIds;

/// The variable that turns the PostgreSQL tests on: a URL of a server where
/// databases may be created, such as `postgres://postgres@127.0.0.1:5432/postgres`.
pub const POSTGRES_URL_VAR: &str = "BLOG_TEST_POSTGRES_URL";

/// The backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL database on the server of `BLOG_TEST_POSTGRES_URL`.
    Postgres,
}

/// Generates, for each named test function, one `#[test]` per backend,
/// `sqlite::name` and `postgres::name`, each calling
/// `$runner(TestBackend, super::name)`: the runner prepares what the test
/// takes (a pool, a running app) on that backend.
///
/// The PostgreSQL tests are `#[ignore]`d unless the calling crate was built
/// with `BLOG_TEST_POSTGRES_URL` set, which its build script turns into the
/// `blog_postgres_tests` cfg: without a server they show as ignored, never
/// as passed, and the same `cargo test` runs them where it is set (CI).
#[macro_export]
macro_rules! backend_matrix {
    ($runner:path; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    $runner($crate::testing::TestBackend::Sqlite, super::$name);
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                #[cfg_attr(not(blog_postgres_tests), ignore = "needs BLOG_TEST_POSTGRES_URL")]
                fn $name() {
                    $runner($crate::testing::TestBackend::Postgres, super::$name);
                }
            )*
        }
    };
}

/// A database that exists as long as this value does.
pub enum TestDatabase {
    /// A SQLite file in its own temp folder.
    Sqlite {
        /// Removed with the folder on drop.
        dir: tempfile::TempDir,
        /// The file's path.
        url: String,
    },
    /// A PostgreSQL database of its own.
    Postgres {
        /// The server's URL, for dropping the database.
        admin_url: String,
        /// The database's name.
        name: String,
        /// The database's URL.
        url: String,
    },
}

impl TestDatabase {
    fn sqlite() -> Self {
        #[expect(clippy::expect_used, reason = "test support: fail the test loudly")]
        let dir = tempfile::tempdir().expect("a temp folder for the SQLite test database");
        let url = dir.path().join("blog.db").display().to_string();
        Self::Sqlite { dir, url }
    }

    /// A new database of `backend`.
    ///
    /// # Panics
    /// When no temp folder can be made, or for PostgreSQL when
    /// `BLOG_TEST_POSTGRES_URL` is unset or the database cannot be created:
    /// a test that asked for PostgreSQL must not pass without it.
    pub fn new(backend: TestBackend) -> Self {
        match backend {
            TestBackend::Sqlite => Self::sqlite(),
            TestBackend::Postgres => Self::postgres(),
        }
    }

    /// The backend this database is on.
    pub fn backend(&self) -> TestBackend {
        match self {
            Self::Sqlite { .. } => TestBackend::Sqlite,
            Self::Postgres { .. } => TestBackend::Postgres,
        }
    }

    fn postgres() -> Self {
        let admin_url = std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| {
            panic!("{POSTGRES_URL_VAR} is unset: this test needs a PostgreSQL server")
        });
        let name = format!("blog_test_{}", OsRandomIds.token_id());
        let mut admin = connect(&admin_url);
        #[expect(clippy::expect_used, reason = "test support: fail the test loudly")]
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("CREATE DATABASE");
        let url = database_url(&admin_url, &name);
        Self::Postgres {
            admin_url,
            name,
            url,
        }
    }

    /// The database's URL, as `DATABASE_URL` takes it.
    pub fn url(&self) -> &str {
        match self {
            Self::Sqlite { url, .. } | Self::Postgres { url, .. } => url,
        }
    }

    /// The database's name on the server (PostgreSQL only).
    pub fn postgres_name(&self) -> Option<&str> {
        match self {
            Self::Sqlite { .. } => None,
            Self::Postgres { name, .. } => Some(name),
        }
    }

    /// A connection to the PostgreSQL server as the administrator, to
    /// simulate outages (PostgreSQL only).
    pub fn admin_connection(&self) -> Option<PgConnection> {
        match self {
            Self::Sqlite { .. } => None,
            Self::Postgres { admin_url, .. } => Some(connect(admin_url)),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Self::Postgres {
            admin_url, name, ..
        } = self
            && let Ok(mut admin) = PgConnection::establish(admin_url)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin);
        }
    }
}

fn connect(url: &str) -> PgConnection {
    PgConnection::establish(url)
        .unwrap_or_else(|error| panic!("{POSTGRES_URL_VAR} is set but unreachable: {error}"))
}

/// The server URL with its database name replaced by `name`.
fn database_url(server_url: &str, name: &str) -> String {
    let (base, query) = server_url
        .split_once('?')
        .map_or((server_url, None), |(b, q)| (b, Some(q)));
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base
        .get(authority_end..)
        .and_then(|rest| rest.find('/'))
        .map_or(base.len(), |i| authority_end + i);
    let prefix = base.get(..path_start).unwrap_or(base);
    match query {
        Some(query) => format!("{prefix}/{name}?{query}"),
        None => format!("{prefix}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_swaps_the_database_name() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(database_url("postgres://u@h:1", "x"), "postgres://u@h:1/x");
        assert_eq!(
            database_url("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
