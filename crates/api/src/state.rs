//! What every handler shares, and the one way to run domain code: on the
//! blocking pool, in the request's span.

use std::sync::Arc;

use blog_domain::{AuthService, PostService};
use blog_infra::DbPool;
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// The services, built once at start.
pub struct AppState {
    auth: Arc<AuthService>,
    posts: Arc<PostService>,
    pool: DbPool,
    /// Bounds concurrent bcrypt work, so reads keep a core in a login storm.
    hashing: Semaphore,
}

impl AppState {
    /// The state over built services.
    pub fn new(
        auth: AuthService,
        posts: PostService,
        pool: DbPool,
        max_concurrent_hashes: usize,
    ) -> Self {
        Self {
            auth: Arc::new(auth),
            posts: Arc::new(posts),
            pool,
            hashing: Semaphore::new(max_concurrent_hashes),
        }
    }

    /// Runs `f` on the auth service on the blocking pool.
    ///
    /// # Errors
    /// `f`'s error, or 500 if it panicked.
    pub async fn auth<T, E>(
        &self,
        f: impl FnOnce(&AuthService) -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let auth = Arc::clone(&self.auth);
        blocking(move || f(&auth)).await
    }

    /// Like [`auth`](Self::auth) for work that hashes or verifies a password:
    /// waits for one of the few hashing permits first.
    ///
    /// # Errors
    /// As [`auth`](Self::auth).
    pub async fn auth_hashing<T, E>(
        &self,
        f: impl FnOnce(&AuthService) -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let _permit = self.hashing.acquire().await.map_err(ApiError::internal)?;
        self.auth(f).await
    }

    /// Runs `f` on the post service on the blocking pool.
    ///
    /// # Errors
    /// `f`'s error, or 500 if it panicked.
    pub async fn posts<T, E>(
        &self,
        f: impl FnOnce(&PostService) -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let posts = Arc::clone(&self.posts);
        blocking(move || f(&posts)).await
    }

    /// Whether the database answers now.
    ///
    /// # Errors
    /// 503 when it does not.
    pub async fn check_database(&self) -> Result<(), ApiError> {
        let pool = self.pool.clone();
        blocking(move || blog_infra::db::check(&pool).map_err(blog_domain::DomainError::from)).await
    }
}

/// Runs blocking work off the async workers, inside the caller's span; a
/// panic in it becomes a 500.
async fn blocking<T, E>(f: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, ApiError>
where
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f))
        .await
        .map_err(ApiError::internal)?
        .map_err(Into::into)
}
