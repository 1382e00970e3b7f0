//! Calling a plugin listener: on the reactor thread or on the blocking pool, as its connector
//! asked (`Connector::BLOCKING`), with its error as a plain string.

use berth_connector_sdk::abi::{Outcome, Response};
use berth_connector_sdk::abi_stable::std_types::{RResult, RString};
use berth_connector_sdk::module::PendingBox;

/// Run `call` inline, or on the blocking pool when `blocking` (cryptography, decompression).
pub async fn call<T, F>(blocking: bool, call: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce() -> RResult<T, RString> + Send + 'static,
{
    if blocking {
        tokio::task::spawn_blocking(move || into_result(call()))
            .await
            .map_err(|e| format!("connector call did not finish: {e}"))?
    } else {
        into_result(call())
    }
}

/// Ask the connector for its answer, now that the submitted document's outcome is known.
pub async fn complete(
    blocking: bool,
    mut pending: PendingBox,
    outcome: Outcome,
) -> Result<Response, String> {
    call(blocking, move || pending.complete(&outcome)).await
}

fn into_result<T>(result: RResult<T, RString>) -> Result<T, String> {
    result.into_result().map_err(RString::into_string)
}
