//! AS2 (RFC 4130) receiving-side protocol library: pure synchronous
//! functions over bytes, shared by the AS2 connector plugins.
//!
//! Typical use by a plugin:
//! 1. [`headers::As2Headers::parse`] the HTTP headers (error: HTTP 400 naming
//!    the header); pick the partner from `as2_from` / `as2_to` (unknown:
//!    [`receive::Failed::new`] with `unknown-trading-partner`).
//! 2. [`receive::receive_parsed`] (or [`receive::receive`]) with the
//!    partner's [`receive::PartnerSettings`] and [`unwrap::Limits`]: the
//!    payload, tracked properties, MIC and security layers, or a
//!    [`receive::Rejection`].
//! 3. Submit the payload to the host; then build the MDN for whatever the
//!    host reports with [`receive::MdnContext::build_mdn`] (or
//!    [`receive::Failed::build_mdn`]): `Processed`, `DuplicateDocument` or an
//!    error disposition. Send it in the HTTP response, or to
//!    `receipt.request.async_url` for an asynchronous MDN.
//!
//! A body above the spool threshold takes [`stream::receive_to`] (or [`stream::unwrap_to`])
//! instead of step 2: the same outcome, with the payload written to a sink the host provides
//! (a file) in bounded memory, every layer read as a stream.

pub mod attachments;
pub mod cem;
pub mod certs;
pub mod cms;
pub mod compress;
mod der;
pub mod disposition;
pub mod ediint;
pub mod envelope;
pub mod headers;
#[cfg(feature = "connector")]
pub mod listener;
pub mod mdn;
pub mod mic;
pub mod micalg;
pub mod mime;
pub mod receive;
pub mod stream;
pub mod unwrap;

#[cfg(test)]
mod testutil;
