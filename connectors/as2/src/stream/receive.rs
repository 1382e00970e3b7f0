//! [`receive_to`]: `receive::receive_body` for a body unwrapped as a stream into a sink.

use std::io::Write;

use crate::disposition::{Disposition, ProcessingError};
use crate::headers::As2Headers;
use crate::mic::Mic;
use crate::receive::{
    insufficient_security, precheck, tracked_properties, Failed, MdnContext, OpenBody,
    PartnerSettings, Rejection, TrackedProperties,
};
use crate::unwrap::{Limits, Security, UnwrapKeys};

use super::streamed;

/// A message received into a sink: [`crate::receive::Received`] without the payload.
#[derive(Debug, Clone)]
pub struct ReceivedMeta {
    pub properties: TrackedProperties,
    pub security: Security,
    pub context: MdnContext,
    /// Bytes of payload written to the sink.
    pub payload_len: u64,
}

impl ReceivedMeta {
    /// The Received-Content-MIC (always computed for accepted messages).
    pub fn mic(&self) -> Option<&Mic> {
        self.context.mic.as_ref()
    }
}

/// Processes one AS2 request whose body `open` reads (`len` bytes, e.g. the spool file),
/// writing the payload to `sink`, in bounded memory (see [`super::unwrap_to`]). The checks,
/// dispositions and MIC are those of [`crate::receive::receive_body`]; on `Err` the sink's
/// content must be discarded.
pub fn receive_to(
    headers: As2Headers,
    open: OpenBody<'_>,
    len: u64,
    settings: &PartnerSettings,
    limits: &Limits,
    sink: &mut dyn Write,
) -> Result<ReceivedMeta, Rejection> {
    let mut context = precheck(MdnContext::for_headers(headers))?;
    let fail = |context: MdnContext, error, detail: String, security, cms_error| {
        Rejection::Failed(Box::new(Failed {
            disposition: Disposition::Error(error),
            detail,
            cms_error,
            security,
            context,
        }))
    };
    let keys = UnwrapKeys {
        decryption_keys: &settings.decryption_keys,
        partner_certificates: &settings.partner_certificates,
        allow_expired_certificates: settings.allow_expired_certificates,
    };
    let requested = context
        .receipt
        .as_ref()
        .map_or(crate::micalg::MicAlg::Sha256, |r| r.micalg);
    let done = match streamed(&context.headers, open, len, &keys, limits, requested, sink) {
        Ok(done) => done,
        Err(e) => {
            let e = *e;
            context.mic = e.mic;
            return Err(fail(context, e.error, e.detail, e.security, e.cms_error));
        }
    };
    context.mic = done.mic;
    if let Some(detail) = insufficient_security(settings, &done.security) {
        let error = ProcessingError::InsufficientMessageSecurity;
        return Err(fail(context, error, detail, done.security, None));
    }
    if let Some(detail) = done.payload_error {
        let error = ProcessingError::UnexpectedProcessingError;
        return Err(fail(context, error, detail, done.security, None));
    }
    Ok(ReceivedMeta {
        properties: tracked_properties(&context.headers, &done.payload),
        security: done.security,
        context,
        payload_len: done.payload_len,
    })
}
