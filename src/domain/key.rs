//! API keys: generated with 256 random bits, shown once, stored as SHA-256.
//!
//! A key carries so much entropy that a fast hash is enough; the lookup is an
//! index probe on the hash, so its timing says nothing about other keys.

use std::fmt;

use sha2::{Digest, Sha256};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// `sk_user_…`: a user's platform key.
    Platform,
    /// `sk_…`: scoped to one workspace.
    Workspace,
}

/// A key in clear text. Its `Debug` hides it so it cannot reach a log.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn generate(kind: KeyKind) -> Self {
        let bytes: [u8; 32] = rand::random();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let prefix = match kind {
            KeyKind::Platform => "sk_user_",
            KeyKind::Workspace => "sk_",
        };
        Self(format!("{prefix}{hex}"))
    }

    pub fn from_header(s: &str) -> Self {
        Self(s.to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> Vec<u8> {
        Sha256::digest(self.0.as_bytes()).to_vec()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_and_hidden_from_debug() {
        let a = ApiKey::generate(KeyKind::Workspace);
        let b = ApiKey::generate(KeyKind::Workspace);
        assert_ne!(a, b);
        assert!(a.expose().starts_with("sk_") && !a.expose().starts_with("sk_user_"));
        assert_eq!(a.expose().len(), 3 + 64);
        assert!(
            ApiKey::generate(KeyKind::Platform)
                .expose()
                .starts_with("sk_user_")
        );
        assert!(!format!("{a:?}").contains(&a.expose()[3..]));
        assert_eq!(a.hash().len(), 32);
        assert_eq!(a.hash(), ApiKey::from_header(a.expose()).hash());
    }
}
