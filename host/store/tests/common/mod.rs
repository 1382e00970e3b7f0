//! Helpers shared by the store's integration tests.
#![allow(dead_code)] // each test binary uses its own subset

use berth_store::{NewDocument, Payload, StoredPayload};
use bytes::Bytes;

/// A small document of process `process` with two tracked properties.
pub fn doc(id: &str, process: &str) -> NewDocument {
    NewDocument {
        id: id.into(),
        process: process.into(),
        payload: Bytes::from(format!("payload of {id}")).into(),
        properties: vec![
            ("as2.from".into(), "PARTNER-A".into()),
            ("file.name".into(), format!("{id}.edi")),
        ],
        raw: None,
        duplicate_key: None,
        duplicate_window: 0,
        unique_key: None,
    }
}

/// A document carrying a duplicate key, checked against the last `window` documents.
pub fn keyed(id: &str, process: &str, key: &str, window: u32) -> NewDocument {
    NewDocument {
        duplicate_key: Some(key.into()),
        duplicate_window: window,
        unique_key: None,
        ..doc(id, process)
    }
}

/// The whole content of a stored payload or raw request.
pub fn read(stored: &StoredPayload) -> Bytes {
    stored.bytes().unwrap()
}

/// As [`read`], for content that may be absent.
pub fn read_opt(stored: Option<StoredPayload>) -> Option<Bytes> {
    stored.as_ref().map(read)
}

/// The content given to the store.
pub fn given(payload: &Payload) -> Bytes {
    match payload {
        Payload::Bytes(bytes) => bytes.clone(),
        Payload::File(path) => std::fs::read(path).unwrap().into(),
        Payload::HeadAndFile { head, file } => {
            [&head[..], &std::fs::read(file).unwrap()].concat().into()
        }
    }
}

/// Files in the store's payload directory.
pub fn payload_files(data_dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data_dir.join("payloads"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}
