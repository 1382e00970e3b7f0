//! Names of the tracked properties that travel with every document. Steps refer to them in
//! templates as `${as2.from}`, `${file_name}`, and so on.

/// AS2 From ID of the sender.
pub const AS2_FROM: &str = "as2.from";
/// AS2 To ID (ours).
pub const AS2_TO: &str = "as2.to";
/// The message's Subject header.
pub const SUBJECT: &str = "subject";
/// The message's Message-ID, exactly as received.
pub const MESSAGE_ID: &str = "message_id";
/// A safe file name taken from the sender's Content-Disposition.
pub const FILE_NAME: &str = "file_name";
/// The payload's MIME type.
pub const MIME_TYPE: &str = "mime_type";

/// Every tracked property, in the order tools show them.
pub const TRACKED: [&str; 6] = [AS2_FROM, AS2_TO, SUBJECT, MESSAGE_ID, FILE_NAME, MIME_TYPE];
