//! Filename preservation: an operation may refuse a file name already received from the same
//! partner pair, answering with the filename preservation profile's `processed/error:
//! duplicate-filename` MDN. The refusal is the host store's: the name is the submission's
//! unique key, claimed in the same transaction as the document, so two messages with one name
//! arriving at once (on one node or two) cannot both be accepted.

use berth_connector_sdk::prelude::*;

use super::partner::Partner;
use super::{As2Listener, Pending};
use crate::disposition::{Disposition, ProcessingError};
use crate::receive::TrackedProperties;

/// What a refusal needs to say in the log: the name and who sent it.
pub(super) struct NameCheck {
    file_name: String,
    peer: String,
}

/// The unique key of a message whose file name the partner's operation accepts once: partner
/// pair and file name, joined by a character none of them may hold (unit separator). None
/// when the operation does not refuse names, or the message names no file.
pub(super) fn unique_key(partner: &Partner, tracked: &TrackedProperties) -> Option<String> {
    if !partner.refuse_duplicate_file_names {
        return None;
    }
    let name = tracked.file_name.as_ref()?;
    Some(format!(
        "file-name\u{1f}{}\u{1f}{}\u{1f}{name}",
        tracked.as2_from, tracked.as2_to
    ))
}

/// What the answer needs when the name is refused.
pub(super) fn name_check(
    partner: &Partner,
    tracked: &TrackedProperties,
    peer: &str,
) -> Option<NameCheck> {
    unique_key(partner, tracked)?;
    Some(NameCheck {
        file_name: tracked.file_name.clone()?,
        peer: peer.to_string(),
    })
}

impl As2Listener {
    /// The host refused the message because its file name was received before.
    pub(super) fn file_name_taken(
        &self,
        pending: &Pending,
        outcome: &Outcome,
        id: &str,
    ) -> Response {
        let partner = &pending.partner;
        let (name, peer) = pending
            .name_check
            .as_ref()
            .map_or(("", ""), |c| (c.file_name.as_str(), c.peer.as_str()));
        self.log.warn(
            &partner.process,
            &format!(
                "message {id} from {peer} refused: file name {name:?} was received before \
                 (document {}); answered duplicate-filename",
                outcome.document_id
            ),
        );
        self.answer(
            partner,
            &pending.context,
            &pending.route,
            Disposition::Error(ProcessingError::DuplicateFilename),
            Some("a file with this name was received before; this one was not processed"),
            (409, "a file with this name was received before"),
        )
    }
}
