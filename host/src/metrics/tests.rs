use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::exposition_check::{parse, Sample};
use super::{Metrics, CONTENT_TYPE};

fn render(metrics: &Metrics) -> Vec<Sample> {
    let text = metrics.render();
    parse(&text).unwrap_or_else(|e| panic!("{e}\n--- rendered:\n{text}"))
}

/// The value of the one sample named `name` whose labels include all of `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<_> = samples
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(l, v)| s.label(l) == Some(v)))
        .collect();
    assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
    found[0].value
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn metrics_is_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<Metrics>();
    // The version Prometheus reads to pick its parser must match the format written.
    assert!(CONTENT_TYPE.contains("version=0.0.4"));
}

#[test]
fn deliveries_are_counted_by_outcome() {
    let metrics = Metrics::new();
    metrics.delivery("retried");
    metrics.delivery("retried");
    metrics.delivery("failed");
    let s = parse(&metrics.render()).unwrap();
    let outcome = |o| [("outcome", o)];
    assert_eq!(
        value(&s, "berth_deliveries_total", &outcome("retried")),
        2.0
    );
    assert_eq!(value(&s, "berth_deliveries_total", &outcome("failed")), 1.0);
}

#[test]
fn empty_render_is_valid_and_names_every_family() {
    let text = Metrics::new().render();
    parse(&text).unwrap();
    for name in [
        "berth_requests_total",
        "berth_request_bytes_total",
        "berth_request_duration_seconds",
        "berth_documents_total",
        "berth_document_duration_seconds",
        "berth_as2_dispositions_total",
        "berth_deliveries_total",
        "berth_listener_state",
        "berth_plugin_load_failures",
        "berth_store_bytes",
        "berth_certificate_expiry_seconds",
        "berth_uptime_seconds",
    ] {
        assert!(text.contains(&format!("# HELP {name} ")), "{name}");
        assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
    }
    // Help texts read as written, each ending in one period (the crate adds its own).
    let help = "# HELP berth_requests_total HTTP requests answered, by listener (\"\" when no \
                process was chosen) and status.\n";
    assert!(text.contains(help), "{text}");
    assert!(!text.contains(".."), "{text}");
}

