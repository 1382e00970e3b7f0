//! AS2 (RFC 4130) receiving-side protocol library.

pub mod certs;
pub mod cms;
mod cms_sign;
pub mod compress;
mod der;
pub mod disposition;
pub mod headers;
pub mod mdn;
pub mod mic;
pub mod micalg;
pub mod mime;
pub mod receive;
pub mod unwrap;

#[cfg(test)]
mod testutil;
