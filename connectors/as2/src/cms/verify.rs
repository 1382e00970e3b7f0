//! Detached signature verification without a copy of the content.
//!
//! The openssl crate's `CmsContentInfo::verify` always gives OpenSSL an output memory BIO, into
//! which OpenSSL copies the whole signed content (growing it by a third at a time): for a
//! 200 MB message that is 270 MB of memory for bytes we already hold. Passing no output BIO
//! makes OpenSSL read the content through a null sink instead.

use foreign_types::ForeignType;
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::error::ErrorStack;
use openssl::stack::Stack;
use openssl::x509::X509;
use openssl_sys as ffi;
use std::os::raw::c_int;

/// Frees a memory BIO on every path.
struct ReadBio(*mut ffi::BIO);

impl Drop for ReadBio {
    fn drop(&mut self) {
        // SAFETY: the pointer came from BIO_new_mem_buf and is freed once, here.
        unsafe { ffi::BIO_free_all(self.0) }
    }
}

/// `CMS_verify` over detached `content` against `certs`, with no output.
pub(crate) fn verify_detached(
    cms: &mut CmsContentInfo,
    certs: &Stack<X509>,
    content: &[u8],
    flags: CMSOptions,
) -> Result<(), ErrorStack> {
    let len = c_int::try_from(content.len()).map_err(|_| ErrorStack::get())?;
    // SAFETY: `cms` and `certs` are live openssl objects for the whole call; the read-only
    // memory BIO points into `content`, which outlives it (it is freed before returning); a
    // null store and a null output BIO are documented as allowed by CMS_verify.
    unsafe {
        let bio = ffi::BIO_new_mem_buf(content.as_ptr().cast(), len);
        if bio.is_null() {
            return Err(ErrorStack::get());
        }
        let bio = ReadBio(bio);
        let ok = ffi::CMS_verify(
            cms.as_ptr(),
            certs.as_ptr(),
            std::ptr::null_mut(),
            bio.0,
            std::ptr::null_mut(),
            flags.bits(),
        );
        if ok != 1 {
            return Err(ErrorStack::get());
        }
    }
    Ok(())
}
