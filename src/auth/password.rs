//! argon2id password hashing with OWASP's parameters (19 MiB, 2 passes, 1 lane),
//! run as heavy jobs. Hashes are standard PHC strings.
//!
//! Each heavy-job worker keeps the 19 MiB argon2 works in for good and hashes
//! in it again and again, so a flood of logins costs exactly `HEAVY_JOBS` ×
//! 19 MiB (freeing and allocating it per hash leaves glibc holding a block per
//! arena the job ever ran in).

use std::cell::RefCell;
use std::sync::OnceLock;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ApiResult};
use crate::heavy::HeavyJobs;

fn params() -> Params {
    Params::new(19 * 1024, 2, 1, None).expect("OWASP argon2id parameters are valid")
}

thread_local! {
    /// The memory argon2 works in, kept by the thread for its next hash.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Hashes `password` with `salt` into `out`, in the thread's kept memory.
fn hash_into(
    argon: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> argon2::Result<()> {
    let blocks = argon.params().block_count();
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() < blocks {
            memory.resize(blocks, Block::new());
        }
        argon.hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
    })
}

fn phc(password: &[u8]) -> Result<String, String> {
    let params = params();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt: [u8; 16] = rand::random();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    hash_into(&argon, password, &salt, &mut out).map_err(|e| e.to_string())?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| e.to_string())?,
        salt: Some(Salt::new(&salt).map_err(|e| e.to_string())?),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(hash.to_string())
}

pub async fn hash(heavy: &HeavyJobs, password: String) -> ApiResult<String> {
    heavy
        .run(move || phc(password.as_bytes()))
        .await?
        .map_err(|e| ApiError::Internal(format!("argon2: {e}")))
}

/// True when `password` hashes to `stored` (a PHC string of argon2 of any
/// variant and parameters); false for anything that does not parse.
fn matches(password: &[u8], stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm.as_str()),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params);
    hash_into(&argon, password, salt, &mut out).is_ok()
        && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
}

/// A hash to verify against when the account does not exist, so that the
/// time taken does not tell which accounts exist.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| phc(b"not a real password").expect("hashing a constant works"))
}

/// True when `password` matches `stored`; with `stored` absent, spends the
/// same time and answers false.
pub async fn verify(
    heavy: &HeavyJobs,
    password: String,
    stored: Option<String>,
) -> ApiResult<bool> {
    heavy
        .run(move || {
            let exists = stored.is_some();
            let stored = stored.unwrap_or_else(|| dummy_hash().to_owned());
            matches(password.as_bytes(), &stored) && exists
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_phc_strings_that_verify() {
        let stored = phc(b"correct horse").unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(matches(b"correct horse", &stored));
        assert!(!matches(b"wrong horse", &stored));
        assert!(!matches(b"correct horse", "not a hash"));
    }

    #[test]
    fn hashes_made_by_the_argon2_crate_verify() {
        use argon2::password_hash::PasswordHasher;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params());
        let made = PasswordHasher::<PasswordHash>::hash_password(&argon, b"s3cret pass")
            .unwrap()
            .to_string();
        assert!(matches(b"s3cret pass", &made));
        assert!(!matches(b"s3cret pasS", &made));
    }
}
