//! bcrypt password hashing, on threads of its own at a lower priority.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use blog_domain::PasswordHash;
use blog_domain::ports::{HashError, PasswordHasher};
use secrecy::{ExposeSecret, SecretString};

/// bcrypt reads this many bytes of a password and ignores the rest.
const BCRYPT_MAX_PASSWORD_BYTES: usize = 72;

/// [`PasswordHasher`] with bcrypt. Slow on purpose: run it inside a
/// [`HashingPool`].
#[derive(Debug, Clone)]
pub struct BcryptHasher {
    cost: u32,
    dummy: PasswordHash,
}

impl BcryptHasher {
    /// A hasher with `cost` (4 to 31; 12 is a sound production value).
    /// Computes the dummy hash once, at the same cost.
    ///
    /// # Errors
    /// [`HashError`] for a cost outside bcrypt's range.
    pub fn new(cost: u32) -> Result<Self, HashError> {
        let dummy = bcrypt::hash("no user has this password: it only spends time", cost)
            .map_err(|error| HashError::Failed(Box::new(error)))?;
        Ok(Self {
            cost,
            dummy: PasswordHash::new(dummy),
        })
    }
}

impl PasswordHasher for BcryptHasher {
    fn max_password_bytes(&self) -> usize {
        BCRYPT_MAX_PASSWORD_BYTES
    }

    fn hash(&self, password: &str) -> Result<PasswordHash, HashError> {
        bcrypt::hash(password, self.cost)
            .map(PasswordHash::new)
            .map_err(|error| HashError::Failed(Box::new(error)))
    }

    fn verify(&self, password: &str, hash: &PasswordHash) -> Result<bool, HashError> {
        bcrypt::verify(password, hash.as_str()).map_err(|error| HashError::Failed(Box::new(error)))
    }

    fn dummy_hash(&self) -> PasswordHash {
        self.dummy.clone()
    }
}

/// One hash or verification, queued for a hashing thread.
type Job = Box<dyn FnOnce() + Send>;

/// A [`PasswordHasher`] that runs `inner` on threads of its own (by
/// default one per CPU), at a lower scheduling priority than everything
/// else in the process (nice [`HashingPool::NICENESS`]). A burst of logins
/// can then use the whole machine while nothing else wants it, and requests
/// that need little CPU, reads above all, still win it when they compete.
///
/// Callers wait their turn on their own (blocking) thread; a call that
/// waited `max_wait` in the queue is not run but answered
/// [`HashError::Busy`], which the domain reports as unavailable (503, retry
/// later) rather than queueing without end.
pub struct HashingPool<H> {
    inner: Arc<H>,
    jobs: Sender<Job>,
    max_wait: Duration,
}

impl<H> fmt::Debug for HashingPool<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashingPool")
            .field("max_wait", &self.max_wait)
            .finish_non_exhaustive()
    }
}

impl<H: PasswordHasher + 'static> HashingPool<H> {
    /// How long a call may wait in the queue by default.
    pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(10);

    /// The nice value of the hashing threads: a weight about a tenth of
    /// a request worker's when both want a core.
    pub const NICENESS: i32 = 10;

    /// Starts `threads` hashing threads (at least one) running `inner`.
    ///
    /// # Errors
    /// When no thread could be started.
    pub fn new(inner: H, threads: usize, max_wait: Duration) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads.max(1) {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("password-hash-{n}"))
                .spawn(move || serve(&queue, Self::NICENESS))?;
        }
        Ok(Self {
            inner: Arc::new(inner),
            jobs,
            max_wait,
        })
    }

    /// Runs `work` on a hashing thread and waits for its result. The wait
    /// is measured for the operator: `password_hash_waiting` (calls queued
    /// now) and `password_hash_wait_seconds`.
    fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&H) -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let inner = Arc::clone(&self.inner);
        let max_wait = self.max_wait;
        let queued = Instant::now();
        let waiting = metrics::gauge!("password_hash_waiting");
        waiting.increment(1.0);
        let (answer, answered) = mpsc::sync_channel(1);
        let job: Job = Box::new(move || {
            waiting.decrement(1.0);
            let waited = queued.elapsed();
            metrics::histogram!("password_hash_wait_seconds").record(waited);
            let result = if waited > max_wait {
                Err(HashError::Busy)
            } else {
                work(&inner)
            };
            // The caller waits for this; if it is gone, no one is left to tell.
            let _ = answer.send(result);
        });
        self.jobs
            .send(job)
            .map_err(|_| HashError::Failed("the hashing threads have stopped".into()))?;
        // No answer: the work panicked (and the thread went on).
        answered
            .recv()
            .map_err(|_| HashError::Failed("password hashing panicked".into()))?
    }
}

/// A hashing thread: lowers its priority to `niceness`, then runs jobs
/// until the pool is dropped. A panicking job is contained: its caller gets
/// an error, the thread goes on.
fn serve(queue: &Mutex<Receiver<Job>>, niceness: i32) {
    lower_priority(niceness);
    loop {
        // A poisoned lock only means a holder panicked; the queue is intact.
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = job else {
            return;
        };
        if catch_unwind(AssertUnwindSafe(job)).is_err() {
            tracing::error!("password hashing panicked");
        }
    }
}

