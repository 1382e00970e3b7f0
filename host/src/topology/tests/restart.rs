//! An operator's restart reopens and rebinds one listener's group and nothing else; a pause
//! outlives it.

use std::sync::Arc;

use super::{listening_socket, post, Live};
use crate::deploy::testing::{free_port, one_at_a_time, Folder};
use crate::status::State;
use crate::topology::ControlError;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_rebinds_only_its_group_and_a_paused_listener_stays_paused() {
    let (restarted, other) = (free_port(), free_port());
    let folder = Folder::new();
    folder
        .http_connection("restarted", restarted)
        .http_connection("other", other)
        .answering("alpha", "restarted", "/alpha", "alpha")
        .answering("beta", "other", "/beta", "beta");
    let _turn = one_at_a_time().await;
    let live = Live::start_as_run(folder).await;
    let alpha_socket = listening_socket(restarted).expect("berth listens");
    let (beta_socket, beta) = (listening_socket(other).unwrap(), live.mount("other").await);
    live.topology.pause("alpha").unwrap();
    assert_eq!(
        post(restarted, "/alpha", "1").await.unwrap().0,
        503,
        "paused"
    );

    live.topology.restart("alpha").await.unwrap();

    let reopened = listening_socket(restarted).expect("berth listens again");
    assert_ne!(reopened, alpha_socket, "the restarted group was rebound");
    assert_eq!(listening_socket(other), Some(beta_socket));
    assert!(Arc::ptr_eq(&live.mount("other").await, &beta));
    let status = live.intake.status();
    assert_eq!(status.get("alpha").unwrap().state(), State::Paused);
    assert_eq!(post(restarted, "/alpha", "2").await.unwrap().0, 503);
    assert_eq!(status.get("beta").unwrap().state(), State::Listening);

    live.topology.resume("alpha").unwrap();
    assert_eq!(
        post(restarted, "/alpha", "3").await.unwrap(),
        (200, "alpha".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_deployed_listener_can_be_restarted_paused_or_resumed() {
    let folder = Folder::new();
    folder
        .http_connection("inbound", free_port())
        .answering("orders", "inbound", "/orders", "v1");
    let live = Live::start(folder).await;
    let topology = &live.topology;
    assert!(matches!(
        topology.restart("nobody").await,
        Err(ControlError::NotFound(_))
    ));
    assert!(matches!(
        topology.pause("nobody"),
        Err(ControlError::NotFound(_))
    ));
    assert!(matches!(
        topology.resume("orders"),
        Err(ControlError::Conflict(_))
    ));
}
