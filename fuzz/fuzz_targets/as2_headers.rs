//! AS2 request headers (`As2Headers::parse`), Disposition-Notification-Options negotiation, and
//! the other header-value parsers of berth-as2: Content-Disposition file names, Disposition and
//! Received-Content-MIC fields, AS2 name quoting.
//!
//! Input: header lines `Name: value` (see `common::split_request`); the whole input is also
//! fed, as text, to each value parser.
#![no_main]

use berth_as2::disposition::Disposition;
use berth_as2::headers::{
    filename_from_disposition, safe_filename, As2Headers, MicAlgChoice, NotificationOptions,
};
use berth_as2::mdn::quote_as2_name;
use berth_as2::mic::Mic;
use berth_as2::micalg::MicAlg;
use berth_as2::mime::{unquote, ContentType};
use berth_as2::receive::MdnContext;
use libfuzzer_sys::fuzz_target;

#[path = "common/mod.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let (headers, _body) = common::split_request(data);
    if let Ok(h) = As2Headers::parse(&headers) {
        // AS2 names are 1..=128 printable ASCII characters, and survive MDN quoting.
        for name in [&h.as2_from, &h.as2_to] {
            assert!(!name.is_empty() && name.len() <= 128, "{name:?}");
            assert!(name.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{name:?}");
            let quoted = quote_as2_name(name);
            assert_eq!(&unquote(&quoted), name, "quoted as {quoted:?}");
        }
        assert!(!h.content_type.is_empty());
        if let Some(name) = h.filename() {
            common::check_safe_filename(h.content_disposition.as_deref().unwrap_or(""), &name);
        }
        if let Some(receipt) = h.receipt_request() {
            let opts = &receipt.options;
            let _ = (
                opts.wants_signed_receipt(),
                opts.requires_unsupported_protocol(),
            );
            if let MicAlgChoice::Chosen(alg) = opts.micalg() {
                assert_eq!(MicAlg::from_name(alg.name(false)), Some(alg));
                assert_eq!(MicAlg::from_name(alg.name(true)), Some(alg));
            }
        }
        let context = MdnContext::for_headers(h);
        assert_eq!(
            context.receipt.is_some(),
            context.headers.disposition_notification_to.is_some()
        );
    }

    // Each value parser on the whole input as one header value.
    let text = String::from_utf8_lossy(data);
    let opts = NotificationOptions::parse(&text);
    let _ = (opts.micalg(), opts.requires_unsupported_protocol());
    if let Some(name) = filename_from_disposition(&text) {
        common::check_safe_filename(&text, &name);
    }
    if let Some(name) = safe_filename(&text) {
        common::check_safe_filename(&text, &name);
    }
    let ct = ContentType::parse(&text);
    let _ = (ct.param("boundary"), ct.is("multipart/signed"));
    if let Some(d) = Disposition::parse(&text) {
        // What we send must read back as itself.
        let field = d.field_value();
        assert_eq!(Disposition::parse(&field), Some(d), "{field:?}");
        let _ = (d.is_success(), d.explanation(), d.to_string());
    }
    if let Some(mic) = Mic::parse(&text) {
        for legacy in [false, true] {
            assert_eq!(Mic::parse(&mic.field_value(legacy)).as_ref(), Some(&mic));
        }
    }
    let quoted = quote_as2_name(&text);
    assert!(!quoted.contains(['\r', '\n']), "{quoted:?}");
});
