//! Email addresses as leads and do-not-contact entries hold them.

use std::fmt;

pub const MAX_LEN: usize = 254;

/// A trimmed, syntactically valid address with a dotted domain. The local
/// part keeps the caller's casing; the domain is lower-cased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Option<Self> {
        let s = raw.trim();
        if s.is_empty() || s.chars().count() > MAX_LEN {
            return None;
        }
        let (local, domain) = s.rsplit_once('@')?;
        if local.is_empty() || !email_address::EmailAddress::is_valid(s) {
            return None;
        }
        let domain = Domain::parse(domain)?;
        Some(Self(format!("{local}@{}", domain.0)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-insensitive identity of the address: what uniqueness and
    /// matching use.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A lower-cased DNS name with at least two labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Domain(String);

impl Domain {
    pub fn parse(raw: &str) -> Option<Self> {
        let d = raw.trim().to_lowercase();
        if d.len() > 253 || !d.contains('.') {
            return None;
        }
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        d.split('.').all(label_ok).then_some(Self(d))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_domain_is_lower_cased_and_the_local_part_kept() {
        let e = Email::parse("  John.Doe@ACME.Com ").unwrap();
        assert_eq!(e.as_str(), "John.Doe@acme.com");
        assert_eq!(e.key(), "john.doe@acme.com");
        assert_eq!(e.domain(), "acme.com");
    }

    #[test]
    fn invalid_addresses_are_rejected() {
        for bad in [
            "",
            "invalid@",
            "@acme.com",
            "john",
            "john@localhost",
            "john@acme..com",
            "john@-acme.com",
            "jo hn@acme.com",
            "john@[127.0.0.1]",
        ] {
            assert!(Email::parse(bad).is_none(), "{bad:?} should be invalid");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_none());
    }

    #[test]
    fn domains_need_a_dot() {
        assert_eq!(
            Domain::parse("Example.COM").unwrap().as_str(),
            "example.com"
        );
        assert!(Domain::parse("localhost").is_none());
        assert!(Domain::parse("a..b").is_none());
    }
}
