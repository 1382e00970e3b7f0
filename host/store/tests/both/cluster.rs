//! The nodes of a cluster on one PostgreSQL: a name live elsewhere is refused, a node restarts
//! with only its own unfinished documents, a live node takes over a dead one's (each document
//! to one node), and listener controls reach the others. The embedded store is its one node.

use std::time::Duration;

use berth_store::{NodeInfo, Registration, State, Store};

use crate::common::doc;
use crate::fixture::{Fixture, Kind};

fn node(name: &str, instance: &str) -> NodeInfo {
    NodeInfo {
        name: name.into(),
        instance: instance.into(),
        address: format!("{name}.example:9090"),
        version: "0.0.0".into(),
        files: vec![("berth.yaml".into(), "aa".into())],
        listeners: vec![("inbox".into(), "listening".into())],
    }
}

const LONG: Duration = Duration::from_secs(60);

async fn registered(store: &Store, info: &NodeInfo) {
    let outcome = store.cluster().register(info, LONG).await.unwrap();
    assert_eq!(outcome, Registration::Registered);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_name_live_elsewhere_is_refused_until_its_heartbeat_is_old() {
    let f = Fixture::new(Kind::Postgres);
    let (a, b) = (f.open(), f.open());
    registered(&a, &node("berth-a", "one")).await;
    let taken = b
        .cluster()
        .register(&node("berth-a", "two"), LONG)
        .await
        .unwrap();
    assert!(
        matches!(&taken, Registration::Taken { address, .. } if address == "berth-a.example:9090"),
        "{taken:?}"
    );
    // The same instance registering again (a reconnect) is itself.
    registered(&a, &node("berth-a", "one")).await;
    // With a heartbeat older than the timeout the name is free again; the old instance's
    // heartbeats then find their row gone to the new one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let outcome = b
        .cluster()
        .register(&node("berth-a", "two"), Duration::from_millis(200))
        .await
        .unwrap();
    assert_eq!(outcome, Registration::Registered);
    assert!(!a
        .cluster()
        .heartbeat(&node("berth-a", "one"))
        .await
        .unwrap());
    assert!(b
        .cluster()
        .heartbeat(&node("berth-a", "two"))
        .await
        .unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_node_takes_over_the_unfinished_documents_of_a_dead_one() {
    let f = Fixture::new(Kind::Postgres);
    let (a, b, c) = (f.open(), f.open(), f.open());
    registered(&a, &node("a", "a1")).await;
    registered(&b, &node("b", "b1")).await;
    registered(&c, &node("c", "c1")).await;
    for i in 0..30 {
        a.receive(doc(&format!("a-{i}"), "p")).await.unwrap();
    }
    b.receive(doc("b-0", "p")).await.unwrap();
    a.finish("a-0", berth_store::Finish::Processed)
        .await
        .unwrap();
    // All alive: nobody takes anything.
    assert!(b.cluster().take_over(LONG).await.unwrap().is_empty());
    // Only its own at start: b's document is b's.
    let own: Vec<String> = b
        .unfinished()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(own, ["b-0"]);

    // a stops sending heartbeats; b and c both look for dead nodes at the same moment.
    tokio::time::sleep(Duration::from_millis(400)).await;
    for n in [(&b, "b", "b1"), (&c, "c", "c1")] {
        assert!(n.0.cluster().heartbeat(&node(n.1, n.2)).await.unwrap());
    }
    let short = Duration::from_millis(300);
    let (by_b, by_c) = tokio::join!(b.cluster().take_over(short), c.cluster().take_over(short));
    let (by_b, by_c) = (by_b.unwrap(), by_c.unwrap());
    let mut ids: Vec<String> = by_b
        .iter()
        .chain(&by_c)
        .flat_map(|t| {
            assert_eq!(t.from, "a");
            t.documents.iter().map(|d| d.id.clone())
        })
        .collect();
    ids.sort();
    let mut expected: Vec<String> = (1..30).map(|i| format!("a-{i}")).collect();
    expected.sort();
    assert_eq!(
        ids, expected,
        "every unfinished document of a, each to one node"
    );
    let shown = b.get("a-5").await.unwrap().unwrap();
    assert_eq!(shown.state, State::Received);
    assert!(
        shown
            .history
            .iter()
            .any(|(_, e)| e.starts_with("taken over by node ") && e.ends_with("from node a")),
        "{:?}",
        shown.history
    );
    // Taken once: looking again finds nothing, and a restarted a finds none of its own left.
    assert!(b.cluster().take_over(short).await.unwrap().is_empty());
    let restarted = f.open();
    let outcome = restarted.cluster().register(&node("a", "a2"), short).await;
    assert_eq!(outcome.unwrap(), Registration::Registered);
    assert!(restarted.unfinished().await.unwrap().is_empty());
    let listed = b.cluster().nodes(LONG).await.unwrap();
    let names: Vec<(&str, bool)> = listed
        .iter()
        .map(|n| (n.info.name.as_str(), n.live))
        .collect();
    assert_eq!(names, [("a", true), ("b", true), ("c", true)]);
    assert_eq!(
        listed[0].info.files,
        [("berth.yaml".to_string(), "aa".to_string())]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_node_is_taken_over_at_once_and_its_name_is_free() {
    let f = Fixture::new(Kind::Postgres);
    let (a, b) = (f.open(), f.open());
    registered(&a, &node("a", "a1")).await;
    registered(&b, &node("b", "b1")).await;
    a.receive(doc("left", "p")).await.unwrap();
    a.cluster().leave().await.unwrap();
    let taken = b.cluster().take_over(LONG).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].documents[0].id, "left");
    registered(&f.open(), &node("a", "a2")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn listener_controls_reach_the_other_nodes() {
    let f = Fixture::new(Kind::Postgres);
    let (a, b) = (f.open(), f.open());
    registered(&a, &node("a", "a1")).await;
    registered(&b, &node("b", "b1")).await;
    let wake = b
        .cluster()
        .wakeups()
        .expect("PostgreSQL wakes the other nodes");
    // The LISTEN connection wakes b once it listens; wait for that before publishing.
    tokio::time::timeout(Duration::from_secs(10), wake.notified())
        .await
        .expect("listening");
    a.cluster().publish("inbox", "pause").await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), wake.notified())
        .await
        .expect("b is woken by a's control");
    let controls = b.cluster().controls_after(0).await.unwrap();
    assert_eq!(controls.len(), 1);
    assert_eq!(
        (
            controls[0].listener.as_str(),
            controls[0].action.as_str(),
            controls[0].origin.as_str()
        ),
        ("inbox", "pause", "a")
    );
    assert!(b
        .cluster()
        .controls_after(controls[0].id)
        .await
        .unwrap()
        .is_empty());
}

/// A pause or resume supersedes the listener's earlier ones, so the table keeps one per
/// listener however often operators click, and a node starting later still finds the one in
/// force; other listeners' controls and recent restarts stay.
#[tokio::test(flavor = "multi_thread")]
async fn superseded_listener_controls_are_pruned() {
    let f = Fixture::new(Kind::Postgres);
    let a = f.open();
    registered(&a, &node("a", "a1")).await;
    let cluster = a.cluster();
    cluster.publish("other", "pause").await.unwrap();
    for action in ["pause", "resume", "restart", "pause", "resume", "pause"] {
        cluster.publish("inbox", action).await.unwrap();
    }
    let kept: Vec<(String, String)> = cluster
        .controls_after(0)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.listener, c.action))
        .collect();
    let pair = |l: &str, a: &str| (l.to_string(), a.to_string());
    assert_eq!(
        kept,
        vec![
            pair("other", "pause"),
            pair("inbox", "restart"),
            pair("inbox", "pause")
        ]
    );
}

/// The embedded store: one node, itself, honestly listed; nothing to take over or tell.
#[tokio::test(flavor = "multi_thread")]
async fn the_embedded_store_is_one_node() {
    let f = Fixture::new(Kind::Sqlite);
    let store = f.open();
    assert!(store.cluster().nodes(LONG).await.unwrap().is_empty());
    registered(&store, &node("solo", "s1")).await;
    store.receive(doc("d", "p")).await.unwrap();
    let nodes = store.cluster().nodes(LONG).await.unwrap();
    assert_eq!(nodes.len(), 1);
    assert!(nodes[0].live);
    assert_eq!(nodes[0].info.name, "solo");
    assert!(store
        .cluster()
        .take_over(Duration::ZERO)
        .await
        .unwrap()
        .is_empty());
    assert!(store.cluster().wakeups().is_none());
    assert_eq!(store.unfinished().await.unwrap().len(), 1);
}
