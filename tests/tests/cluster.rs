//! Two berth nodes on one PostgreSQL, through the real binary: behind a real haproxy, HTTP and
//! AS2 (pyas2lib) clients send under a bounded load while one node is killed with SIGKILL;
//! afterwards everything acknowledged is stored and was run, the dead node's unfinished
//! documents were taken over and run by the survivor, and an AS2 resend to the survivor gets
//! the original MDN. And: a listener paused through one node is paused on the other, the nodes
//! are listed with their deployments' differences, and a node name in use stops `berth run`.

#[path = "../as2/common.rs"]
mod common;
#[path = "cluster/nodes.rs"]
mod nodes;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_e2e::haproxy::{Backend, Haproxy};
use berth_e2e::postgres::PgServer;
use berth_e2e::{client, copy_keys, free_port, output_text, Berth, Deployment};
use common::*;
use nodes::*;
use serde_json::{json, Value};

const HTTP_CLIENTS: usize = 6;
const HTTP_PER_CLIENT: usize = 30;
const AS2_MESSAGES: usize = 12;

#[test]
fn a_node_killed_under_load_loses_nothing_acknowledged() {
    let started = Instant::now();
    let server = PgServer::start();
    let db = server.create_database("cluster");
    let sink = Sink::start();
    let out = tempfile::tempdir().unwrap();
    let a = Node::new("a", &server, &db, out.path(), &sink.url);
    let b = Node::new("b", &server, &db, out.path(), &sink.url);
    let keys = Keys::create(a.path());
    copy_keys(a.path(), b.path());
    let node_a = a.deployment.start();
    let node_b = b.deployment.start();
    // The HTTP frontend and the AS2 one, each over both nodes, which haproxy checks with
    // `GET /ready` on their admin ports.
    let (http_front, as2_front) = (free_port(), free_port());
    let backends = |port: fn(&Node) -> u16| -> Vec<Backend> {
        [&a, &b]
            .into_iter()
            .map(|n| Backend {
                name: n.name.to_string(),
                port: port(n),
                http_check: Some("/ready".into()),
                check_port: n.admin_port,
            })
            .collect()
    };
    let _haproxy = Haproxy::start(&[
        (http_front, backends(|n| n.http_port)),
        (as2_front, backends(|n| n.as2_port)),
    ]);
    println!("two nodes and haproxy up after {:?}", started.elapsed());

    // The message the survivor will be asked again for, received by node a.
    let probe = Case::new("probe", PARTNER, 0, &keys)
        .set("digest", json!("sha256"))
        .set("mdn", json!("signed"))
        .set("message_id", json!("cluster-probe@partner.example"))
        .set("keep_bytes", json!(true));
    let first = send(
        &format!("http://127.0.0.1:{}/as2", a.as2_port),
        std::slice::from_ref(&probe),
        a.path(),
    );
    let first = &first["probe"][0];
    assert_eq!(first["status"], "processed", "{first}");

    // The load: HTTP clients and one AS2 sender through haproxy, each a bounded number of
    // messages; node a is killed once a third of the HTTP documents are acknowledged.
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let http_results: Arc<Mutex<HashMap<String, u16>>> = Arc::default();
    let mut clients = Vec::new();
    for c in 0..HTTP_CLIENTS {
        let (acknowledged, results) = (Arc::clone(&acknowledged), Arc::clone(&http_results));
        clients.push(std::thread::spawn(move || {
            let http = client();
            for i in 0..HTTP_PER_CLIENT {
                let seq = format!("{c}-{i}");
                let status = http
                    .post(format!("http://127.0.0.1:{http_front}/in"))
                    .header("x-seq", &seq)
                    .body(format!("document {seq}"))
                    .send()
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                if (200..300).contains(&status) {
                    acknowledged.fetch_add(1, Ordering::SeqCst);
                }
                results.lock().unwrap().insert(seq, status);
            }
        }));
    }
    let as2_cases: Vec<Case> = (0..AS2_MESSAGES)
        .map(|i| {
            Case::new(&format!("load-{i}"), PARTNER, i, &keys)
                .set("digest", json!("sha256"))
                .set("enc_alg", json!("aes_128_cbc"))
                .set("mdn", json!("signed"))
        })
        .collect();
    let as2_work = out.path().join("as2-work");
    std::fs::create_dir_all(&as2_work).unwrap();
    let as2_sender = {
        let work = as2_work.clone();
        let cases: Vec<Case> = as2_cases
            .iter()
            .map(|c| Case {
                id: c.id.clone(),
                value: c.value.clone(),
                payload: c.payload.clone(),
            })
            .collect();
        std::thread::spawn(move || {
            send(&format!("http://127.0.0.1:{as2_front}/as2"), &cases, &work)
        })
    };
    eventually(Duration::from_secs(60), "a third of the load", || {
        acknowledged.load(Ordering::SeqCst) >= HTTP_CLIENTS * HTTP_PER_CLIENT / 3
    });
    node_a.kill();
    println!("node a killed after {:?}", started.elapsed());
    for client in clients {
        client.join().unwrap();
    }
    let as2_results = as2_sender.join().unwrap();

    // The survivor takes over what a left unfinished and runs it; then nothing is unfinished.
    eventually(Duration::from_secs(60), "the take-over", || {
        server.sql(
            &db,
            "SELECT count(*) FROM documents WHERE state = 'received'",
        ) == "0"
    });
    let log_b = node_b.log();
    assert!(
        log_b.contains("taking over the unfinished documents"),
        "{log_b}"
    );
    let taken = server.sql(
        &db,
        "SELECT d.id || '|' || d.state || '|' || d.node FROM documents d JOIN history h USING (seq)
         WHERE h.event = 'taken over by node b from node a' ORDER BY d.id",
    );
    assert!(!taken.is_empty(), "a had documents in flight when killed");
    for line in taken.lines() {
        assert!(line.ends_with("|processed|b"), "{line}");
    }

    // Every acknowledged HTTP document is stored, processed, and its steps ran: its file is
    // there and the sink got it.
    let results = http_results.lock().unwrap().clone();
    let acked: Vec<&String> = results
        .iter()
        .filter(|(_, s)| (200..300).contains(*s))
        .map(|(seq, _)| seq)
        .collect();
    let failed = results.len() - acked.len();
    println!(
        "HTTP: {} acknowledged, {failed} not (cut off with node a); taken over: {}",
        acked.len(),
        taken.lines().count()
    );
    assert!(
        acked.len() >= HTTP_CLIENTS * HTTP_PER_CLIENT / 2,
        "{results:?}"
    );
    let stored = property_values(&server, &db, "http.header.x-seq", "processed");
    let seen = sink.seen();
    for seq in &acked {
        assert!(
            stored.contains(*seq),
            "acknowledged {seq} is not in the store"
        );
        let file = out.path().join("http").join(format!("{seq}.txt"));
        assert_eq!(
            std::fs::read_to_string(&file).unwrap_or_default(),
            format!("document {seq}"),
            "{}",
            file.display()
        );
        assert!(
            seen.contains(&format!("/http/{seq}")),
            "the sink never got {seq}"
        );
    }
    // So is every document that was taken over, acknowledged or not.
    for seq in &stored {
        assert!(out.path().join("http").join(format!("{seq}.txt")).exists());
        assert!(seen.contains(&format!("/http/{seq}")), "{seq}");
    }
    // While both nodes were alive no document ran on both: only one that was taken over may
    // have reached the sink twice (once from a before the kill, once from b).
    let taken_seqs: BTreeSet<String> = server
        .sql(
            &db,
            "SELECT p.value FROM properties p JOIN history h USING (seq)
             WHERE p.name = 'http.header.x-seq' AND h.event = 'taken over by node b from node a'",
        )
        .lines()
        .map(str::to_string)
        .collect();
    let hits = sink.seen.lock().unwrap().clone();
    for seq in stored.difference(&taken_seqs) {
        let path = format!("/http/{seq}");
        let runs = hits.iter().filter(|p| **p == path).count();
        assert_eq!(runs, 1, "{seq} ran {runs} times");
    }

    // Every AS2 message that got a `processed` MDN likewise.
    let as2_stored = property_values(&server, &db, "file_name", "processed");
    let mut processed = 0;
    for case in &as2_cases {
        let result = &as2_results[&case.id][0];
        if result["status"] != "processed" {
            continue;
        }
        processed += 1;
        let name = case.file_name();
        assert!(as2_stored.contains(&name), "{name} not in the store");
        assert!(out.path().join("as2").join(&name).exists(), "{name}");
        assert!(seen.contains(&format!("/as2/{name}")), "{name}");
    }
    println!("AS2: {processed} of {AS2_MESSAGES} processed MDNs");
    assert!(processed > 0, "{as2_results:?}");

    // A resend of a's message to the survivor gets a's MDN, byte for byte, and is not run.
    let again = send(
        &format!("http://127.0.0.1:{}/as2", b.as2_port),
        std::slice::from_ref(&probe),
        b.path(),
    );
    let again = &again["probe"][0];
    assert_eq!(again["status"], "processed", "{again}");
    assert_eq!(again["answer_b64"], first["answer_b64"], "the original MDN");
    assert_eq!(
        server.sql(
            &db,
            "SELECT count(*) FROM documents WHERE state = 'duplicate'"
        ),
        "1"
    );
    let probes = sink.seen.lock().unwrap();
    assert_eq!(
        probes.iter().filter(|p| *p == "/as2/probe.edi").count(),
        1,
        "the resend is not run again"
    );
    drop(probes);
    drop(node_b);
    println!("done after {:?}", started.elapsed());
}

