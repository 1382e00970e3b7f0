//! Detached CMS signing with a chosen digest.
//!
//! The openssl crate only wraps `CMS_sign`, which always picks OpenSSL's
//! default digest; an MDN must be signed with the digest the sender asked for
//! in `signed-receipt-micalg`, which needs `CMS_add1_signer` + `CMS_final`.
//! Both are in libcrypto (linked through openssl-sys) but not declared by
//! openssl-sys, so they are declared here.

use crate::micalg::MicAlg;
use foreign_types::{ForeignType, ForeignTypeRef};
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::error::ErrorStack;
use openssl::pkey::{PKeyRef, Private};
use openssl::x509::X509Ref;
use openssl_sys as ffi;
use std::os::raw::{c_int, c_uint, c_void};

extern "C" {
    fn CMS_add1_signer(
        cms: *mut ffi::CMS_ContentInfo,
        signer: *mut ffi::X509,
        pk: *mut ffi::EVP_PKEY,
        md: *const ffi::EVP_MD,
        flags: c_uint,
    ) -> *mut c_void;
    fn CMS_final(
        cms: *mut ffi::CMS_ContentInfo,
        data: *mut ffi::BIO,
        dcont: *mut ffi::BIO,
        flags: c_uint,
    ) -> c_int;
}

/// Frees a memory BIO on every path.
struct MemBio(*mut ffi::BIO);

impl Drop for MemBio {
    fn drop(&mut self) {
        // SAFETY: the pointer came from BIO_new_mem_buf and is freed once.
        unsafe { ffi::BIO_free_all(self.0) }
    }
}

pub(crate) fn sign_detached(
    content: &[u8],
    cert: &X509Ref,
    key: &PKeyRef<Private>,
    alg: MicAlg,
) -> Result<Vec<u8>, ErrorStack> {
    let flags = CMSOptions::DETACHED | CMSOptions::BINARY;
    // PARTIAL: an empty SignedData to which the signer is added below.
    let cms = CmsContentInfo::sign::<Private>(None, None, None, None, flags | CMSOptions::PARTIAL)?;
    let len = c_int::try_from(content.len()).map_err(|_| ErrorStack::get())?;
    let md = alg.message_digest();
    // SAFETY: every pointer is valid for the duration of the calls: `cms`,
    // `cert` and `key` are live owned/borrowed openssl objects (add1_signer
    // takes its own references), the BIO reads from `content`, which outlives
    // it, and the BIO is freed by MemBio's Drop.
    unsafe {
        let signer = CMS_add1_signer(
            cms.as_ptr(),
            cert.as_ptr(),
            key.as_ptr(),
            md.as_ptr(),
            flags.bits(),
        );
        if signer.is_null() {
            return Err(ErrorStack::get());
        }
        let bio = ffi::BIO_new_mem_buf(content.as_ptr().cast(), len);
        if bio.is_null() {
            return Err(ErrorStack::get());
        }
        let bio = MemBio(bio);
        if CMS_final(cms.as_ptr(), bio.0, std::ptr::null_mut(), flags.bits()) != 1 {
            return Err(ErrorStack::get());
        }
    }
    cms.to_der()
}
