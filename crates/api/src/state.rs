//! What every handler shares, and the two ways to run domain code that
//! blocks, both off the async workers and in the request's span: on
//! tokio's blocking pool, or, for use cases that only read the store, on
//! the read threads. A use case that blocks nothing (a post's create, whose
//! write is handed to the store and awaited) runs where it is called.

use std::sync::Arc;

use actix_web::HttpMessage;
use blog_domain::ports::RepositoryError;
use blog_domain::{
    DomainError, PostService, Principal, SessionService, UserService, VerifiedAccess,
};
use tokio::runtime::{Builder, Runtime};

use crate::error::ApiError;
use crate::extract::AuthenticatedUser;

/// Whether the database answers now; built by the composition root, so
/// that nothing here names an adapter.
pub type ReadinessCheck = Arc<dyn Fn() -> Result<(), RepositoryError> + Send + Sync>;

/// The services, built once at start.
pub struct AppState {
    services: Services,
    readiness: ReadinessCheck,
    /// The public keys that verify our tokens, as JWKs (RFC 7517).
    jwks: Arc<[serde_json::Value]>,
    reads: ReadThreads,
}

/// The services, as a use case gets them.
#[derive(Clone)]
pub struct Services {
    /// Users.
    pub users: UserService,
    /// Sessions.
    pub sessions: SessionService,
    /// Posts.
    pub posts: PostService,
}

impl AppState {
    /// The state over built services. The hasher inside them bounds its
    /// own concurrency: nothing here has to.
    pub fn new(
        users: UserService,
        sessions: SessionService,
        posts: PostService,
        readiness: ReadinessCheck,
        reads: ReadThreads,
    ) -> Self {
        Self {
            services: Services {
                users,
                sessions,
                posts,
            },
            readiness,
            jwks: Arc::new([]),
            reads,
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
        let users = self.services.users.clone();
        blocking(move || f(&users)).await
    }

    /// Checks an access token itself, in place: signature, claims, type.
    ///
    /// # Errors
    /// 401 for a token that fails.
    pub fn verify_access(&self, token: &str) -> Result<VerifiedAccess, ApiError> {
        Ok(self.services.sessions.verify_access(token)?)
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
        let sessions = self.services.sessions.clone();
        blocking(move || f(&sessions)).await
    }

    /// Runs `f`, a use case that only reads the store and waits for nothing
    /// else (no hash, no write), on the read threads.
    ///
    /// # Errors
    /// `f`'s error, or 500 if it panicked.
    pub async fn read<T, E>(
        &self,
        f: impl FnOnce(&Services) -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let services = self.services.clone();
        self.reads.run(move || f(&services)).await
    }

    /// Checks the caller's session (it must be live: a logout takes effect
    /// at once), on the read threads, then runs `f` as the caller on the
    /// blocking pool. `f` does every check of its own (path, body), so that
    /// a token refused answers 401 before anything else.
    ///
    /// Two trips, where one would do: with the work, on the blocking pool,
    /// the session's read had each write's thread wait for a connection
    /// beside every other, and writes were no faster (measured).
    ///
    /// # Errors
    /// 401 for a session that is not live; `f`'s error; 500 if it panicked.
    pub async fn as_caller<T, E>(
        &self,
        caller: AuthenticatedUser,
        f: impl FnOnce(&Services, &Principal) -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let principal = self.authenticate(caller).await?;
        let services = self.services.clone();
        blocking(move || f(&services, &principal)).await
    }

    /// Checks the caller's session, as [`Self::as_caller`] does, for a use
    /// case that then awaits its store where it is (see [`Self::posts`]).
    ///
    /// # Errors
    /// 401 for a session that is not live; 500 if the check panicked.
    pub async fn authenticate(&self, caller: AuthenticatedUser) -> Result<Principal, ApiError> {
        let (access, request) = caller.into_parts();
        let principal = self
            .read(move |services| services.sessions.authenticate_verified(&access))
            .await?;
        request.extensions_mut().insert(principal.user_id);
        Ok(principal)
    }

    /// The post service, for its one use case that blocks nothing and is
    /// awaited on the async worker: [`PostService::create`]. The others
    /// block on the store: run them with [`Self::read`] or
    /// [`Self::as_caller`].
    pub fn posts(&self) -> &PostService {
        &self.services.posts
    }

    /// [`Self::as_caller`] for `f` that only reads the store (as
    /// [`Self::read`]): the session check and `f`, both on the read
    /// threads, in one trip.
    ///
    /// # Errors
    /// As [`Self::as_caller`].
    pub async fn read_as<T, E>(
        &self,
        caller: AuthenticatedUser,
        f: impl FnOnce(&Services, &Principal) -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let (access, request) = caller.into_parts();
        let (user, outcome) = self
            .read(move |services| {
                let principal = services.sessions.authenticate_verified(&access)?;
                // The caller is known now, whatever the work's outcome.
                let outcome = f(services, &principal).map_err(Into::into);
                Ok::<_, ApiError>((principal.user_id, outcome))
            })
            .await?;
        request.extensions_mut().insert(user);
        outcome
    }

    /// The configured identity providers (held in memory: no trip).
    pub fn identity_providers(&self) -> Vec<blog_domain::ProviderName> {
        self.services.sessions.identity_providers()
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

/// Runs blocking work on tokio's blocking pool, inside the caller's span;
/// a panic in it becomes a 500.
async fn blocking<T, E>(f: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, ApiError>
where
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    answer(tokio::task::spawn_blocking(in_span(f))).await
}

fn in_span<R>(f: impl FnOnce() -> R) -> impl FnOnce() -> R {
    let span = tracing::Span::current();
    move || span.in_scope(f)
}

async fn answer<T, E>(handle: tokio::task::JoinHandle<Result<T, E>>) -> Result<T, ApiError>
where
    E: Into<ApiError>,
{
    handle
        .await
        .map_err(ApiError::internal)?
        .map_err(Into::into)
}

/// A few threads for the reads of the store, apart from tokio's blocking
/// pool. That pool grows to a thread for every call in flight (the
/// hashes and SQLite writes it waits for keep a thread each), and wakes an
/// idle one for every call: under load, a read paid more to reach its
/// thread and back than to run. Here, while reads wait, a thread that
/// finishes one takes the next without sleeping, and no more reads run
/// at once than the store can serve (the pool's connections are never
/// waited for by more threads than it has).
pub struct ReadThreads {
    /// A runtime for its blocking pool only: tokio's pool with its own
    /// bound. `None` once dropped.
    runtime: Option<Runtime>,
}

impl ReadThreads {
    /// `threads` threads at most (at least one), started as reads come and
    /// stopped after ten idle seconds.
    ///
    /// # Errors
    /// When the runtime cannot be built.
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let runtime = Builder::new_current_thread()
            .max_blocking_threads(threads.max(1))
            .thread_name("db-read")
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
        })
    }