#[test]
fn full_render_parses_and_carries_values() {
    let m = Metrics::new();
    m.request("orders", 200, 1000, 300, ms(20));
    m.request("orders", 500, 10, 40, ms(2));
    m.request("", 404, 0, 20, Duration::from_micros(50));
    m.document("orders", "accepted", ms(15));
    m.document("orders", "duplicate", ms(1));
    m.disposition("orders", "processed");
    m.disposition("orders", "processed/error: decryption-failed");
    m.set_listener_state("orders", "listening");
    m.set_plugin_load_failures(2);
    m.set_store_bytes(123_456);
    let s = render(&m);

    assert_eq!(
        value(
            &s,
            "berth_requests_total",
            &[("listener", "orders"), ("status", "200")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &s,
            "berth_requests_total",
            &[("listener", ""), ("status", "404")]
        ),
        1.0
    );
    let bytes_in = [("listener", "orders"), ("direction", "in")];
    assert_eq!(value(&s, "berth_request_bytes_total", &bytes_in), 1010.0);
    let bytes_out = [("listener", "orders"), ("direction", "out")];
    assert_eq!(value(&s, "berth_request_bytes_total", &bytes_out), 340.0);
    let count = value(
        &s,
        "berth_request_duration_seconds_count",
        &[("listener", "orders")],
    );
    assert_eq!(count, 2.0);
    let sum = value(
        &s,
        "berth_request_duration_seconds_sum",
        &[("listener", "orders")],
    );
    assert!((sum - 0.022).abs() < 1e-9, "{sum}");
    let accepted = [("process", "orders"), ("outcome", "accepted")];
    assert_eq!(value(&s, "berth_documents_total", &accepted), 1.0);
    let decrypt = [
        ("process", "orders"),
        ("disposition", "processed/error: decryption-failed"),
    ];
    assert_eq!(value(&s, "berth_as2_dispositions_total", &decrypt), 1.0);
    assert_eq!(value(&s, "berth_plugin_load_failures", &[]), 2.0);
    assert_eq!(value(&s, "berth_store_bytes", &[]), 123_456.0);
    assert!(value(&s, "berth_uptime_seconds", &[]) >= 0.0);
}

#[test]
fn counters_add_up_under_concurrent_updates() {
    const THREADS: u64 = 8;
    const EACH: u64 = 5_000;
    let m = Arc::new(Metrics::new());
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let m = Arc::clone(&m);
            thread::spawn(move || {
                for i in 0..EACH {
                    // Alternate listeners and statuses so entries are also created concurrently.
                    let listener = if i % 2 == 0 { "a" } else { "b" };
                    let status = if i % 3 == 0 { 500 } else { 200 };
                    m.request(listener, status, 3, 5, Duration::from_micros(t * 100 + i));
                    m.document("p", "accepted", ms(1));
                    m.disposition("p", &format!("d{}", i % 4));
                }
            })
        })
        .collect();
    // Render while updates run: every intermediate exposition must be valid too.
    for _ in 0..20 {
        render(&m);
    }
    for worker in workers {
        worker.join().unwrap();
    }
    let s = render(&m);
    let total = THREADS * EACH;
    let requests: f64 = s
        .iter()
        .filter(|x| x.name == "berth_requests_total")
        .map(|x| x.value)
        .sum();
    assert_eq!(requests, total as f64);
    let status_500: f64 = ["a", "b"]
        .iter()
        .map(|l| {
            value(
                &s,
                "berth_requests_total",
                &[("listener", l), ("status", "500")],
            )
        })
        .sum();
    assert_eq!(status_500, (THREADS * EACH.div_ceil(3)) as f64);
    for listener in ["a", "b"] {
        let labels = [("listener", listener), ("direction", "in")];
        assert_eq!(
            value(&s, "berth_request_bytes_total", &labels),
            (total / 2 * 3) as f64
        );
        let labels = [("listener", listener), ("direction", "out")];
        assert_eq!(
            value(&s, "berth_request_bytes_total", &labels),
            (total / 2 * 5) as f64
        );
        let count = value(
            &s,
            "berth_request_duration_seconds_count",
            &[("listener", listener)],
        );
        assert_eq!(count, (total / 2) as f64);
    }
    let accepted = [("process", "p"), ("outcome", "accepted")];
    assert_eq!(value(&s, "berth_documents_total", &accepted), total as f64);
    assert_eq!(
        value(
            &s,
            "berth_document_duration_seconds_count",
            &[("process", "p")]
        ),
        total as f64
    );
    let d0 = [("process", "p"), ("disposition", "d0")];
    assert_eq!(
        value(&s, "berth_as2_dispositions_total", &d0),
        (total / 4) as f64
    );
}

#[test]
fn histogram_buckets_are_cumulative_and_count_observations() {
    let m = Metrics::new();
    let latencies = [0, 1, 3, 7, 60, 600, 2_000, 45_000]; // milliseconds
    for l in latencies {
        m.document("p", "accepted", ms(l));
    }
    let s = render(&m);
    let bucket = |le: &str| {
        let labels = [("process", "p"), ("le", le)];
        value(&s, "berth_document_duration_seconds_bucket", &labels)
    };
    assert_eq!(bucket("0.001"), 2.0); // 0 ms and exactly 1 ms: `le` is inclusive
    assert_eq!(bucket("0.005"), 3.0);
    assert_eq!(bucket("0.01"), 4.0);
    assert_eq!(bucket("0.1"), 5.0);
    assert_eq!(bucket("1"), 6.0);
    assert_eq!(bucket("2.5"), 7.0);
    assert_eq!(bucket("30"), 7.0); // 45 s is above every bound
    assert_eq!(bucket("+Inf"), latencies.len() as f64);
    let count = value(
        &s,
        "berth_document_duration_seconds_count",
        &[("process", "p")],
    );
    assert_eq!(count, latencies.len() as f64);
    let sum = value(
        &s,
        "berth_document_duration_seconds_sum",
        &[("process", "p")],
    );
    assert!((sum - 47.671).abs() < 1e-9, "{sum}");
}

