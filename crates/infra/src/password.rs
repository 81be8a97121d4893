//! bcrypt password hashing, and the bound on how much of it runs at once.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use blog_domain::PasswordHash;
use blog_domain::ports::{HashError, PasswordHasher};

/// bcrypt reads this many bytes of a password and ignores the rest.
const BCRYPT_MAX_PASSWORD_BYTES: usize = 72;

/// [`PasswordHasher`] with bcrypt. Slow on purpose: run it on a blocking
/// thread, inside a [`BoundedHasher`].
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

/// A [`PasswordHasher`] that lets at most `permits` hashes of `inner` run at
/// once, so that a burst of logins leaves CPU for everything else. Callers
/// past that wait their turn on their (blocking) thread, for at most
/// `max_wait`; then they get [`HashError::Busy`], which the domain reports
/// as unavailable (503, retry later) rather than queueing without end.
#[derive(Debug)]
pub struct BoundedHasher<H> {
    inner: H,
    free: Mutex<usize>,
    freed: Condvar,
    max_wait: Duration,
}

impl<H: PasswordHasher> BoundedHasher<H> {
    /// How long a caller waits for a turn by default.
    pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(10);

    /// Bounds `inner` to `permits` hashes at once (at least one).
    pub fn new(inner: H, permits: usize, max_wait: Duration) -> Self {
        Self {
            inner,
            free: Mutex::new(permits.max(1)),
            freed: Condvar::new(),
            max_wait,
        }
    }

    /// Runs `work` once a permit is free. The wait is measured for the
    /// operator: `password_hash_waiting` (callers waiting now) and
    /// `password_hash_wait_seconds`.
    fn bounded<T>(&self, work: impl FnOnce(&H) -> Result<T, HashError>) -> Result<T, HashError> {
        let started = Instant::now();
        let deadline = started + self.max_wait;
        {
            // A poisoned lock only means a holder panicked; the count is intact.
            let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
            let waiting = metrics::gauge!("password_hash_waiting");
            waiting.increment(1.0);
            while *free == 0 {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    waiting.decrement(1.0);
                    return Err(HashError::Busy);
                }
                free = self
                    .freed
                    .wait_timeout(free, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            *free -= 1;
            waiting.decrement(1.0);
        }
        metrics::histogram!("password_hash_wait_seconds").record(started.elapsed());
        // Given back on every exit, a panic of `work` included.
        let _permit = Permit(self);
        work(&self.inner)
    }
}

/// One taken permit of a [`BoundedHasher`]; dropping it frees it.
struct Permit<'a, H>(&'a BoundedHasher<H>);

impl<H> Drop for Permit<'_, H> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.0.freed.notify_one();
    }
}

impl<H: PasswordHasher> PasswordHasher for BoundedHasher<H> {
    fn max_password_bytes(&self) -> usize {
        self.inner.max_password_bytes()
    }

    fn hash(&self, password: &str) -> Result<PasswordHash, HashError> {
        self.bounded(|inner| inner.hash(password))
    }

    fn verify(&self, password: &str, hash: &PasswordHash) -> Result<bool, HashError> {
        self.bounded(|inner| inner.verify(password, hash))
    }

    fn dummy_hash(&self) -> PasswordHash {
        self.inner.dummy_hash()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

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

    /// A hasher that takes a while and counts how many run at once.
    #[derive(Default)]
    struct Slow {
        running: AtomicUsize,
        most: AtomicUsize,
    }

    impl PasswordHasher for Slow {
        fn max_password_bytes(&self) -> usize {
            64
        }

        fn hash(&self, _: &str) -> Result<PasswordHash, HashError> {
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(30));
            self.running.fetch_sub(1, Ordering::SeqCst);
            Ok(PasswordHash::new("h".into()))
        }

        fn verify(&self, _: &str, _: &PasswordHash) -> Result<bool, HashError> {
            self.hash("").map(|_| true)
        }

        fn dummy_hash(&self) -> PasswordHash {
            PasswordHash::new("dummy".into())
        }
    }

    #[test]
    fn a_bounded_hasher_never_runs_more_than_its_permits() {
        let hasher = BoundedHasher::new(Slow::default(), 2, Duration::from_secs(10));
        std::thread::scope(|scope| {
            for n in 0..8 {
                let hasher = &hasher;
                scope.spawn(move || {
                    if n % 2 == 0 {
                        hasher.hash("x").map(drop)
                    } else {
                        hasher.verify("x", &hasher.dummy_hash()).map(drop)
                    }
                    .unwrap();
                });
            }
        });
        assert_eq!(hasher.inner.most.load(Ordering::SeqCst), 2);
        assert_eq!(hasher.max_password_bytes(), 64);
        assert_eq!(*hasher.free.lock().unwrap(), 2, "every permit came back");
    }

    #[test]
    fn a_caller_that_waits_too_long_is_told_busy() {
        let hasher = BoundedHasher::new(Slow::default(), 1, Duration::from_millis(5));
        let results: Vec<_> = std::thread::scope(|scope| {
            let calls: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| hasher.hash("x").map(drop)))
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
}
