//! What every handler shares, and the one way to run domain code: on the
//! blocking pool, in the request's span.

use std::sync::Arc;

use blog_domain::ports::RepositoryError;
use blog_domain::{AuthService, DomainError, PostService};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// Whether the database answers now; built by the composition root, so
/// that nothing here names an adapter.
pub type ReadinessCheck = Arc<dyn Fn() -> Result<(), RepositoryError> + Send + Sync>;

/// The services, built once at start.
pub struct AppState {
    auth: Arc<AuthService>,
    posts: Arc<PostService>,
    readiness: ReadinessCheck,
    /// Bounds concurrent bcrypt work, so reads keep a core in a login storm.
    hashing: Semaphore,
}

impl AppState {
    /// The state over built services.
    pub fn new(
        auth: AuthService,
        posts: PostService,
        readiness: ReadinessCheck,
        max_concurrent_hashes: usize,
    ) -> Self {
        Self {
            auth: Arc::new(auth),
            posts: Arc::new(posts),
            readiness,
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
        let auth = Arc::clone(&self.auth);
        blocking_limited(&self.hashing, move || f(&auth)).await
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
        let readiness = Arc::clone(&self.readiness);
        blocking(move || readiness().map_err(DomainError::from)).await
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

/// [`blocking`] once one of `permits` is free: bounds CPU-heavy work.
async fn blocking_limited<T, E>(
    permits: &Semaphore,
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    let _permit = permits.acquire().await.map_err(ApiError::internal)?;
    blocking(f).await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use futures_util::future::join_all;

    use super::*;

    #[actix_web::test]
    async fn limited_blocking_work_never_exceeds_its_permits() {
        let permits = Semaphore::new(2);
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let jobs = (0..8).map(|_| {
            let (running, most) = (Arc::clone(&running), Arc::clone(&most));
            blocking_limited(&permits, move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, ApiError>(())
            })
        });
        assert!(join_all(jobs).await.iter().all(Result::is_ok));
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[actix_web::test]
    async fn a_panic_on_the_blocking_pool_is_a_500() {
        let result = blocking(|| -> Result<(), ApiError> { panic!("boom") }).await;
        assert_eq!(
            result.map_err(|e| e.code()).err(),
            Some(crate::error::ErrorCode::InternalError)
        );
    }
}