#[test]
fn controls_and_nodes_are_shared_across_the_cluster() {
    let server = PgServer::start();
    let db = server.create_database("controls");
    let sink = Sink::start();
    let out = tempfile::tempdir().unwrap();
    let a = Node::new("a", &server, &db, out.path(), &sink.url);
    let b = Node::new("b", &server, &db, out.path(), &sink.url);
    Keys::create(a.path());
    copy_keys(a.path(), b.path());
    let node_a = a.deployment.start();
    let node_b = b.deployment.start();

    // Pause through a: b pauses too, and answers 503; resume through b: a resumes.
    a.admin(reqwest::Method::POST, "/api/listeners/inbox/pause");
    assert_eq!(a.listener_state("inbox"), "paused");
    eventually(Duration::from_secs(10), "b pausing", || {
        b.listener_state("inbox") == "paused"
    });
    let response = client()
        .post(format!("http://127.0.0.1:{}/in", b.http_port))
        .header("x-seq", "paused")
        .body("x")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    b.admin(reqwest::Method::POST, "/api/listeners/inbox/resume");
    eventually(Duration::from_secs(10), "a resuming", || {
        a.listener_state("inbox") == "listening"
    });
    assert!(node_b
        .log()
        .contains("applying a listener control made on another node"));

    // Both listed, by either node, with the files in which their deployments differ: their
    // ports, nothing else (the processes and keys are the same).
    eventually(Duration::from_secs(10), "both nodes heartbeating", || {
        let nodes = a.admin(reqwest::Method::GET, "/api/nodes");
        nodes["nodes"].as_array().unwrap().len() == 2
            && nodes["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|n| n["state"] == "live")
    });
    let nodes = b.admin(reqwest::Method::GET, "/api/nodes");
    assert_eq!(nodes["this_node"], "b");
    let listed: Vec<(&str, bool, Vec<&str>)> = nodes["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap(),
                n["this_node"].as_bool().unwrap(),
                n["differs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_str().unwrap())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("a", false, vec!["berth.yaml", "connections/inbound.yaml"]),
            ("b", true, vec![])
        ]
    );
    let status = output_text(&a.deployment.berth(&["cluster", "status", "--dir"]));
    assert!(status.contains("a *"), "{status}");
    assert!(status.contains("live"), "{status}");
    assert!(
        status
            .contains("deployment differs from this node's: berth.yaml, connections/inbound.yaml"),
        "{status}"
    );
    eventually(
        Duration::from_secs(10),
        "the warning about differing files",
        || {
            node_a
                .log()
                .contains("this node's deployment differs from another live node's")
        },
    );
    let log_a = node_a.log();
    let warning = log_a
        .lines()
        .find(|l| l.contains("differs from another live node's"))
        .unwrap();
    assert!(
        warning.contains("berth.yaml, connections/inbound.yaml"),
        "{warning}"
    );

    // A second process under the live name `a` does not start.
    let output = a.deployment.berth(&["run"]);
    let text = output_text(&output);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("cluster.node"), "{text}");
    assert!(text.contains("`a` is in use by a live node"), "{text}");

    // A clean stop frees the name at once.
    assert!(node_a.terminate(Duration::from_secs(10)).success());
    let restarted = Berth::start(a.path(), &[]);
    drop((restarted, node_b));
}

