//! CMS operations the openssl crate does not wrap: choosing the signing
//! digest, RSASSA-PSS signatures and RSA-OAEP key transport.

use berth_as2::certs::KeyPair;
use foreign_types::ForeignTypeRef;
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::hash::MessageDigest;
use openssl::pkey::Private;
use openssl::stack::Stack;
use openssl::symm::Cipher;
use openssl::x509::X509;
use openssl_sys as sys;
use std::os::raw::{c_int, c_uint, c_void};

const CMS_KEY_PARAM: c_uint = 0x40000;
const RSA_PKCS1_OAEP_PADDING: c_int = 4;
const RSA_PKCS1_PSS_PADDING: c_int = 6;

extern "C" {
    fn CMS_add1_signer(
        cms: *mut sys::CMS_ContentInfo,
        signer: *mut sys::X509,
        pk: *mut sys::EVP_PKEY,
        md: *const sys::EVP_MD,
        flags: c_uint,
    ) -> *mut c_void;
    fn CMS_SignerInfo_get0_pkey_ctx(si: *mut c_void) -> *mut sys::EVP_PKEY_CTX;
    fn CMS_add1_recipient_cert(
        cms: *mut sys::CMS_ContentInfo,
        recip: *mut sys::X509,
        flags: c_uint,
    ) -> *mut c_void;
    fn CMS_RecipientInfo_get0_pkey_ctx(ri: *mut c_void) -> *mut sys::EVP_PKEY_CTX;
    fn CMS_final(
        cms: *mut sys::CMS_ContentInfo,
        data: *mut sys::BIO,
        dcont: *mut sys::BIO,
        flags: c_uint,
    ) -> c_int;
}

unsafe fn finalize(cms: &CmsContentInfo, data: &[u8], flags: c_uint) {
    let bio = sys::BIO_new_mem_buf(data.as_ptr().cast(), data.len() as c_int);
    assert!(!bio.is_null());
    let ok = CMS_final(cms.as_ptr(), bio, std::ptr::null_mut(), flags);
    sys::BIO_free_all(bio);
    assert_eq!(ok, 1, "CMS_final: {:?}", openssl::error::ErrorStack::get());
}

/// Detached SignedData with the given digest, PKCS#1 v1.5 or PSS.
pub fn sign_detached(data: &[u8], signer: &KeyPair, md: MessageDigest, pss: bool) -> Vec<u8> {
    let flags = CMSOptions::DETACHED | CMSOptions::BINARY;
    let cms = CmsContentInfo::sign::<Private>(None, None, None, None, flags | CMSOptions::PARTIAL)
        .unwrap();
    unsafe {
        let key_param = if pss { CMS_KEY_PARAM } else { 0 };
        let si = CMS_add1_signer(
            cms.as_ptr(),
            signer.certificate.as_ptr(),
            signer.private_key.as_ptr(),
            md.as_ptr(),
            flags.bits() | key_param,
        );
        assert!(!si.is_null());
        if pss {
            let ctx = CMS_SignerInfo_get0_pkey_ctx(si);
            assert_eq!(
                sys::EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING),
                1
            );
        }
        finalize(&cms, data, flags.bits());
    }
    cms.to_der().unwrap()
}

/// EnvelopedData with RSA-OAEP key transport.
pub fn encrypt_oaep(data: &[u8], recipient: &KeyPair, cipher: Cipher) -> Vec<u8> {
    let flags = CMSOptions::BINARY;
    let empty: Stack<X509> = Stack::new().unwrap();
    let cms = CmsContentInfo::encrypt(&empty, b"", cipher, flags | CMSOptions::PARTIAL).unwrap();
    unsafe {
        let ri =
            CMS_add1_recipient_cert(cms.as_ptr(), recipient.certificate.as_ptr(), CMS_KEY_PARAM);
        assert!(!ri.is_null());
        let ctx = CMS_RecipientInfo_get0_pkey_ctx(ri);
        assert_eq!(
            sys::EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING),
            1
        );
        finalize(&cms, data, flags.bits());
    }
    cms.to_der().unwrap()
}
