//! Secret tokens handed to a user (session cookies, reset links, calendar feed addresses): 256 random
//! bits, URL-safe, of which only the SHA-256 is stored. A copy of the database (a backup) therefore
//! cannot be turned into a working cookie or link, and a lookup by hash needs no constant-time
//! comparison: the hash of a guess reveals nothing about the stored ones.

use base64::Engine;
use sha2::{Digest, Sha256};

/// A new token: 32 random bytes, base64url without padding (43 characters).
pub(super) fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored in place of the token.
pub(super) fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_url_safe_distinct_and_hashed() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{a}");
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
    }
}
