//! Throwaway databases for tests: a SQLite file in a temp folder, or a fresh
//! PostgreSQL database created on the server named by
//! `BLOG_TEST_POSTGRES_URL` and dropped again on `Drop`.

use std::io::Write;
use std::sync::Once;

use diesel::{Connection, PgConnection, RunQueryDsl};

use blog_domain::ports::IdGenerator;

use crate::OsRandomIds;

/// The variable that turns the PostgreSQL tests on: a URL of a server where
/// databases may be created, such as `postgres://postgres@127.0.0.1:5432/postgres`.
pub const POSTGRES_URL_VAR: &str = "BLOG_TEST_POSTGRES_URL";

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
    /// A new SQLite file.
    ///
    /// # Panics
    /// When no temp folder can be made.
    pub fn sqlite() -> Self {
        #[expect(clippy::expect_used, reason = "test support: fail the test loudly")]
        let dir = tempfile::tempdir().expect("a temp folder for the SQLite test database");
        let url = dir.path().join("blog.db").display().to_string();
        Self::Sqlite { dir, url }
    }

    /// A new PostgreSQL database, or `None` (with one visible notice per
    /// test binary) when `BLOG_TEST_POSTGRES_URL` is unset.
    ///
    /// # Panics
    /// When the variable is set but the database cannot be created: a CI that
    /// asked for PostgreSQL must not pass without it.
    pub fn postgres() -> Option<Self> {
        let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
            static NOTICE: Once = Once::new();
            NOTICE.call_once(|| {
                // Straight to stderr: libtest captures only the print macros.
                let _ = writeln!(
                    std::io::stderr(),
                    "NOTICE: {POSTGRES_URL_VAR} is unset: PostgreSQL tests are skipped"
                );
            });
            return None;
        };
        let name = format!("blog_test_{}", OsRandomIds.token_id());
        let mut admin = connect(&admin_url);
        #[expect(clippy::expect_used, reason = "test support: fail the test loudly")]
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("CREATE DATABASE");
        let url = database_url(&admin_url, &name);
        Some(Self::Postgres {
            admin_url,
            name,
            url,
        })
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
