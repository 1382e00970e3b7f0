//! A submitted document's payload and evidence as the store and the steps take them: in memory
//! when small, otherwise the file the host spooled (or offered the connector), which the store
//! takes over by a link and the steps read as a stream; never loaded whole.

use std::sync::Arc;

use berth_connector_sdk::abi::PayloadFrom;
use berth_connector_sdk::abi_stable::std_types::RVec;
use berth_store::{Payload, StoredPayload};
use bytes::Bytes;

use crate::body::{Body, SpoolFile};

/// The payload where the connector says it is; `Err` says why it cannot be taken.
pub async fn take(
    from: PayloadFrom,
    bytes: RVec<u8>,
    body: &Body,
    payload_file: Option<&Arc<SpoolFile>>,
) -> Result<StoredPayload, String> {
    match from {
        // A spooled body stays in its file: the store links it, steps stream it.
        PayloadFrom::REQUEST_BODY => Ok(body.payload()),
        // Adopted, not copied: the plugin's allocation is freed by the plugin's own code when
        // the last reference goes (a 200 MB payload stays one 200 MB buffer).
        PayloadFrom::BYTES => Ok(StoredPayload::memory(Bytes::from_owner(bytes))),
        PayloadFrom::PAYLOAD_FILE => match payload_file {
            Some(file) => file.payload().await.map_err(|e| e.to_string()),
            None => Err("the connector's payload is in the host's payload file, which is offered with spooled bodies only".to_string()),
        },
        other => Err(format!(
            "the connector's payload is in a place this berth does not know ({})",
            other.0
        )),
    }
}

/// The request as evidence: as received, without the body when the body is the payload
/// (stored once, not twice). A spooled body is in a file of its own, which the store keeps
/// after the head (linked, not copied) when the evidence needs it; `in_memory` builds the
/// evidence of a body held in memory.
pub fn evidence(
    body: &Body,
    payload_is_body: bool,
    in_memory: &(dyn Fn(bool) -> Bytes + Sync),
) -> Payload {
    match body {
        Body::Memory(_) => Payload::Bytes(in_memory(!payload_is_body)),
        Body::Spooled(file) if payload_is_body => Payload::Bytes(file.head.clone()),
        Body::Spooled(file) => Payload::HeadAndFile {
            head: file.head.clone(),
            file: file.path.clone(),
        },
    }
}

/// The payload as the store takes it: the plugin's bytes, or the host's file, which the store
/// takes over by a link (or streams into chunks). `None` for content that is neither, which a
/// received payload never is.
pub fn to_store(payload: &StoredPayload) -> Option<Payload> {
    match (payload.in_memory(), payload.path()) {
        (Some(bytes), _) => Some(Payload::Bytes(bytes.clone())),
        (None, Some(path)) => Some(Payload::File(path.to_path_buf())),
        (None, None) => None,
    }
}
