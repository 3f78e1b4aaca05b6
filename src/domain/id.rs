//! Public object IDs.
//!
//! Every object is stored under a compact integer key; what the API shows is a
//! 24-hex `_id` in the ObjectId layout's spirit: a 4-byte creation timestamp in
//! seconds followed by the 8-byte storage key. IDs therefore sort by creation
//! time, need no extra index, and decode back to the storage key. The
//! timestamp part is checked against the stored row, so an ID with a forged
//! timestamp names nothing.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ObjectId {
    /// Creation time, whole seconds since the epoch.
    pub secs: u32,
    /// The storage key.
    pub key: i64,
}

impl ObjectId {
    /// The ID of a row created at `created_ms` (milliseconds since the epoch).
    pub fn new(key: i64, created_ms: i64) -> Self {
        Self {
            secs: (created_ms.div_euclid(1000)).clamp(0, u32::MAX as i64) as u32,
            key,
        }
    }

    /// Parses 24 hex characters (either case). Anything else is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() != 24 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let secs = u32::from_str_radix(&s[..8], 16).ok()?;
        let key = u64::from_str_radix(&s[8..], 16).ok()?;
        let key = i64::try_from(key).ok()?;
        Some(Self { secs, key })
    }

    /// Whether this ID names the row with `key` created at `created_ms`.
    pub fn matches(&self, key: i64, created_ms: i64) -> bool {
        *self == Self::new(key, created_ms)
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}{:016x}", self.secs, self.key as u64)
    }
}

impl serde::Serialize for ObjectId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_round_trips_through_its_text() {
        let id = ObjectId::new(123_456, 1_764_000_000_123);
        let text = id.to_string();
        assert_eq!(text.len(), 24);
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(ObjectId::parse(&text), Some(id));
        assert!(id.matches(123_456, 1_764_000_000_999));
        assert!(!id.matches(123_456, 1_764_000_001_000));
    }

    #[test]
    fn ids_sort_by_creation_time() {
        let older = ObjectId::new(900, 1_000_000).to_string();
        let newer = ObjectId::new(5, 2_000_000).to_string();
        assert!(older < newer);
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for bad in [
            "",
            "abc",
            "665d4e5f6a7b8c9d0e1f2a3",
            "665d4e5f6a7b8c9d0e1f2a3bb",
            "zzzd4e5f6a7b8c9d0e1f2a3b",
        ] {
            assert_eq!(ObjectId::parse(bad), None, "{bad}");
        }
        // The seed page's example ID is well formed (it names no lead, but it parses).
        assert!(ObjectId::parse("665d4e5f6a7b8c9d0e1f2a3b").is_some());
        // A storage key must fit an i64.
        assert_eq!(ObjectId::parse("00000000ffffffffffffffff"), None);
    }
}
