//! Key transport for the streaming decryptor: choosing the recipient info
//! meant for one of our keys and RSA-decrypting the content-encryption key.

use super::ber::{children, malformed, octets, oid_of, parse};
use super::{decryption, unsupported, StreamDecryptError};
use crate::certs::KeyPair;
use crate::cms;
use crate::cms::sid::CertId;
use crate::der::{Element, TAG_SEQUENCE};
use openssl::md::{Md, MdRef};
use openssl::pkey::{Id, PKeyRef, Private};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;

/// Also the failure of content decrypted with a key found by trial: a
/// different message would tell whether the trial's RSA step succeeded.
pub(super) const NO_RECIPIENT: &str = "no recipient info for a configured decryption key";

const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const OID_RSAES_OAEP: &str = "1.2.840.113549.1.1.7";
const OID_MGF1: &str = "1.2.840.113549.1.1.8";
const OID_P_SPECIFIED: &str = "1.2.840.113549.1.1.9";

enum KeyAlg {
    Pkcs1,
    Oaep {
        md: &'static MdRef,
        mgf1: &'static MdRef,
        label: Vec<u8>,
    },
}

struct KeyTrans<'a> {
    rid: CertId<'a>,
    /// `Err`: an algorithm this path does not handle, described.
    alg: Result<KeyAlg, String>,
    encrypted_key: Vec<u8>,
}

/// A content-encryption key and how it was found.
pub(super) struct ContentKey {
    pub key: Vec<u8>,
    /// Whether a recipient info names one of our certificates; if not, the
    /// key came from trying our keys on every recipient info.
    pub named: bool,
}

/// The content-encryption key from the recipient infos (DER of the SET).
pub(super) fn content_key(
    recipient_infos: &[u8],
    keys: &[KeyPair],
    key_len: usize,
) -> Result<ContentKey, StreamDecryptError> {
    if keys.is_empty() {
        return Err(decryption("no decryption key is configured"));
    }
    let set = parse(recipient_infos, "recipientInfos")?;
    let mut ktris = Vec::new();
    let mut other_kinds = 0;
    for ri in children(&set, "recipientInfos")? {
        if ri.tag == TAG_SEQUENCE {
            ktris.push(KeyTrans::parse(&ri)?);
        } else {
            other_kinds += 1;
        }
    }
    let unwrap = |kt: &KeyTrans<'_>, alg: &KeyAlg, key: &KeyPair| {
        unwrap_key(&key.private_key, alg, &kt.encrypted_key).filter(|k| k.len() == key_len)
    };
    let (mut named, mut named_unsupported) = (false, None);
    for kt in &ktris {
        for key in keys.iter().filter(|k| kt.rid.names(&k.certificate)) {
            match &kt.alg {
                Ok(alg) => {
                    named = true;
                    if let Some(key) = unwrap(kt, alg, key) {
                        return Ok(ContentKey { key, named });
                    }
                }
                Err(e) => named_unsupported = named_unsupported.or(Some(e.clone())),
            }
        }
    }
    if let (false, Some(e)) = (named, named_unsupported) {
        return Err(unsupported(e));
    }
    if named {
        // As OpenSSL does against Bleichenbacher-style oracles: a failed key
        // transport carries on with a random key, so that it fails later
        // exactly like corrupted content.
        let mut key = vec![0; key_len];
        openssl::rand::rand_bytes(&mut key).map_err(|e| decryption(cms::reason(&e)))?;
        return Ok(ContentKey { key, named });
    }
    // No recipient info names our certificates (e.g. the sender encrypted to
    // a re-issued certificate with the same key): try every combination.
    let usable: Vec<(&KeyTrans<'_>, &KeyAlg)> = ktris
        .iter()
        .filter_map(|kt| kt.alg.as_ref().ok().map(|alg| (kt, alg)))
        .collect();
    for (kt, alg) in &usable {
        if let Some(key) = keys.iter().find_map(|key| unwrap(kt, alg, key)) {
            return Ok(ContentKey { key, named });
        }
    }
    // Unsupported only when nothing could be tried: which way a trial went
    // must not show in the kind of error.
    if usable.is_empty() {
        if let Some(Err(e)) = ktris.first().map(|kt| &kt.alg) {
            return Err(unsupported(e.clone()));
        }
        if other_kinds > 0 {
            return Err(unsupported(
                "only key agreement, KEK, password or other recipient infos are present",
            ));
        }
    }
    Err(decryption(NO_RECIPIENT))
}