/// The embedded store: one node, this one, listed honestly under the host name.
#[test]
fn on_the_embedded_store_the_node_lists_itself() {
    let (http_port, admin_port) = (free_port(), free_port());
    let deployment = Deployment::new();
    deployment
        .write("berth.yaml", &format!("admin:\n  port: {admin_port}\n"))
        .http_connection("inbound", http_port, "")
        .write(
            "processes/inbox.yaml",
            "name: inbox\nstart:\n  connector: http-server-legacy\n  connection: inbound\n  \
             operation: { path: /in }\nsteps:\n  - return: { status: 200 }\n",
        );
    let berth = deployment.start();
    let token = std::fs::read_to_string(deployment.path().join("data/admin.token")).unwrap();
    let nodes: Value = serde_json::from_slice(
        &client()
            .get(format!("http://127.0.0.1:{admin_port}/api/nodes"))
            .bearer_auth(token.trim())
            .send()
            .unwrap()
            .bytes()
            .unwrap(),
    )
    .unwrap();
    let list = nodes["nodes"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{nodes}");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(list[0]["name"], host.trim(), "{nodes}");
    assert_eq!(list[0]["this_node"], true);
    assert_eq!(list[0]["state"], "live");
    assert_eq!(list[0]["differs"], json!([]));
    assert_eq!(list[0]["address"], format!("127.0.0.1:{admin_port}"));
    let status = output_text(&deployment.berth(&["cluster", "status", "--dir"]));
    assert!(status.contains("1 node;"), "{status}");
    drop(berth);
}
