//! Running steps: return/stop, route, set_properties, templates and write_file.

mod common;

use std::path::Path;

use berth_process::{Document, Properties, RunOutcome, Runner};
use bytes::Bytes;
use common::process;

fn doc(payload: &str, props: &[(&str, &str)]) -> Document {
    Document {
        id: "doc-1".into(),
        payload: Bytes::from(payload.to_string()).into(),
        properties: props.iter().copied().collect(),
    }
}

fn completed(outcome: RunOutcome) -> (Option<berth_process::Returned>, Properties) {
    match outcome {
        RunOutcome::Completed {
            returned,
            properties,
        } => (returned, properties),
        RunOutcome::Failed { step, reason } => panic!("failed at {step}: {reason}"),
    }
}

fn failed(outcome: RunOutcome) -> (String, String) {
    match outcome {
        RunOutcome::Failed { step, reason } => (step, reason),
        other => panic!("expected a failure, got {other:?}"),
    }
}

const START: &str = "name: p\nstart: {connector: x}\n";

async fn run(dir: &Path, steps: &str, d: Document) -> RunOutcome {
    let p = process(dir, &format!("{START}steps:\n{steps}"));
    Runner::new(dir).run(&p, d).await
}

/// Files in a folder, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn return_hands_back_the_payload() {
    let dir = tempfile::tempdir().unwrap();
    let (returned, props) =
        completed(run(dir.path(), "  - return: {}\n", doc("hello", &[("a", "1")])).await);
    let r = returned.unwrap();
    assert_eq!((r.status, r.body.as_ref()), (200, &b"hello"[..]));
    assert!(r.headers.is_empty());
    assert_eq!(props.get("a"), Some("1"));
}

#[tokio::test]
async fn return_with_headers_and_body_ends_processing() {
    let dir = tempfile::tempdir().unwrap();
    let steps = "  - return:\n      status: 202\n      headers: {X-Id: \"${id}\"}\n      body: \"got ${id}\"\n  - write_file: {directory: out, file_name: x}\n";
    let (returned, _) = completed(run(dir.path(), steps, doc("p", &[("id", "42")])).await);
    let r = returned.unwrap();
    assert_eq!(r.status, 202);
    assert_eq!(r.headers, vec![("X-Id".to_string(), "42".to_string())]);
    assert_eq!(r.body, Bytes::from("got 42"));
    assert!(
        !dir.path().join("out").exists(),
        "steps after return must not run"
    );
}

#[tokio::test]
async fn stop_ends_successfully_without_response() {
    let dir = tempfile::tempdir().unwrap();
    for stop in ["stop:", "stop: {}", "stop: null"] {
        let steps = format!("  - set_properties: {{a: x}}\n  - {stop}\n  - write_file: {{directory: out, file_name: x}}\n");
        let (returned, props) = completed(run(dir.path(), &steps, doc("p", &[])).await);
        assert!(returned.is_none());
        assert_eq!(props.get("a"), Some("x"));
        assert!(!dir.path().join("out").exists());
    }
}

#[tokio::test]
async fn no_steps_completes() {
    let dir = tempfile::tempdir().unwrap();
    let p = process(dir.path(), START);
    let (returned, _) = completed(Runner::new(dir.path()).run(&p, doc("x", &[])).await);
    assert!(returned.is_none());
}

#[tokio::test]
async fn set_properties_renders_against_previous_values() {
    let dir = tempfile::tempdir().unwrap();
    let steps = "  - set_properties: {b: \"${a}-b\", a: \"new\", c: \"${zz:-dflt} $${lit}\"}\n  - set_properties: {d: \"${a}\"}\n";
    let (_, props) = completed(run(dir.path(), steps, doc("p", &[("a", "old")])).await);
    assert_eq!(props.get("a"), Some("new"));
    assert_eq!(props.get("b"), Some("old-b"));
    assert_eq!(props.get("c"), Some("dflt ${lit}"));
    assert_eq!(props.get("d"), Some("new"));
}

