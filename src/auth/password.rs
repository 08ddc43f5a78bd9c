//! argon2id password hashing with OWASP's parameters (19 MiB, 2 passes, 1 lane),
//! run off the async runtime.

use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{ApiError, ApiResult};
use crate::heavy::HeavyJobs;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP argon2id parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub async fn hash(heavy: &HeavyJobs, password: String) -> ApiResult<String> {
    heavy
        .run(move || {
            PasswordHasher::<PasswordHash>::hash_password(&argon2(), password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| ApiError::Internal(format!("argon2: {e}")))
        })
        .await?
}

/// A hash to verify against when the account does not exist, so that the
/// time taken does not tell which accounts exist.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        PasswordHasher::<PasswordHash>::hash_password(&argon2(), b"not a real password")
            .expect("hashing a constant works")
            .to_string()
    })
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
            let Ok(parsed) = PasswordHash::new(&stored) else {
                return false;
            };
            argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
                && exists
        })
        .await
}
