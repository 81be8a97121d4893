//! What every handler shares, and the one way to run domain code: on the
//! blocking pool, in the request's span.

use std::sync::Arc;

use blog_domain::ports::RepositoryError;
use blog_domain::{DomainError, PostService, SessionService, UserService, VerifiedAccess};

use crate::error::ApiError;

/// Whether the database answers now; built by the composition root, so
/// that nothing here names an adapter.
pub type ReadinessCheck = Arc<dyn Fn() -> Result<(), RepositoryError> + Send + Sync>;

/// The services, built once at start.
pub struct AppState {
    users: UserService,
    sessions: SessionService,
    posts: PostService,
    readiness: ReadinessCheck,
    /// The public keys that verify our tokens, as JWKs (RFC 7517).
    jwks: Arc<[serde_json::Value]>,
}

impl AppState {
    /// The state over built services. The hasher inside them bounds its
    /// own concurrency: nothing here has to.
    pub fn new(
        users: UserService,
        sessions: SessionService,
        posts: PostService,
        readiness: ReadinessCheck,
    ) -> Self {
        Self {
            users,
            sessions,
            posts,
            readiness,
            jwks: Arc::new([]),
        }
    }

    /// Serves `keys` (public JWKs) at `/.well-known/jwks.json`.
    #[must_use]
    pub fn with_jwks(mut self, keys: Vec<serde_json::Value>) -> Self {
        self.jwks = Arc::from(keys);
        self
    }

    /// The public JWKs.
    pub fn jwks(&self) -> &[serde_json::Value] {
        &self.jwks
    }

    /// Runs `f` on the user service on the blocking pool.
    ///
    /// # Errors
    /// `f`'s error, or 500 if it panicked.
    pub async fn users<T, E>(
        &self,
        f: impl FnOnce(&UserService) -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let users = self.users.clone();
        blocking(move || f(&users)).await
    }

    /// Checks an access token itself, in place: signature, claims, type.
    ///
    /// # Errors
    /// 401 for a token that fails.
    pub fn verify_access(&self, token: &str) -> Result<VerifiedAccess, ApiError> {
        Ok(self.sessions.verify_access(token)?)
    }

    /// Runs `f` on the session service on the blocking pool.
    ///
    /// # Errors
    /// `f`'s error, or 500 if it panicked.
    pub async fn sessions<T, E>(
        &self,
        f: impl FnOnce(&SessionService) -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let sessions = self.sessions.clone();
        blocking(move || f(&sessions)).await
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
        let posts = self.posts.clone();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn a_panic_on_the_blocking_pool_is_a_500() {
        let result = blocking(|| -> Result<(), ApiError> { panic!("boom") }).await;
        assert_eq!(
            result.map_err(|e| e.code()).err(),
            Some(crate::error::ErrorCode::InternalError)
        );
    }
}