impl<'a> KeyTrans<'a> {
    fn parse(ri: &Element<'a>) -> Result<KeyTrans<'a>, StreamDecryptError> {
        let what = "KeyTransRecipientInfo";
        let parts = children(ri, what)?;
        let [_version, rid, alg, encrypted_key] = parts.as_slice() else {
            return Err(malformed(format!("{what} without 4 fields")));
        };
        let rid = CertId::parse(rid).map_err(malformed)?;
        let alg = match key_alg(alg) {
            Ok(alg) => Ok(alg),
            Err(StreamDecryptError::Unsupported(e)) => Err(e),
            Err(e) => return Err(e),
        };
        Ok(KeyTrans {
            rid,
            alg,
            encrypted_key: octets(Some(encrypted_key), "encryptedKey")?,
        })
    }
}

fn key_alg(alg: &Element<'_>) -> Result<KeyAlg, StreamDecryptError> {
    let parts = children(alg, "keyEncryptionAlgorithm")?;
    let oid = oid_of(parts.first(), "keyEncryptionAlgorithm")?;
    match oid.as_str() {
        OID_RSA_ENCRYPTION => Ok(KeyAlg::Pkcs1),
        OID_RSAES_OAEP => {
            let (mut md, mut mgf1, mut label) = (Md::sha1(), Md::sha1(), Vec::new());
            // Absent or NULL parameters mean all defaults.
            let fields = match parts.get(1) {
                Some(p) if p.tag == TAG_SEQUENCE => children(p, "RSAES-OAEP parameters")?,
                _ => Vec::new(),
            };
            for field in fields {
                let inner = field
                    .child(0, TAG_SEQUENCE)
                    .map_err(|e| malformed(format!("RSAES-OAEP parameters: {e}")))?;
                let inner = children(&inner, "RSAES-OAEP parameters")?;
                let param_oid = oid_of(inner.first(), "RSAES-OAEP parameters")?;
                match field.tag {
                    0xA0 => md = hash(&param_oid)?,
                    0xA1 if param_oid == OID_MGF1 => {
                        let hash_alg = inner
                            .get(1)
                            .ok_or_else(|| malformed("MGF1 without a hash"))?;
                        mgf1 = hash(&oid_of(
                            children(hash_alg, "MGF1 hash")?.first(),
                            "MGF1 hash",
                        )?)?;
                    }
                    0xA2 if param_oid == OID_P_SPECIFIED => {
                        label = octets(inner.get(1), "OAEP label")?;
                    }
                    _ => return Err(unsupported(format!("RSAES-OAEP parameter {param_oid}"))),
                }
            }
            Ok(KeyAlg::Oaep { md, mgf1, label })
        }
        other => Err(unsupported(format!("key encryption algorithm {other}"))),
    }
}

fn hash(oid: &str) -> Result<&'static MdRef, StreamDecryptError> {
    match oid {
        "1.3.14.3.2.26" => Ok(Md::sha1()),
        "2.16.840.1.101.3.4.2.4" => Ok(Md::sha224()),
        "2.16.840.1.101.3.4.2.1" => Ok(Md::sha256()),
        "2.16.840.1.101.3.4.2.2" => Ok(Md::sha384()),
        "2.16.840.1.101.3.4.2.3" => Ok(Md::sha512()),
        other => Err(unsupported(format!("RSAES-OAEP hash {other}"))),
    }
}

/// The RSA-decrypted key, or `None` for any failure: callers try further
/// keys, and the reason must not leak to the sender either way.
fn unwrap_key(key: &PKeyRef<Private>, alg: &KeyAlg, encrypted: &[u8]) -> Option<Vec<u8>> {
    if key.id() != Id::RSA {
        return None;
    }
    let mut ctx = PkeyCtx::new(key).ok()?;
    ctx.decrypt_init().ok()?;
    match alg {
        KeyAlg::Pkcs1 => ctx.set_rsa_padding(Padding::PKCS1).ok()?,
        KeyAlg::Oaep { md, mgf1, label } => {
            ctx.set_rsa_padding(Padding::PKCS1_OAEP).ok()?;
            ctx.set_rsa_oaep_md(md).ok()?;
            ctx.set_rsa_mgf1_md(mgf1).ok()?;
            if !label.is_empty() {
                ctx.set_rsa_oaep_label(label).ok()?;
            }
        }
    }
    let mut out = Vec::new();
    ctx.decrypt_to_vec(encrypted, &mut out).ok()?;
    Some(out)
}
