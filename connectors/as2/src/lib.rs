//! AS2 (RFC 4130) receiving-side protocol library.

pub mod certs;
pub mod cms;
mod cms_sign;
pub mod compress;
mod der;
pub mod headers;
pub mod micalg;
pub mod mime;

#[cfg(test)]
mod testutil;
