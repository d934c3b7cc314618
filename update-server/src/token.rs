//! Bearer tokens for admins and devices: 32 random bytes as hex, stored and looked up
//! only as their sha256, so a copy of the database grants no access.

use rand::RngCore;
use update_core::hash::sha256_hex;

const TOKEN_BYTES: usize = 32;

/// A new random token (64 hex digits). Show it once; keep only [`token_hash`].
pub fn generate_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What the database stores for a token.
pub fn token_hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// Whether `token` has the form of a token we issue, checked before any lookup.
pub fn is_well_formed(token: &str) -> bool {
    token.len() == TOKEN_BYTES * 2 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex_and_hash_stably() {
        let (a, b) = (generate_token(), generate_token());
        assert_ne!(a, b);
        assert!(is_well_formed(&a));
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), a);
        assert!(!is_well_formed("short"));
    }
}
