//! What a copy between stores moves (`berth store copy`): a document with everything the store
//! knows about it, written as it is rather than received anew, so that a deployment that moves
//! from one backend to the other keeps its history, its answers and its duplicate detection.

use crate::delivery::Delivery;
use crate::payload::Payload;
use crate::types::{Answer, State, StoredDocument};

/// The keys a copy needs beside what [`StoredDocument`] shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DuplicateKeys {
    /// The key a resend of this document is recognised by (AS2: partner pair and Message-ID);
    /// `None` for a resend itself and for documents without one.
    pub duplicate_key: Option<String>,
    /// For a resend: the document it repeated.
    pub duplicate_of: Option<String>,
    /// The key this document holds among the keys its process accepts once (AS2: the partner
    /// pair and a file name already received), so that the target goes on refusing it.
    pub unique_key: Option<String>,
}

/// A key a process accepts once whose document is gone (retention purged it): it is copied
/// on its own, so that the file name stays refused in the target too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueKey {
    pub process: String,
    pub key: String,
    pub document_id: String,
}

/// A document as a copy writes it into the target store (see `Backend::import`).
#[derive(Debug, Clone)]
pub struct Imported {
    pub id: String,
    pub process: String,
    pub state: State,
    /// Unix milliseconds, as the source recorded it.
    pub received_at: i64,
    /// Bytes, or a file the target takes in as a receipt would (streamed, linked or copied).
    pub payload: Payload,
    pub raw: Option<Payload>,
    pub properties: Vec<(String, String)>,
    /// What happened after the receipt, oldest first (the receipt itself is `received_at`).
    pub history: Vec<(i64, String)>,
    pub error: Option<String>,
    pub answer: Option<Answer>,
    pub keys: DuplicateKeys,
    /// The deliveries its answers promised (asynchronous MDNs), with their attempts and states:
    /// a pending one is sent by the target's berth. Claims are not copied.
    pub deliveries: Vec<Delivery>,
}

impl Imported {
    /// The document as the source store showed it, with its contents placed by the caller.
    pub fn new(
        doc: StoredDocument,
        payload: Payload,
        raw: Option<Payload>,
        keys: DuplicateKeys,
    ) -> Imported {
        let mut history = doc.history;
        // The stores show the receipt as a first entry made of `received_at`; it is not kept
        // as an entry of its own, and a target must not get it twice.
        if history
            .first()
            .is_some_and(|(at, event)| *at == doc.received_at && event == "received")
        {
            history.remove(0);
        }
        Imported {
            id: doc.id,
            process: doc.process,
            state: doc.state,
            received_at: doc.received_at,
            payload,
            raw,
            properties: doc.properties,
            history,
            error: doc.error,
            answer: doc.answer,
            keys,
            deliveries: Vec::new(),
        }
    }

    /// The same, with the document's deliveries (see [`crate::Store::deliveries`]).
    pub fn with_deliveries(mut self, deliveries: Vec<Delivery>) -> Imported {
        self.deliveries = deliveries;
        self
    }

    /// When the document last changed: its last event, or its receipt.
    pub fn updated_at(&self) -> i64 {
        self.history
            .last()
            .map_or(self.received_at, |(at, _)| *at)
            .max(self.received_at)
    }
}
