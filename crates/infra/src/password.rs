//! bcrypt password hashing.

use blog_domain::PasswordHash;
use blog_domain::ports::{HashError, PasswordHasher};

/// [`PasswordHasher`] with bcrypt. Slow on purpose: run it on a blocking
/// thread, and bound how many run at once.
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
            .map_err(|error| HashError(Box::new(error)))?;
        Ok(Self {
            cost,
            dummy: PasswordHash::new(dummy),
        })
    }
}

impl PasswordHasher for BcryptHasher {
    fn hash(&self, password: &str) -> Result<PasswordHash, HashError> {
        bcrypt::hash(password, self.cost)
            .map(PasswordHash::new)
            .map_err(|error| HashError(Box::new(error)))
    }

    fn verify(&self, password: &str, hash: &PasswordHash) -> Result<bool, HashError> {
        bcrypt::verify(password, hash.as_str()).map_err(|error| HashError(Box::new(error)))
    }

    fn dummy_hash(&self) -> PasswordHash {
        self.dummy.clone()
    }
}

#[cfg(test)]
mod tests {
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
}
