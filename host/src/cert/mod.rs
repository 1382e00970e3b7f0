//! `berth cert`: make a key and self-signed certificate for AS2 or TLS, and show what a
//! certificate file holds, whatever its format.

pub mod exchanged;
mod new;
mod show;

pub use new::{new_certificate, NewCertificate};
pub use show::show;
pub(crate) use show::{fingerprint, name};
