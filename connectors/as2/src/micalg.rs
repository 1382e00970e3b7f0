//! Digest algorithm names as they appear in `micalg=` parameters,
//! `signed-receipt-micalg` options and `Received-Content-MIC` fields.
//!
//! Peers spell them every possible way; we accept all spellings and emit
//! either RFC 5751 names (`sha-256`) or, for legacy partners, RFC 3851 names
//! (`sha256`).

use openssl::hash::MessageDigest;
use std::fmt;

/// A digest algorithm usable for MICs and signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MicAlg {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl MicAlg {
    pub const ALL: [MicAlg; 5] = [
        MicAlg::Sha1,
        MicAlg::Sha224,
        MicAlg::Sha256,
        MicAlg::Sha384,
        MicAlg::Sha512,
    ];

    /// Parses any common spelling: `sha-256`, `sha256`, `SHA256`, `SHA-256`,
    /// `sha_256`, `sha1`, `sha-1`... Surrounding whitespace and quotes are ignored.
    pub fn from_name(name: &str) -> Option<MicAlg> {
        let norm: String = name
            .trim()
            .trim_matches('"')
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        match norm.as_str() {
            "sha1" | "sha" => Some(MicAlg::Sha1),
            "sha224" => Some(MicAlg::Sha224),
            "sha256" => Some(MicAlg::Sha256),
            "sha384" => Some(MicAlg::Sha384),
            "sha512" => Some(MicAlg::Sha512),
            _ => None,
        }
    }

    /// The name to emit: RFC 5751 (`sha-256`) or RFC 3851 (`sha256`) when `legacy_smime`.
    pub fn name(self, legacy_smime: bool) -> &'static str {
        match (self, legacy_smime) {
            (MicAlg::Sha1, false) => "sha-1",
            (MicAlg::Sha224, false) => "sha-224",
            (MicAlg::Sha256, false) => "sha-256",
            (MicAlg::Sha384, false) => "sha-384",
            (MicAlg::Sha512, false) => "sha-512",
            (MicAlg::Sha1, true) => "sha1",
            (MicAlg::Sha224, true) => "sha224",
            (MicAlg::Sha256, true) => "sha256",
            (MicAlg::Sha384, true) => "sha384",
            (MicAlg::Sha512, true) => "sha512",
        }
    }

    /// The algorithm for a digest OID found in a CMS SignerInfo.
    pub fn from_oid(oid: &str) -> Option<MicAlg> {
        match oid {
            "1.3.14.3.2.26" => Some(MicAlg::Sha1),
            "2.16.840.1.101.3.4.2.4" => Some(MicAlg::Sha224),
            "2.16.840.1.101.3.4.2.1" => Some(MicAlg::Sha256),
            "2.16.840.1.101.3.4.2.2" => Some(MicAlg::Sha384),
            "2.16.840.1.101.3.4.2.3" => Some(MicAlg::Sha512),
            _ => None,
        }
    }

    pub fn message_digest(self) -> MessageDigest {
        match self {
            MicAlg::Sha1 => MessageDigest::sha1(),
            MicAlg::Sha224 => MessageDigest::sha224(),
            MicAlg::Sha256 => MessageDigest::sha256(),
            MicAlg::Sha384 => MessageDigest::sha384(),
            MicAlg::Sha512 => MessageDigest::sha512(),
        }
    }

    /// Digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        // Hashing with a built-in digest only fails on allocation failure.
        openssl::hash::hash(self.message_digest(), data)
            .map(|d| d.to_vec())
            .unwrap_or_default()
    }
}

impl fmt::Display for MicAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_spelling() {
        for (s, alg) in [
            ("sha1", MicAlg::Sha1),
            ("SHA-1", MicAlg::Sha1),
            ("sha_1", MicAlg::Sha1),
            ("sha224", MicAlg::Sha224),
            ("sha-256", MicAlg::Sha256),
            ("SHA256", MicAlg::Sha256),
            (" \"sha-256\" ", MicAlg::Sha256),
            ("Sha-384", MicAlg::Sha384),
            ("sha512", MicAlg::Sha512),
        ] {
            assert_eq!(MicAlg::from_name(s), Some(alg), "{s}");
        }
        assert_eq!(MicAlg::from_name("md5"), None);
        assert_eq!(MicAlg::from_name("sha-3"), None);
        assert_eq!(MicAlg::from_name(""), None);
    }

    #[test]
    fn emits_modern_or_legacy_names() {
        assert_eq!(MicAlg::Sha256.name(false), "sha-256");
        assert_eq!(MicAlg::Sha256.name(true), "sha256");
        assert_eq!(MicAlg::Sha1.name(false), "sha-1");
        assert_eq!(MicAlg::Sha1.name(true), "sha1");
        assert_eq!(MicAlg::Sha512.to_string(), "sha-512");
        for alg in MicAlg::ALL {
            assert_eq!(MicAlg::from_name(alg.name(true)), Some(alg));
            assert_eq!(MicAlg::from_name(alg.name(false)), Some(alg));
        }
    }

    #[test]
    fn digests_have_expected_lengths() {
        let lens: Vec<usize> = MicAlg::ALL.iter().map(|a| a.digest(b"x").len()).collect();
        assert_eq!(lens, vec![20, 28, 32, 48, 64]);
        assert_eq!(
            MicAlg::from_oid("2.16.840.1.101.3.4.2.1"),
            Some(MicAlg::Sha256)
        );
        assert_eq!(MicAlg::from_oid("1.2.3"), None);
    }
}
