//! Calling a plugin listener: on the reactor thread or on the blocking pool, as its connector
//! asked (`Connector::BLOCKING`), with its error as a plain string.

use berth_connector_sdk::abi::{Outcome, Response};
use berth_connector_sdk::abi_stable::std_types::{RResult, RString};
use berth_connector_sdk::module::PendingBox;

use crate::body::Body;

/// A blocking connector's calls about a body in memory of at most this many bytes run on the
/// reactor thread: the work is then a few hundred microseconds (a small AS2 message: decrypt,
/// verify, sign the MDN), less than the hand-over to the blocking pool and back costs in thread
/// wake-ups (two per call, four per message). Larger or spooled bodies, whose unwrapping can
/// take seconds, stay on the pool so that they never hold up the other connections.
const INLINE_AT_MOST: u64 = 64 * 1024;

/// Whether a connector's call about `body` goes to the blocking pool.
pub fn off_reactor(blocking: bool, body: &Body) -> bool {
    blocking && !matches!(body, Body::Memory(bytes) if bytes.len() as u64 <= INLINE_AT_MOST)
}

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
