use super::*;
use berth_connector_sdk::abi::Request;
use berth_connector_sdk::abi_stable::sabi_trait::TD_Opaque;
use berth_connector_sdk::abi_stable::std_types::{RResult, RString};
use berth_connector_sdk::module::{FfiDecision_NE, FfiListener, FfiListener_TO};
use std::collections::HashMap;

struct NotCalled;

impl FfiListener for NotCalled {
    fn handle(&self, _: &Request<'_>) -> RResult<FfiDecision_NE, RString> {
        RResult::RErr("not called".into())
    }
}

/// A mount whose pair PARTNER -> US keeps transfers 60 seconds.
fn mount() -> Mount {
    Mount {
        label: "as2".into(),
        listener: Arc::new(FfiListener_TO::from_value(NotCalled, TD_Opaque)),
        blocking: false,
        max_body_bytes: 1 << 30,
        spool_above_bytes: 0,
        processes: HashMap::new(),
        unfold_headers: false,
        restart_transfers: HashMap::from([(("PARTNER".into(), "US".into()), 60)]),
    }
}

fn parts(method: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut request = http::Request::builder().method(method).uri("/as2");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(()).unwrap().into_parts().0
}

#[test]
fn only_a_listed_pair_with_an_etag_is_a_restartable_transfer() {
    let listed = mount();
    let of = |method, headers: &[(&str, &str)]| identity(&listed, &parts(method, headers));
    let pair = [
        ("as2-from", "PARTNER"),
        ("as2-to", "US"),
        ("etag", "\"t-1\""),
    ];
    let (found, keep) = of("POST", &pair).expect("restartable");
    assert_eq!(
        (found.etag.as_str(), found.as2_from.as_str(), keep),
        ("\"t-1\"", "PARTNER", 60)
    );
    assert!(of("HEAD", &pair).is_some());
    assert!(of("GET", &pair).is_none(), "only POST and HEAD");
    assert!(
        of("POST", &pair[..2]).is_none(),
        "no ETag: an ordinary message"
    );
    let other = [("as2-from", "OTHER"), ("as2-to", "US"), ("etag", "t-1")];
    assert!(of("POST", &other).is_none(), "a pair without AS2 Restart");
    let quoted = [
        ("as2-from", "\"PARTNER\""),
        ("as2-to", "US"),
        ("etag", "t-1"),
    ];
    assert!(
        of("POST", &quoted).is_some(),
        "quoted AS2 names are the same pair"
    );
    let off = Mount {
        restart_transfers: HashMap::new(),
        ..mount()
    };
    assert!(identity(&off, &parts("POST", &pair)).is_none());
}

fn range(value: &str) -> Option<Range> {
    parse_content_range(&HeaderValue::from_str(value).unwrap())
}

#[test]
fn content_ranges_are_read_as_the_draft_and_rfc_9110_write_them() {
    let full = Range {
        first: 500,
        total: Some(1234),
    };
    assert_eq!(range("bytes 500-1233/1234"), Some(full));
    assert_eq!(
        range("500-1233/1234"),
        Some(full),
        "the draft's example has no unit"
    );
    assert_eq!(
        range("bytes 0-9/*"),
        Some(Range {
            first: 0,
            total: None
        })
    );
    for bad in [
        "bytes 9-0/10",
        "bytes 0-10/10",
        "bytes a-b/c",
        "bytes 0-9",
        "",
        "bytes */10",
    ] {
        assert_eq!(range(bad), None, "{bad:?}");
    }
}
