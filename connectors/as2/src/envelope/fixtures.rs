//! What the envelope tests build their messages with: keys, OpenSSL-made EnvelopedData (with
//! RSA-OAEP through the CMS calls the openssl crate does not wrap), a reader that trickles,
//! and a DER-to-BER re-encoder.

use super::*;
use crate::der::{write_tlv, Element};
use crate::testutil::keypair;
use foreign_types::ForeignTypeRef;
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::hash::MessageDigest;
use openssl::stack::Stack;
use openssl::x509::X509;
use std::ops::Range;
use std::os::raw::{c_int, c_uint, c_void};
use std::sync::OnceLock;

pub(crate) struct Keys {
    pub(crate) ours: KeyPair,
    pub(crate) stranger: KeyPair,
}

pub(crate) fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        ours: keypair("us"),
        stranger: keypair("stranger"),
    })
}

pub(super) fn ours() -> Vec<KeyPair> {
    vec![keys().ours.clone()]
}

/// Returns at most 7 bytes per call, to cross every chunk boundary.
pub(super) struct Trickle<'a>(pub(super) &'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(7).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

/// Decrypts collecting, and checks that the streamed decryption agrees (same plaintext,
/// same error).
pub(super) fn decrypt(der: &[u8], keys: &[KeyPair]) -> Result<Vec<u8>, StreamDecryptError> {
    let collected = decrypt_reader(Trickle(der), keys, &Limits::default());
    let streamed = decrypt_streamed(der, keys);
    match (&collected, &streamed) {
        (Ok(a), Ok(b)) => assert!(a == b, "streamed plaintext differs"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        (a, b) => panic!("collected {a:?}, streamed {b:?}"),
    }
    collected
}

/// [`super::DecryptStream`] read to its end, its errors as [`decrypt_reader`] gives them.
pub(super) fn decrypt_streamed(
    der: &[u8],
    keys: &[KeyPair],
) -> Result<Vec<u8>, StreamDecryptError> {
    let reopen = || Ok(Box::new(Trickle(der)) as Box<dyn Read + '_>);
    let mut stream =
        super::DecryptStream::open(Trickle(der), keys, &Limits::default(), Some(&reopen))?;
    let mut out = Vec::new();
    stream.read_to_end(&mut out).map_err(|e| {
        match e.get_ref().and_then(|i| i.downcast_ref::<super::CmsIo>()) {
            Some(super::CmsIo(c)) => StreamDecryptError::Cms(c.clone()),
            None => StreamDecryptError::Io(e),
        }
    })?;
    Ok(out)
}

pub(super) fn is_malformed(r: &Result<Vec<u8>, StreamDecryptError>) -> bool {
    matches!(r, Err(StreamDecryptError::Cms(CmsError::Malformed(_))))
}

pub(super) fn decryption_error(r: Result<Vec<u8>, StreamDecryptError>) -> String {
    match r {
        Err(StreamDecryptError::Cms(CmsError::Decryption(m))) => m,
        other => panic!("expected a decryption error, got {other:?}"),
    }
}

pub(super) fn ciphers() -> [(&'static str, Cipher); 6] {
    [
        ("des-ede3-cbc", Cipher::des_ede3_cbc()),
        ("aes-128-cbc", Cipher::aes_128_cbc()),
        ("aes-192-cbc", Cipher::aes_192_cbc()),
        ("aes-256-cbc", Cipher::aes_256_cbc()),
        ("aes-128-gcm", Cipher::aes_128_gcm()),
        ("aes-256-gcm", Cipher::aes_256_gcm()),
    ]
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Transport {
    Pkcs1,
    /// RSA-OAEP with this hash for both OAEP and MGF1 (SHA-1: default parameters).
    Oaep(fn() -> MessageDigest),
}

pub(super) const CMS_KEY_PARAM: c_uint = 0x40000;
pub(super) const RSA_PKCS1_OAEP_PADDING: c_int = 4;

extern "C" {
    fn CMS_add1_recipient_cert(
        cms: *mut openssl_sys::CMS_ContentInfo,
        recip: *mut openssl_sys::X509,
        flags: c_uint,
    ) -> *mut c_void;
    fn CMS_RecipientInfo_get0_pkey_ctx(ri: *mut c_void) -> *mut openssl_sys::EVP_PKEY_CTX;
    fn CMS_final(
        cms: *mut openssl_sys::CMS_ContentInfo,
        data: *mut openssl_sys::BIO,
        dcont: *mut openssl_sys::BIO,
        flags: c_uint,
    ) -> c_int;
}

/// EnvelopedData (AuthEnvelopedData for GCM) built by OpenSSL.
pub(super) fn encrypt(
    data: &[u8],
    to: &[&KeyPair],
    cipher: Cipher,
    transport: Transport,
) -> Vec<u8> {
    encrypt_with(data, to, cipher, transport, CMSOptions::BINARY)
}

pub(super) fn encrypt_with(
    data: &[u8],
    to: &[&KeyPair],
    cipher: Cipher,
    transport: Transport,
    flags: CMSOptions,
) -> Vec<u8> {
    let md = match transport {
        Transport::Pkcs1 => {
            let mut stack = Stack::new().unwrap();
            for k in to {
                stack.push(k.certificate.clone()).unwrap();
            }
            let cms = CmsContentInfo::encrypt(&stack, data, cipher, flags).unwrap();
            return cms.to_der().unwrap();
        }
        Transport::Oaep(md) => md(),
    };
    let empty: Stack<X509> = Stack::new().unwrap();
    let cms = CmsContentInfo::encrypt(&empty, b"", cipher, flags | CMSOptions::PARTIAL).unwrap();
    unsafe {
        for k in to {
            let ri = CMS_add1_recipient_cert(
                cms.as_ptr(),
                k.certificate.as_ptr(),
                CMS_KEY_PARAM | flags.bits(),
            );
            assert!(!ri.is_null());
            let ctx = CMS_RecipientInfo_get0_pkey_ctx(ri);
            assert_eq!(
                openssl_sys::EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING),
                1
            );
            if md.type_() != MessageDigest::sha1().type_() {
                let p = md.as_ptr() as *mut _;
                assert_eq!(openssl_sys::EVP_PKEY_CTX_set_rsa_oaep_md(ctx, p), 1);
                assert_eq!(openssl_sys::EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, p as _), 1);
            }
        }
        let bio = openssl_sys::BIO_new_mem_buf(data.as_ptr().cast(), data.len() as c_int);
        assert!(!bio.is_null());
        let ok = CMS_final(cms.as_ptr(), bio, std::ptr::null_mut(), flags.bits());
        openssl_sys::BIO_free_all(bio);
        assert_eq!(ok, 1, "CMS_final: {:?}", openssl::error::ErrorStack::get());
    }
    cms.to_der().unwrap()
}

pub(super) fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

pub(super) fn offset(der: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - der.as_ptr() as usize
}

/// Where the encrypted content, the first encrypted key and (for
/// AuthEnvelopedData) the mac lie in a DER message.
pub(super) struct Layout {
    /// Where the encrypted content's TLV starts.
    pub(super) content_tlv: usize,
    pub(super) content: Range<usize>,
    pub(super) mac: Option<Range<usize>>,
    /// The encryptedKey of the first recipient info.
    pub(super) encrypted_key: Range<usize>,
}

pub(super) fn layout(der: &[u8]) -> Layout {
    let body = der::parse(der).unwrap().children().unwrap()[1]
        .children()
        .unwrap()[0];
    let fields = body.children().unwrap();
    let eci_at = fields.iter().position(|f| f.tag == TAG_SEQUENCE).unwrap();
    let content = fields[eci_at].children().unwrap()[2];
    assert_eq!(content.tag, 0x80);
    let start = offset(der, content.content);
    let mac = fields[eci_at + 1..]
        .iter()
        .find(|f| f.tag == TAG_OCTET_STRING)
        .map(|m| offset(der, m.content)..offset(der, m.content) + m.content.len());
    let set = fields.iter().find(|f| f.tag == TAG_SET).unwrap();
    let ek = set.children().unwrap()[0].children().unwrap()[3].content;
    let alg = fields[eci_at].children().unwrap()[1];
    Layout {
        content_tlv: offset(der, alg.content) + alg.content.len(),
        content: start..start + content.content.len(),
        mac,
        encrypted_key: offset(der, ek)..offset(der, ek) + ek.len(),
    }
}

pub(super) fn tlv(el: &Element<'_>) -> Vec<u8> {
    write_tlv(el.tag, el.content)
}

/// Test-only DER -> BER re-encoder: indefinite lengths on the outer
/// SEQUENCEs and the explicit [0], and the encrypted content as a
/// constructed, indefinite [0] of OCTET STRING segments of odd sizes, some
/// nested in constructed OCTET STRINGs (indefinite and definite).
pub(super) fn to_ber(der: &[u8]) -> Vec<u8> {
    let ci = der::parse(der).unwrap();
    let parts = ci.children().unwrap();
    let body = parts[1].children().unwrap()[0];
    let mut out = vec![0x30, 0x80];
    out.extend(tlv(&parts[0]));
    out.extend([0xA0, 0x80, 0x30, 0x80]);
    for field in body.children().unwrap() {
        if field.tag != TAG_SEQUENCE {
            out.extend(tlv(&field));
            continue;
        }
        let eci = field.children().unwrap();
        out.extend([0x30, 0x80]);
        out.extend(tlv(&eci[0]));
        out.extend(tlv(&eci[1]));
        out.extend([0xA0, 0x80]);
        let mut rest = eci[2].content;
        let sizes = [1usize, 3, 5, 7, 11, 13, 17, 4093, 0];
        let mut i = 0;
        while !rest.is_empty() {
            let n = sizes[i % sizes.len()].min(rest.len());
            let (seg, tail) = rest.split_at(n);
            match i % 5 {
                2 => {
                    let (a, b) = seg.split_at(seg.len() / 2);
                    out.extend([0x24, 0x80]);
                    out.extend(write_tlv(TAG_OCTET_STRING, a));
                    out.extend(write_tlv(TAG_OCTET_STRING, b));
                    out.extend([0, 0]);
                }
                4 => out.extend(write_tlv(0x24, &write_tlv(TAG_OCTET_STRING, seg))),
                _ => out.extend(write_tlv(TAG_OCTET_STRING, seg)),
            }
            rest = tail;
            i += 1;
        }
        out.extend([0, 0, 0, 0]);
    }
    out.extend([0, 0, 0, 0, 0, 0]);
    out
}
