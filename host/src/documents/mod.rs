//! `berth documents`: find received documents by process, state, date and tracked property;
//! show one with its history and the answer sent; run failed ones again.

mod dates;
mod retry;
mod view;

pub use dates::{format as format_date, parse as parse_date};
pub use retry::retry;
pub use view::{list, parse_state, show};

use berth_store::{StoreError, StoredDocument};
use bytes::Bytes;

/// A stored document's payload whole in memory, as the process runner takes it. The one place
/// where the host loads a stored payload: large ones come back from the store as handles that
/// read their file, and stay that way until something runs the document.
pub async fn payload_bytes(stored: &StoredDocument) -> Result<Bytes, StoreError> {
    stored.payload.load().await
}