#[tokio::test]
async fn missing_property_fails_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let steps = "  - log: {message: ok}\n  - set_properties: {x: \"${nope}\"}\n";
    let (step, reason) = failed(run(dir.path(), steps, doc("p", &[])).await);
    assert_eq!(step, "steps[1] set_properties");
    assert_eq!(reason, "property `nope` is not set");
}

const ROUTE: &str = r#"  - route:
      property: kind
      cases:
        - equals: "850"
          steps:
            - set_properties: {path: equals}
        - regex: "^8[0-9]{2}$"
          steps:
            - set_properties: {path: regex}
            - return: {status: 299}
        - equals: stop
          steps:
            - stop:
      default:
        - set_properties: {path: default}
  - set_properties: {after: "yes"}
"#;

#[tokio::test]
async fn route_runs_first_matching_case_then_continues() {
    let dir = tempfile::tempdir().unwrap();
    let p = process(dir.path(), &format!("{START}steps:\n{ROUTE}"));
    let runner = Runner::new(dir.path());

    let (r, props) = completed(runner.run(&p, doc("", &[("kind", "850")])).await);
    assert!(r.is_none());
    assert_eq!(
        (props.get("path"), props.get("after")),
        (Some("equals"), Some("yes"))
    );

    let (r, props) = completed(runner.run(&p, doc("", &[("kind", "810")])).await);
    assert_eq!(
        r.unwrap().status,
        299,
        "return inside a route ends the document"
    );
    assert_eq!(
        (props.get("path"), props.get("after")),
        (Some("regex"), None)
    );

    let (r, props) = completed(runner.run(&p, doc("", &[("kind", "stop")])).await);
    assert!(r.is_none());
    assert_eq!(
        props.get("after"),
        None,
        "stop inside a route ends the document"
    );

    for props in [vec![("kind", "997")], vec![]] {
        let (_, props) = completed(runner.run(&p, doc("", &props)).await);
        assert_eq!(
            (props.get("path"), props.get("after")),
            (Some("default"), Some("yes"))
        );
    }
}

#[tokio::test]
async fn nested_failure_names_the_nested_step() {
    let dir = tempfile::tempdir().unwrap();
    let steps = "  - route:\n      property: k\n      cases:\n        - equals: a\n          steps:\n            - log: {message: \"${missing}\"}\n";
    let (step, reason) = failed(run(dir.path(), steps, doc("", &[("k", "a")])).await);
    assert_eq!(step, "steps[0].route.cases[0].steps[0] log");
    assert!(reason.contains("missing"));
}

#[tokio::test]
async fn write_file_writes_atomically_and_uniquely() {
    let dir = tempfile::tempdir().unwrap();
    let steps = "  - write_file: {directory: out/orders, file_name: \"${file_name}\"}\n";
    let p = process(dir.path(), &format!("{START}steps:\n{steps}"));
    let runner = Runner::new(dir.path());
    let out = dir.path().join("out/orders");
    for (i, body) in ["one", "two", "three"].iter().enumerate() {
        let (_, props) = completed(
            runner
                .run(&p, doc(body, &[("file_name", "order.edi")]))
                .await,
        );
        let expected = if i == 0 {
            "order.edi".to_string()
        } else {
            format!("order-{i}.edi")
        };
        assert_eq!(
            props.get("file.path").unwrap(),
            out.join(&expected).to_str().unwrap()
        );
        assert_eq!(std::fs::read_to_string(out.join(&expected)).unwrap(), *body);
    }
    assert_eq!(
        files(&out),
        ["order-1.edi", "order-2.edi", "order.edi"],
        "no temp files left"
    );
}

