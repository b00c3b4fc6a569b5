//! Password policy and hashing (argon2id with the argon2 crate's defaults: m=19 MiB, t=2, p=1,
//! OWASP's recommended minimum). Hashing runs on a blocking thread, never on the writer.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};

use super::DomainError;

pub const MIN_LEN: usize = 10;
pub const MAX_LEN: usize = 256;
const COMMON: &str = include_str!("../../assets/data/common-passwords.txt");

pub fn check_policy(password: &str, email: &str) -> Result<(), DomainError> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(DomainError::invalid("password", format!("must be at least {MIN_LEN} characters")));
    }
    if n > MAX_LEN {
        return Err(DomainError::invalid("password", format!("must be at most {MAX_LEN} characters")));
    }
    let lower = password.to_lowercase();
    if COMMON.lines().any(|common| common == lower) {
        return Err(DomainError::invalid("password", "is too common; choose another"));
    }
    if !email.is_empty() && lower == email.to_lowercase() {
        return Err(DomainError::invalid("password", "must not be your email address"));
    }
    Ok(())
}

pub async fn hash(password: String) -> Result<String, DomainError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| DomainError::Internal(anyhow::anyhow!("argon2: {e}")))
    })
    .await
    .map_err(|e| DomainError::Internal(e.into()))?
}

/// Verifies in constant time; an empty or malformed stored hash never matches.
pub async fn verify(password: String, stored: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// A hash to verify against when the account does not exist, so timing does not reveal that.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2zPbdC4F3AiyR4uV1Gd1pDo7mV2Ua3Q0tQH8y0Z9Fqg";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert!(check_policy("short", "").is_err());
        assert!(check_policy("password123", "").is_err());
        assert!(check_policy("fan@example.org", "fan@example.org").is_err());
        assert!(check_policy("correct horse battery", "fan@example.org").is_ok());
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let h = hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery".into(), h.clone()).await);
        assert!(!verify("wrong horse battery".into(), h).await);
        assert!(!verify("x".into(), String::new()).await);
    }
}
