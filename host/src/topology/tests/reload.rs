//! What a redeploy does to each listener group: a changed process is swapped into the socket
//! that stays open, a changed port is rebound, an unchanged group is left alone, a removed
//! process is undeployed, and a deployment that does not check changes nothing.

use std::sync::Arc;

use super::{listening_socket, post, Client, Knocking, Live};
use crate::deploy::testing::{answer_steps, free_port, one_at_a_time, Folder};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_steps_are_swapped_into_the_open_socket() {
    let port = free_port();
    let folder = Folder::new();
    folder
        .http_connection("inbound", port)
        .answering("orders", "inbound", "/orders", "v1");
    let live = Live::start(folder).await;
    let mut kept_alive = Client::connect(port).await.unwrap();
    assert_eq!(kept_alive.post("/orders", "1").await, (200, "v1".into()));
    // A request whose head was read, routed, and whose body the server asked for.
    let mut in_flight = Client::connect(port).await.unwrap();
    in_flight
        .send(b"POST /orders HTTP/1.1\r\nhost: 127.0.0.1\r\nexpect: 100-continue\r\ncontent-length: 1\r\n\r\n")
        .await;
    assert_eq!(in_flight.response().await.0, 100);
    let socket = listening_socket(port).expect("berth listens");
    let knocking = Knocking::start(port);
    knocking.connects(10).await;

    live.folder.answering("orders", "inbound", "/orders", "v2");
    live.apply().await;

    knocking.connects(10).await;
    let refused = knocking.stop();
    assert!(refused.is_empty(), "refused during the swap: {refused:?}");
    assert_eq!(
        listening_socket(port),
        Some(socket),
        "the listening socket was never closed"
    );
    assert_eq!(
        kept_alive.post("/orders", "2").await,
        (200, "v2".into()),
        "a connection opened before the swap gets the new version"
    );
    in_flight.send(b"3").await;
    assert_eq!(
        in_flight.response().await,
        (200, "v1".into()),
        "a request in flight finishes on the version it started with"
    );
    assert_eq!(
        post(port, "/orders", "4").await.unwrap(),
        (200, "v2".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_port_is_rebound() {
    let (old, new) = (free_port(), free_port());
    let folder = Folder::new();
    folder
        .http_connection("inbound", old)
        .answering("orders", "inbound", "/orders", "v1");
    let live = Live::start(folder).await;
    assert_eq!(post(old, "/orders", "1").await.unwrap(), (200, "v1".into()));

    live.folder.http_connection("inbound", new);
    live.apply().await;

    let refused = post(old, "/orders", "2")
        .await
        .expect_err("the old port is closed");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    assert_eq!(listening_socket(old), None);
    assert_eq!(post(new, "/orders", "3").await.unwrap(), (200, "v1".into()));
    let listener = live.topology.listener("orders").await.unwrap();
    assert_eq!(listener.urls, [format!("http://127.0.0.1:{new}/orders")]);
    assert_eq!(listener.state, "listening");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_group_is_left_alone() {
    let (changed, unchanged) = (free_port(), free_port());
    let folder = Folder::new();
    folder
        .http_connection("changed", changed)
        .http_connection("unchanged", unchanged)
        .answering("alpha", "changed", "/alpha", "alpha v1")
        .answering("beta", "unchanged", "/beta", "beta v1");
    let live = Live::start(folder).await;
    let (alpha, beta) = (live.mount("changed").await, live.mount("unchanged").await);
    let beta_socket = listening_socket(unchanged).expect("berth listens");

    live.folder
        .answering("alpha", "changed", "/alpha", "alpha v2");
    live.apply().await;

    assert!(
        !Arc::ptr_eq(&live.mount("changed").await, &alpha),
        "the changed group got its new version"
    );
    assert!(
        Arc::ptr_eq(&live.mount("unchanged").await, &beta),
        "the unchanged group keeps the version it had, not a fresh copy of it"
    );
    assert_eq!(listening_socket(unchanged), Some(beta_socket));
    assert_eq!(
        post(unchanged, "/beta", "1").await.unwrap(),
        (200, "beta v1".into())
    );
    assert_eq!(
        post(changed, "/alpha", "1").await.unwrap(),
        (200, "alpha v2".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_process_is_undeployed_and_its_last_one_closes_the_port() {
    let port = free_port();
    let folder = Folder::new();
    folder
        .http_connection("inbound", port)
        .answering("alpha", "inbound", "/alpha", "alpha")
        .answering("beta", "inbound", "/beta", "beta");
    let live = Live::start(folder).await;
    let status = live.intake.status();
    assert!(status.get("beta").is_some());
    let socket = listening_socket(port).expect("berth listens");

    live.folder.remove("processes/beta.yaml");
    live.apply().await;

    assert!(status.get("beta").is_none(), "beta's listener is gone");
    assert!(live.topology.listener("beta").await.is_none());
    assert_eq!(
        post(port, "/beta", "1").await.unwrap(),
        (404, "no process listens on /beta\n".into())
    );
    assert_eq!(
        post(port, "/alpha", "1").await.unwrap(),
        (200, "alpha".into())
    );
    assert_eq!(
        listening_socket(port),
        Some(socket),
        "the connection still serves alpha on its socket"
    );

    live.folder.remove("processes/alpha.yaml");
    live.apply().await;

    assert!(status.get("alpha").is_none());
    assert!(live.topology.listeners().await.is_empty());
    assert_eq!(
        listening_socket(port),
        None,
        "no process uses the connection"
    );
    assert_eq!(live.topology.bound().await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_that_does_not_check_leaves_the_running_one_alone() {
    let port = free_port();
    let folder = Folder::new();
    folder
        .http_connection("inbound", port)
        .answering("orders", "inbound", "/orders", "v1");
    let _turn = one_at_a_time().await;
    let live = Live::start_as_run(folder).await;
    let socket = listening_socket(port).expect("berth listens");

    // A second process claiming the same route, and a new version of the first.
    live.folder
        .answering("orders", "inbound", "/orders", "v2")
        .http_process("copy", "inbound", "/orders", &answer_steps("copy"));
    let refusal = live.topology.redeploy(None).await.expect_err("refused");

    assert!(refusal.contains("route `POST /orders`"), "{refusal}");
    let (kept, _) = live
        .topology
        .deploy_error()
        .expect("kept for the admin API");
    assert_eq!(kept, refusal);
    assert_eq!(
        post(port, "/orders", "1").await.unwrap(),
        (200, "v1".into())
    );
    assert!(live.intake.status().get("copy").is_none());

    live.folder.remove("processes/copy.yaml");
    live.topology.redeploy(None).await.unwrap();

    assert!(live.topology.deploy_error().is_none());
    assert_eq!(
        post(port, "/orders", "2").await.unwrap(),
        (200, "v2".into())
    );
    assert_eq!(listening_socket(port), Some(socket));
}