    async fn run<T, E>(
        &self,
        f: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let Some(runtime) = &self.runtime else {
            return Err(ApiError::internal("the read threads have stopped"));
        };
        answer(runtime.spawn_blocking(in_span(f))).await
    }
}

impl Drop for ReadThreads {
    /// Leaves reads under way to finish on their own: a runtime must not
    /// wait for its threads where the server's state is dropped (an async
    /// worker, in tests).
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
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

    #[actix_web::test]
    async fn a_panic_on_the_read_threads_is_a_500_and_they_go_on() {
        let reads = ReadThreads::new(1).unwrap();
        let result = reads
            .run(|| -> Result<(), ApiError> { panic!("boom") })
            .await;
        assert_eq!(
            result.map_err(|e| e.code()).err(),
            Some(crate::error::ErrorCode::InternalError)
        );
        assert_eq!(reads.run(|| Ok::<_, ApiError>(7)).await.ok(), Some(7));
    }

    #[actix_web::test]
    async fn reads_beyond_the_threads_wait_their_turn_and_all_run() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::time::Duration;

        let reads = ReadThreads::new(2).unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let calls = (0..12).map(|n| {
            let (running, most) = (Arc::clone(&running), Arc::clone(&most));
            reads.run(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, ApiError>(n)
            })
        });
        let answers: Vec<_> = futures_util::future::join_all(calls)
            .await
            .into_iter()
            .map(|answer| answer.ok())
            .collect();
        assert_eq!(answers, (0..12).map(Some).collect::<Vec<_>>());
        assert_eq!(most.load(Ordering::SeqCst), 2, "two threads, two at once");
    }
}