#[tokio::test]
async fn write_file_concurrent_documents_never_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let p = process(
        dir.path(),
        &format!("{START}steps:\n  - write_file: {{directory: out, file_name: same.txt}}\n"),
    );
    let runner = Runner::new(dir.path());
    let runs = (0..16).map(|i| {
        let (runner, p) = (runner.clone(), p.clone());
        tokio::spawn(async move { runner.run(&p, doc(&format!("body {i}"), &[])).await })
    });
    for r in runs.collect::<Vec<_>>() {
        completed(r.await.unwrap());
    }
    let names = files(&dir.path().join("out"));
    assert_eq!(names.len(), 16, "{names:?}");
    let mut bodies: Vec<String> = names
        .iter()
        .map(|n| std::fs::read_to_string(dir.path().join("out").join(n)).unwrap())
        .collect();
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len(), 16);
}

#[tokio::test]
async fn write_file_overwrite_and_fail() {
    let dir = tempfile::tempdir().unwrap();
    let abs = dir.path().join("abs");
    let over = format!(
        "  - write_file: {{directory: '{}', file_name: a.txt, if_exists: overwrite}}\n",
        abs.display()
    );
    completed(run(dir.path(), &over, doc("first", &[])).await);
    completed(run(dir.path(), &over, doc("second", &[])).await);
    assert_eq!(
        std::fs::read_to_string(abs.join("a.txt")).unwrap(),
        "second"
    );
    let fail = format!(
        "  - write_file: {{directory: '{}', file_name: a.txt, if_exists: fail}}\n",
        abs.display()
    );
    let (step, reason) = failed(run(dir.path(), &fail, doc("third", &[])).await);
    assert_eq!(step, "steps[0] write_file");
    assert!(reason.contains("already exists"), "{reason}");
    assert_eq!(
        std::fs::read_to_string(abs.join("a.txt")).unwrap(),
        "second"
    );
    assert_eq!(files(&abs), ["a.txt"], "no temp files left after a failure");
}

#[tokio::test]
async fn write_file_names_never_escape_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let p = process(
        dir.path(),
        &format!("{START}steps:\n  - write_file: {{directory: out, file_name: \"${{name}}\"}}\n"),
    );
    let runner = Runner::new(dir.path());
    let out = dir.path().join("out");
    let cases = [
        ("../../etc/passwd", Some("_.._etc_passwd")),
        ("/etc/passwd", Some("_etc_passwd")),
        ("..\\..\\boot.ini", Some("_.._boot.ini")),
        ("a\0b", Some("a_b")),
        ("sub/dir/file", Some("sub_dir_file")),
        (".profile", Some("profile")),
        ("..", None),
        (".", None),
        ("", None),
        ("/", None),
    ];
    for (name, expected) in cases {
        let outcome = runner.run(&p, doc("x", &[("name", name)])).await;
        match expected {
            Some(file) => {
                let (_, props) = completed(outcome);
                assert_eq!(
                    props.get("file.path").unwrap(),
                    out.join(file).to_str().unwrap(),
                    "{name:?}"
                );
            }
            None => {
                let (_, reason) = failed(outcome);
                assert!(reason.contains("nothing usable"), "{name:?}: {reason}");
            }
        }
    }
    // Nothing was written anywhere but in `out`.
    let mut top = files(dir.path());
    top.retain(|n| n != "processes");
    assert_eq!(top, ["out"]);
    assert_eq!(files(&out).len(), 6);
}

#[tokio::test]
async fn write_file_error_is_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blocker"), "a file, not a folder").unwrap();
    let (_, reason) = failed(
        run(
            dir.path(),
            "  - write_file: {directory: blocker/sub, file_name: a}\n",
            doc("x", &[]),
        )
        .await,
    );
    assert!(reason.contains("cannot create folder"), "{reason}");
}

#[tokio::test]
async fn log_step_runs_at_every_level() {
    let dir = tempfile::tempdir().unwrap();
    let steps = "  - log: {message: \"a ${x}\", level: debug}\n  - log: {message: b}\n  - log: {message: c, level: warn}\n  - log: {message: d, level: error}\n";
    completed(run(dir.path(), steps, doc("", &[("x", "1")])).await);
}