#[test]
fn label_values_are_escaped() {
    let m = Metrics::new();
    let awkward = "a\"b\\c\nd}{,=é";
    m.request(awkward, 200, 1, 1, ms(1));
    m.disposition("p", "processed/warning: \"odd\"\n");
    let text = m.render();
    assert!(text.contains(r#"listener="a\"b\\c\nd}{,=é""#), "{text}");
    assert!(
        !text.lines().any(|l| l == "d}{,=é\""),
        "a raw line feed split a sample"
    );
    let s = parse(&text).unwrap();
    let labels = [("listener", awkward), ("status", "200")];
    assert_eq!(value(&s, "berth_requests_total", &labels), 1.0);
    let labels = [
        ("process", "p"),
        ("disposition", "processed/warning: \"odd\"\n"),
    ];
    assert_eq!(value(&s, "berth_as2_dispositions_total", &labels), 1.0);
}

#[test]
fn listener_state_gauge_switches() {
    let m = Metrics::new();
    let state = |s: &[Sample], listener: &str, state: &str| {
        value(
            s,
            "berth_listener_state",
            &[("listener", listener), ("state", state)],
        )
    };
    m.set_listener_state("x", "listening");
    m.set_listener_state("y", "errored");
    let s = render(&m);
    assert_eq!(state(&s, "x", "listening"), 1.0);
    assert_eq!(state(&s, "x", "paused"), 0.0);
    assert_eq!(state(&s, "y", "errored"), 1.0);

    m.set_listener_state("x", "paused");
    let s = render(&m);
    assert_eq!(state(&s, "x", "listening"), 0.0);
    assert_eq!(state(&s, "x", "paused"), 1.0);
    let ones = s
        .iter()
        .filter(|x| x.name == "berth_listener_state" && x.label("listener") == Some("x"))
        .filter(|x| x.value == 1.0)
        .count();
    assert_eq!(ones, 1, "exactly one state is current");

    // A state outside the known four leaves every gauge at 0 rather than inventing a series.
    m.set_listener_state("x", "exploded");
    let s = render(&m);
    let states: Vec<_> = s
        .iter()
        .filter(|x| x.name == "berth_listener_state" && x.label("listener") == Some("x"))
        .collect();
    assert_eq!(states.len(), 4);
    assert!(states.iter().all(|x| x.value == 0.0));
}

#[test]
fn dispositions_past_the_cap_count_as_other() {
    let m = Metrics::new();
    for i in 0..70 {
        m.disposition("p", &format!("processed/error: kind-{i}"));
    }
    m.disposition("p", "processed/error: kind-0"); // a kept one keeps counting
    m.disposition("p", "processed/error: kind-69"); // an overflowed one stays in other
    m.disposition("q", "processed"); // the cap is per process
    let s = render(&m);
    let p: Vec<_> = s
        .iter()
        .filter(|x| x.name == "berth_as2_dispositions_total" && x.label("process") == Some("p"))
        .collect();
    assert_eq!(p.len(), 65);
    let kind0 = [("process", "p"), ("disposition", "processed/error: kind-0")];
    assert_eq!(value(&s, "berth_as2_dispositions_total", &kind0), 2.0);
    let other = [("process", "p"), ("disposition", "other")];
    assert_eq!(value(&s, "berth_as2_dispositions_total", &other), 7.0);
    let q = [("process", "q"), ("disposition", "processed")];
    assert_eq!(value(&s, "berth_as2_dispositions_total", &q), 1.0);
}

#[test]
fn certificate_expiry_counts_down_from_the_clock_and_keeps_the_soonest() {
    use super::CertificateExpiry;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let at = |role: &str, subject: &str, not_after| CertificateExpiry {
        process: "in".into(),
        role: role.into(),
        subject: subject.into(),
        not_after,
    };
    let m = Metrics::new();
    m.set_certificates(vec![
        at("partner-signature", "CN=new", now + 10 * 86_400),
        at("partner-signature", "CN=old", now - 86_400),
        at("partner-signature", "CN=new", now + 20 * 86_400),
    ]);
    let s = render(&m);
    let name = "berth_certificate_expiry_seconds";
    let new = value(&s, name, &[("process", "in"), ("subject", "CN=new")]);
    assert!(
        (10.0 * 86_400.0 - 5.0..=10.0 * 86_400.0).contains(&new),
        "{new}"
    );
    let old = value(
        &s,
        name,
        &[("role", "partner-signature"), ("subject", "CN=old")],
    );
    assert!((-86_400.0 - 5.0..=-86_400.0).contains(&old), "{old}");
    m.set_certificates(Vec::new());
    assert!(render(&m).iter().all(|sample| sample.name != name));
}
