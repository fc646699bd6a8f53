//! Password hashing under a bound: argon2id needs 19 MiB per hash, so hashes run at most
//! `accounts.hash_concurrency` at a time (one per core by default), each in a memory buffer
//! that is allocated once and reused. A burst of logins then costs a fixed amount of memory
//! that is never handed back and forth to the allocator (which, with many threads, keeps it).
//! When every permit is taken, callers get `Busy` (a 503 with Retry-After) at once, before
//! any hashing: queueing would only move the pile-up into memory.

use std::sync::Mutex;

use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::phc::{Output, ParamsString, PasswordHash, Salt},
};
use rand::RngExt;
use tokio::sync::Semaphore;

use super::model::{Password, constant_time_eq};

/// All hashing permits are in use.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("too many password checks at once")]
    Busy,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub struct Hasher {
    permits: Semaphore,
    /// One buffer per permit, each `Params::default().block_count()` blocks (19 MiB).
    buffers: Mutex<Vec<Vec<Block>>>,
}

impl Hasher {
    /// `concurrency` 0 means one per CPU core.
    pub fn new(concurrency: usize) -> Self {
        let n = match concurrency {
            0 => std::thread::available_parallelism().map_or(2, usize::from),
            n => n,
        };
        Self {
            permits: Semaphore::new(n),
            buffers: Mutex::new(Vec::with_capacity(n)),
        }
    }

    /// Does `candidate` match the PHC string `phc`? `Busy` when all permits are taken.
    pub async fn verify(&self, candidate: &str, phc: &str) -> Result<bool, HashError> {
        let (candidate, phc) = (candidate.to_owned(), phc.to_owned());
        self.run(move |blocks| Ok(verify_with(blocks, &candidate, &phc)))
            .await
    }

    /// An argon2id PHC string for `password`, with a fresh salt.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let password = password.expose().to_owned();
        self.run(move |blocks| hash_with(blocks, &password)).await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self.permits.try_acquire().map_err(|_| HashError::Busy)?;
        let mut blocks = self
            .buffers
            .lock()
            .map_err(|_| anyhow::anyhow!("hash buffers poisoned"))?
            .pop()
            .unwrap_or_default();
        let (result, blocks) = tokio::task::spawn_blocking(move || {
            let result = work(&mut blocks);
            (result, blocks)
        })
        .await
        .map_err(|e| anyhow::anyhow!("password hashing panicked: {e}"))?;
        if let Ok(mut buffers) = self.buffers.lock() {
            buffers.push(blocks);
        }
        Ok(result?)
    }
}

/// Grow `blocks` to `n` (once per buffer, for the default parameters) and lend `n` of them.
fn memory(blocks: &mut Vec<Block>, n: usize) -> &mut [Block] {
    if blocks.len() < n {
        blocks.resize(n, Block::default());
    }
    &mut blocks[..n]
}

fn verify_with(blocks: &mut Vec<Block>, candidate: &str, phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let n = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    argon
        .hash_password_into_with_memory(candidate.as_bytes(), salt, &mut out, memory(blocks, n))
        .is_ok()
        && constant_time_eq(&out, expected.as_bytes())
}

fn hash_with(blocks: &mut Vec<Block>, password: &str) -> anyhow::Result<String> {
    let params = Params::default();
    let salt: [u8; 16] = rand::rng().random();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let n = params.block_count();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    argon
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory(blocks, n))
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)
            .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?,
        salt: Some(Salt::new(&salt).map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?),
    };
    Ok(phc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_here_and_with_the_argon2_crate_itself() {
        let hasher = Hasher::new(1);
        let password =
            Password::parse("correct horse battery staple", &Default::default()).expect("valid");
        let phc = hasher.hash(&password).await.expect("hashed");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            hasher
                .verify("correct horse battery staple", &phc)
                .await
                .expect("ran")
        );
        assert!(
            !hasher
                .verify("wrong horse battery staple", &phc)
                .await
                .expect("ran")
        );
        // Hashes made before this module (by the crate's own API) still verify, and ours
        // verify with the crate's verifier.
        assert!(Password::verify("correct horse battery staple", &phc));
        let old = password.hash().expect("hashed");
        assert!(
            hasher
                .verify("correct horse battery staple", &old)
                .await
                .expect("ran")
        );
        assert!(!hasher.verify("x", "not a hash").await.expect("ran"));
    }

    #[tokio::test]
    async fn a_full_hasher_refuses_at_once() {
        let hasher = Hasher::new(1);
        let permit = hasher.permits.try_acquire().expect("free");
        assert!(matches!(
            hasher.verify("a", Password::dummy_hash()).await,
            Err(HashError::Busy)
        ));
        drop(permit);
        assert!(hasher.verify("a", Password::dummy_hash()).await.is_ok());
    }
}
