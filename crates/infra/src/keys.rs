//! Signing key sets: a directory of PKCS#8 PEM private keys, one file a
//! key, named `<kid>.<alg>.pem`. Every key in it verifies; the one named
//! by configuration signs. Rotating is adding a file, naming it the signer,
//! and deleting the old file once no token it signed can still be used.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use jsonwebtoken::jwk::{Jwk, KeyAlgorithm as JwkAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use time::OffsetDateTime;

use crate::ids::random_bytes;

/// The asymmetric algorithms a key set holds. The algorithm is pinned per
/// key, by its file name; a token's `alg` header never chooses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// Ed25519 signatures (RFC 8037): small and fast; the default.
    EdDsa,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys: for verifiers that
    /// know nothing else.
    Rs256,
}

impl KeyAlgorithm {
    /// The JOSE name, as in file names and `alg` headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EdDsa => "EdDSA",
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
        }
    }

    /// The jsonwebtoken algorithm.
    pub fn algorithm(self) -> Algorithm {
        match self {
            Self::EdDsa => Algorithm::EdDSA,
            Self::Es256 => Algorithm::ES256,
            Self::Rs256 => Algorithm::RS256,
        }
    }

    fn jwk_algorithm(self) -> JwkAlgorithm {
        match self {
            Self::EdDsa => JwkAlgorithm::EdDSA,
            Self::Es256 => JwkAlgorithm::ES256,
            Self::Rs256 => JwkAlgorithm::RS256,
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyAlgorithm {
    type Err = KeySetError;

    fn from_str(name: &str) -> Result<Self, KeySetError> {
        match name {
            "EdDSA" => Ok(Self::EdDsa),
            "ES256" => Ok(Self::Es256),
            "RS256" => Ok(Self::Rs256),
            other => Err(KeySetError::UnknownAlgorithm(other.to_owned())),
        }
    }
}

/// Why a key set cannot be used or extended.
#[derive(Debug, thiserror::Error)]
pub enum KeySetError {
    /// The directory or a file could not be read or written.
    #[error("key set {path}: {source}")]
    Io {
        /// What was being read or written.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// An algorithm that a key set does not hold.
    #[error("unknown key algorithm {0:?}: use EdDSA, ES256 or RS256")]
    UnknownAlgorithm(String),
    /// A file whose name is not `<kid>.<alg>.pem`.
    #[error("key set file {0:?} is not named <kid>.<EdDSA|ES256|RS256>.pem")]
    BadName(String),
    /// A file that is not a PKCS#8 PEM private key of its algorithm.
    #[error("key {kid}: not a PKCS#8 PEM private key of its algorithm")]
    BadKey {
        /// The key's id.
        kid: String,
    },
    /// The signing key is not in the set.
    #[error("the signing key {0:?} is not in the key set")]
    NoSigningKey(String),
    /// Generating a key failed.
    #[error("generating a key failed: {0}")]
    Generate(String),
}

/// One key of a set.
pub struct StoredKey {
    /// Its id: the `kid` of the tokens it signs.
    pub kid: String,
    /// Its pinned algorithm.
    pub algorithm: KeyAlgorithm,
    /// The private key.
    pub(crate) encoding: EncodingKey,
    /// The public key, from the JWK: what verifies.
    pub(crate) decoding: DecodingKey,
    /// The public key as a JWK, with `kid`, `alg` and `use: "sig"`.
    pub jwk: Jwk,
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// The keys of a key set directory, and which one signs.
#[derive(Debug)]
pub struct KeySet {
    /// Every key: all verify.
    pub keys: Vec<StoredKey>,
    /// The kid of the one that signs.
    pub signing: String,
}

impl KeySet {
    /// Reads every `<kid>.<alg>.pem` of `dir`; `signing` names the signer.
    ///
    /// # Errors
    /// [`KeySetError`] for an unreadable directory, a misnamed or unreadable
    /// key, or a signing key that is not in it.
    pub fn load(dir: &Path, signing: &str) -> Result<Self, KeySetError> {
        let io = |source| KeySetError::Io {
            path: dir.to_owned(),
            source,
        };
        let mut keys = Vec::new();
        for entry in fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let name = path
                .file_name()
                .and_then(|name| name.to_str())
                .unwrap_or_default()
                .to_owned();
            let Some(stem) = name.strip_suffix(".pem") else {
                continue;
            };
            let (kid, algorithm) = stem
                .rsplit_once('.')
                .filter(|(kid, _)| is_kid(kid))
                .ok_or_else(|| KeySetError::BadName(name.clone()))?;
            let algorithm: KeyAlgorithm = algorithm.parse()?;
            let pem = fs::read(&path).map_err(|source| KeySetError::Io {
                path: path.clone(),
                source,
            })?;
            keys.push(stored_key(kid, algorithm, &pem)?);
        }
        keys.sort_by(|a, b| a.kid.cmp(&b.kid));
        if !keys.iter().any(|key| key.kid == signing) {
            return Err(KeySetError::NoSigningKey(signing.to_owned()));
        }
        Ok(Self {
            keys,
            signing: signing.to_owned(),
        })
    }
}

/// A kid as this service makes them: `yyyymmdd-` and 16 hex digits.
fn is_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= 64
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn stored_key(kid: &str, algorithm: KeyAlgorithm, pem: &[u8]) -> Result<StoredKey, KeySetError> {
    let bad = || KeySetError::BadKey {
        kid: kid.to_owned(),
    };
    let encoding = match algorithm {
        KeyAlgorithm::EdDsa => EncodingKey::from_ed_pem(pem),
        KeyAlgorithm::Es256 => EncodingKey::from_ec_pem(pem),
        KeyAlgorithm::Rs256 => EncodingKey::from_rsa_pem(pem),
    }
    .map_err(|_| bad())?;
    let mut jwk = Jwk::from_encoding_key(&encoding, algorithm.algorithm()).map_err(|_| bad())?;
    jwk.common.key_id = Some(kid.to_owned());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk.common.key_algorithm = Some(algorithm.jwk_algorithm());
    // Verifying with the published half: what others verify with, we do.
    let decoding = DecodingKey::from_jwk(&jwk).map_err(|_| bad())?;
    Ok(StoredKey {
        kid: kid.to_owned(),
        algorithm,
        encoding,
        decoding,
        jwk,
    })
}

/// Writes a new private key of `algorithm` with a fresh kid into `dir`
/// (made if missing, mode 0700; the key file mode 0600), and returns the kid.
///
/// # Errors
/// [`KeySetError`] when the key cannot be made or written.
pub fn generate_key(dir: &Path, algorithm: KeyAlgorithm) -> Result<String, KeySetError> {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
    use rand_core::OsRng;

    let failed = |error: &dyn fmt::Display| KeySetError::Generate(error.to_string());
    let pem = match algorithm {
        // PKCS#8 v1 (the secret key alone), which jsonwebtoken reads.
        KeyAlgorithm::EdDsa => ed25519_dalek::pkcs8::KeypairBytes {
            secret_key: ed25519_dalek::SigningKey::generate(&mut OsRng).to_bytes(),
            public_key: None,
        }
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|error| failed(&error))?,
        KeyAlgorithm::Es256 => p256::SecretKey::random(&mut OsRng)
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|error| failed(&error))?,
        KeyAlgorithm::Rs256 => rsa::RsaPrivateKey::new(&mut OsRng, 2048)
            .map_err(|error| failed(&error))?
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|error| failed(&error))?,
    };
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| KeySetError::Io { path, source }
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))?;
    let date = OffsetDateTime::now_utc().date();
    let random: [u8; 8] = random_bytes();
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let kid = format!(
        "{:04}{:02}{:02}-{hex}",
        date.year(),
        u8::from(date.month()),
        date.day()
    );
    let path = dir.join(format!("{kid}.{algorithm}.pem"));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(io(&path))?;
    file.write_all(pem.as_bytes()).map_err(io(&path))?;
    file.sync_all().map_err(io(&path))?;
    Ok(kid)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn generated_keys_of_every_algorithm_load_with_their_public_jwk() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let kids: Vec<String> = [
            KeyAlgorithm::EdDsa,
            KeyAlgorithm::Es256,
            KeyAlgorithm::Rs256,
        ]
        .into_iter()
        .map(|algorithm| generate_key(&keys, algorithm).unwrap())
        .collect();
        let set = KeySet::load(&keys, &kids[1]).unwrap();
        assert_eq!(set.keys.len(), 3);
        assert_eq!(set.signing, kids[1]);
        for key in &set.keys {
            let file = keys.join(format!("{}.{}.pem", key.kid, key.algorithm));
            let mode = fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{file:?}");
            let jwk = serde_json::to_value(&key.jwk).unwrap();
            assert_eq!(jwk["kid"], key.kid.as_str());
            assert_eq!(jwk["use"], "sig");
            assert_eq!(jwk["alg"], key.algorithm.as_str());
            for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
                assert!(jwk.get(private).is_none(), "{private} in {jwk}");
            }
        }
        let mode = fs::metadata(&keys).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn a_bad_key_set_says_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let kid = generate_key(dir.path(), KeyAlgorithm::EdDsa).unwrap();
        assert!(matches!(
            KeySet::load(dir.path(), "nope"),
            Err(KeySetError::NoSigningKey(_))
        ));
        assert!(matches!(
            KeySet::load(&dir.path().join("missing"), &kid),
            Err(KeySetError::Io { .. })
        ));
        fs::write(dir.path().join("odd.HS256.pem"), "x").unwrap();
        assert!(matches!(
            KeySet::load(dir.path(), &kid),
            Err(KeySetError::UnknownAlgorithm(_))
        ));
        fs::remove_file(dir.path().join("odd.HS256.pem")).unwrap();
        fs::write(dir.path().join("broken.ES256.pem"), "not a key").unwrap();
        assert!(matches!(
            KeySet::load(dir.path(), &kid),
            Err(KeySetError::BadKey { .. })
        ));
        fs::remove_file(dir.path().join("broken.ES256.pem")).unwrap();
        fs::write(dir.path().join("README"), "other files are ignored").unwrap();
        assert_eq!(KeySet::load(dir.path(), &kid).unwrap().keys.len(), 1);
    }
}
