//! Several documents from one request (AS2 multiple attachments, RFC 6362): a submission names
//! the first in [`Submission::document`] and the others in [`Submission::more_documents`].
//!
//! The host stores and runs each as a document of its own, in order, and answers the connector
//! once, for the message: [`crate::abi::OutcomeKind::ACCEPTED`] when every document was, else
//! the first failure or refusal. The submission's duplicate key belongs to the message: a resend
//! is reported as a duplicate with the answer recorded for the first document, and stores
//! nothing. A document's payload may be bytes, or a part file the connector wrote: the request
//! offers as many as the connector needs beside its payload file ([`Request::part_file`]).

use abi_stable::std_types::{ROption, RVec};

use crate::abi::{Document, PayloadFrom, Property, Request, Submission};

impl PayloadFrom {
    /// In the request's part file of the same number as the document's place in
    /// [`Submission::more_documents`] (the first is 1): see [`Request::part_file`].
    pub const PART_FILE: Self = Self(3);
}

impl Submission {
    /// Submit `more` as further documents of the same message (see the module documentation).
    pub fn with_more_documents(mut self, more: Vec<Document>) -> Self {
        self.more_documents = more.into();
        self
    }
}

impl Document {
    /// A further document (see [`Submission::more_documents`]) whose payload the connector wrote
    /// into [`Request::part_file`] with the number of its place in that list.
    pub fn from_part_file(properties: Vec<Property>) -> Self {
        Self {
            payload: RVec::new(),
            payload_from: PayloadFrom::PART_FILE,
            properties: properties.into(),
        }
    }
}

impl Request<'_> {
    /// Where the connector writes the payload of the `number`th of a submission's
    /// [`Submission::more_documents`] (from 1) that it submits with
    /// [`Document::from_part_file`]: beside the payload file, on the store's disk, so offered
    /// only with it (a spooled body). The connector creates the file; the host takes it over
    /// as that document's stored payload, and removes it with the request when unused. Part 0
    /// is never a document's: a connector may use it as scratch (the AS2 connectors split a
    /// message's first attachment into it, then rename it over the payload file).
    pub fn part_file(&self, number: usize) -> Option<String> {
        match self.payload_file {
            ROption::RSome(file) => Some(part_file_of(file.as_str(), number)),
            ROption::RNone => None,
        }
    }
}

/// The name of part `number` beside the payload file `payload_file` (the host's side of
/// [`Request::part_file`]).
pub fn part_file_of(payload_file: &str, number: usize) -> String {
    format!("{payload_file}.part{number}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_files_sit_beside_the_payload_file_and_only_with_it() {
        let mut request = Request {
            method: "POST".into(),
            path: "/".into(),
            query: ROption::RNone,
            headers: (&[][..]).into(),
            body: (&[][..]).into(),
            body_file: ROption::RNone,
            body_offset: 0,
            body_len: 0,
            payload_file: ROption::RNone,
            remote_addr: "127.0.0.1:1".into(),
            client_certificate: ROption::RNone,
            secure: false,
        };
        assert_eq!(request.part_file(1), None);
        request.payload_file = ROption::RSome("/spool/1-2.request.payload".into());
        assert_eq!(
            request.part_file(2).as_deref(),
            Some("/spool/1-2.request.payload.part2")
        );
        let submission = Submission::new("p", Document::with_payload(vec![1], vec![]))
            .with_more_documents(vec![Document::from_part_file(vec![])]);
        assert_eq!(
            submission.more_documents[0].payload_from,
            PayloadFrom::PART_FILE
        );
    }
}