/// Gives the calling thread the nice value `niceness` (on Linux, a
/// thread's own), so that request workers win a contended core.
fn lower_priority(niceness: i32) {
    #[cfg(target_os = "linux")]
    if let Err(error) =
        rustix::process::setpriority_process(Some(rustix::thread::gettid()), niceness)
    {
        tracing::warn!(%error, "could not lower the priority of a hashing thread");
    }
}

impl<H: PasswordHasher + 'static> PasswordHasher for HashingPool<H> {
    fn max_password_bytes(&self) -> usize {
        self.inner.max_password_bytes()
    }

    fn hash(&self, password: &str) -> Result<PasswordHash, HashError> {
        let password = SecretString::from(password);
        self.run(move |inner| inner.hash(password.expose_secret()))
    }

    fn verify(&self, password: &str, hash: &PasswordHash) -> Result<bool, HashError> {
        let (password, hash) = (SecretString::from(password), hash.clone());
        self.run(move |inner| inner.verify(password.expose_secret(), &hash))
    }

    fn dummy_hash(&self) -> PasswordHash {
        self.inner.dummy_hash()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hasher = BcryptHasher::new(4).unwrap();
        let hash = hasher.hash("correct horse").unwrap();
        assert!(hash.as_str().starts_with("$2b$04$"));
        assert!(hasher.verify("correct horse", &hash).unwrap());
        assert!(!hasher.verify("correct horsf", &hash).unwrap());
    }

    #[test]
    fn the_dummy_hash_has_the_same_cost_and_matches_no_ordinary_password() {
        let hasher = BcryptHasher::new(5).unwrap();
        assert!(hasher.dummy_hash().as_str().starts_with("$2b$05$"));
        assert!(!hasher.verify("password", &hasher.dummy_hash()).unwrap());
    }

    #[test]
    fn a_malformed_hash_is_an_error_not_a_mismatch() {
        let hasher = BcryptHasher::new(4).unwrap();
        assert!(
            hasher
                .verify("x", &PasswordHash::new("not a hash".into()))
                .is_err()
        );
    }

    #[test]
    fn a_cost_outside_the_range_is_refused() {
        assert!(BcryptHasher::new(3).is_err());
    }

    #[test]
    fn bcrypt_says_it_reads_72_bytes() {
        assert_eq!(BcryptHasher::new(4).unwrap().max_password_bytes(), 72);
    }

    /// A hasher that takes a while, counts how many run at once, notes the
    /// nice value it ran at, and panics on the password "panic".
    #[derive(Default)]
    struct Slow {
        running: AtomicUsize,
        most: AtomicUsize,
        niceness: AtomicI32,
    }

    impl PasswordHasher for Slow {
        fn max_password_bytes(&self) -> usize {
            64
        }

        fn hash(&self, password: &str) -> Result<PasswordHash, HashError> {
            assert_ne!(password, "panic", "a hasher bug");
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            let niceness = rustix::process::getpriority_process(Some(rustix::thread::gettid()));
            self.niceness.store(niceness.unwrap(), Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(30));
            self.running.fetch_sub(1, Ordering::SeqCst);
            Ok(PasswordHash::new("h".into()))
        }

        fn verify(&self, password: &str, _: &PasswordHash) -> Result<bool, HashError> {
            self.hash(password).map(|_| true)
        }

        fn dummy_hash(&self) -> PasswordHash {
            PasswordHash::new("dummy".into())
        }
    }

    #[test]
    fn a_pool_runs_one_hash_a_thread_at_once_at_a_lower_priority() {
        let pool = HashingPool::new(Slow::default(), 2, Duration::from_secs(10)).unwrap();
        std::thread::scope(|scope| {
            for n in 0..8 {
                let pool = &pool;
                scope.spawn(move || {
                    if n % 2 == 0 {
                        pool.hash("x").map(drop)
                    } else {
                        pool.verify("x", &pool.dummy_hash()).map(drop)
                    }
                    .unwrap();
                });
            }
        });
        assert_eq!(pool.inner.most.load(Ordering::SeqCst), 2);
        assert_eq!(pool.inner.niceness.load(Ordering::SeqCst), 10);
        assert_eq!(pool.max_password_bytes(), 64);
    }

    #[test]
    fn a_call_that_waited_too_long_is_told_busy() {
        let pool = HashingPool::new(Slow::default(), 1, Duration::from_millis(5)).unwrap();
        let results: Vec<_> = std::thread::scope(|scope| {
            let calls: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| pool.hash("x").map(drop)))
                .collect();
            calls.into_iter().map(|call| call.join().unwrap()).collect()
        });
        assert!(results.iter().any(Result::is_ok));
        assert!(
            results
                .iter()
                .any(|result| matches!(result, Err(HashError::Busy))),
            "{results:?}"
        );
    }

    #[test]
    fn a_panicking_hash_is_an_error_and_the_thread_goes_on() {
        let pool = HashingPool::new(Slow::default(), 1, Duration::from_secs(10)).unwrap();
        assert!(matches!(pool.hash("panic"), Err(HashError::Failed(_))));
        assert!(pool.hash("x").is_ok(), "the one thread survived");
    }
}
