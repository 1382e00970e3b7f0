//! A copy between stores (`berth store copy`): every document written into another store as it
//! was (state, times, properties, history, answer, payload and raw request, large ones too),
//! oldest first, so that duplicate detection goes on in the target, and so does the refusal of
//! a file name already received.

use std::time::Duration;

use berth_store::{
    Answer, DuplicateKeys, Finish, Imported, NewDocument, Payload, Received, State, Store,
    StoreError, StoredPayload, UniqueKey,
};
use bytes::Bytes;

use crate::common::{doc, keyed, read, read_opt};
use crate::fixture::Fixture;

crate::both!(
    a_copied_store_reads_the_same_and_keeps_its_duplicates,
    a_file_name_of_a_purged_document_stays_refused
);

/// Stored content as a copy hands it on: bytes, or the source's own file.
fn content(stored: &StoredPayload) -> Payload {
    match (stored.in_memory(), stored.path()) {
        (Some(bytes), _) => Payload::Bytes(bytes.clone()),
        (None, Some(path)) => Payload::File(path.to_path_buf()),
        (None, None) => Payload::Bytes(read(stored)),
    }
}

fn named(id: &str, message: &str, name: &str) -> NewDocument {
    NewDocument {
        unique_key: Some(name.into()),
        ..keyed(id, "as2", message, 100)
    }
}

async fn copy(source: &Store, target: &Store) -> usize {
    let (mut after, mut copied) = (0, 0);
    loop {
        let page = source.export_ids(after, 2).await.unwrap();
        let Some((last, _)) = page.last() else {
            return copied;
        };
        after = *last;
        for (_, id) in page {
            let doc = source.get(&id).await.unwrap().unwrap();
            let raw = source.raw(&id).await.unwrap().map(|r| content(&r));
            let keys = source.duplicate_keys(&id).await.unwrap().unwrap();
            let payload = content(&doc.payload);
            target
                .import(Imported::new(doc, payload, raw, keys))
                .await
                .unwrap();
            copied += 1;
        }
    }
}

async fn a_copied_store_reads_the_same_and_keeps_its_duplicates(f: &Fixture) {
    let source = f.open();
    let mdn = Answer {
        summary: "processed".into(),
        bytes: b"the MDN".to_vec(),
    };
    let mut first = keyed("m1", "as2", "A|B|<id-1>", 100);
    first.raw = Some(Payload::Bytes(Bytes::from_static(b"POST /as2 ...")));
    assert_eq!(source.receive(first).await.unwrap(), Received::New);
    source
        .conclude("m1", Finish::Processed, Some(mdn.clone()))
        .await
        .unwrap();
    let resend = source
        .receive(keyed("m1-r", "as2", "A|B|<id-1>", 100))
        .await
        .unwrap();
    assert!(matches!(resend, Received::Duplicate { .. }));
    let mut large = doc("big", "http");
    let big: Vec<u8> = (0..600_000u32).map(|i| (i % 253) as u8).collect();
    large.payload = Payload::Bytes(big.clone().into());
    source.receive(large).await.unwrap();
    source.receive(doc("bad", "http")).await.unwrap();
    let failed = Finish::Failed {
        error: "step: broken".into(),
    };
    source.conclude("bad", failed, None).await.unwrap();
    source.receive(doc("waiting", "http")).await.unwrap();
    source
        .receive(named("f1", "<id-2>", "A|B|a.edi"))
        .await
        .unwrap();
    source
        .conclude("f1", Finish::Processed, Some(mdn.clone()))
        .await
        .unwrap();

    let other = Fixture::new(f.kind);
    let target = other.open();
    assert_eq!(copy(&source, &target).await, 6);

    for id in ["m1", "m1-r", "big", "bad", "waiting", "f1"] {
        let (a, b) = (
            source.get(id).await.unwrap().unwrap(),
            target.get(id).await.unwrap().unwrap(),
        );
        assert_eq!(
            (&a.process, a.state, a.received_at, &a.properties),
            (&b.process, b.state, b.received_at, &b.properties),
            "{id}"
        );
        assert_eq!(
            (&a.history, &a.error, &a.answer),
            (&b.history, &b.error, &b.answer),
            "{id}"
        );
        assert_eq!(read(&a.payload), read(&b.payload), "{id}");
        let raws = (source.raw(id).await.unwrap(), target.raw(id).await.unwrap());
        assert_eq!(read_opt(raws.0), read_opt(raws.1), "{id}");
        assert_eq!(
            source.duplicate_keys(id).await.unwrap(),
            target.duplicate_keys(id).await.unwrap(),
            "{id}"
        );
    }
    assert_eq!(
        read(&target.get("big").await.unwrap().unwrap().payload),
        big
    );
    assert_eq!(
        target.duplicate_keys("m1-r").await.unwrap(),
        Some(DuplicateKeys {
            duplicate_key: None,
            duplicate_of: Some("m1".into()),
            unique_key: None,
        })
    );
    assert_eq!(
        target
            .duplicate_keys("f1")
            .await
            .unwrap()
            .unwrap()
            .unique_key,
        Some("A|B|a.edi".into())
    );
    // The target goes on: a resend is recognised with the first answer, the unfinished one
    // is handed back, and an id already there is refused.
    let again = target
        .receive(keyed("m1-r2", "as2", "A|B|<id-1>", 100))
        .await
        .unwrap();
    assert_eq!(
        again,
        Received::Duplicate {
            original_id: "m1".into(),
            answer: Some(mdn.bytes.clone()),
        }
    );
    // A file name received before the copy is still refused after it.
    assert_eq!(
        target
            .receive(named("f2", "<id-3>", "A|B|a.edi"))
            .await
            .unwrap(),
        Received::KeyTaken {
            holder_id: "f1".into()
        }
    );
    assert!(target.get("f2").await.unwrap().is_none());
    let unfinished: Vec<String> = target
        .unfinished()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(unfinished, ["big", "waiting"]);
    assert_eq!(
        target.get("waiting").await.unwrap().unwrap().state,
        State::Received
    );
    let doc = source.get("m1").await.unwrap().unwrap();
    let refused = target
        .import(Imported::new(
            doc,
            Payload::default(),
            None,
            DuplicateKeys::default(),
        ))
        .await;
    assert!(
        matches!(refused, Err(StoreError::AlreadyExists(_))),
        "{refused:?}"
    );
}

/// A key outlives its document's purge ("already received" stays true); a copy takes such
/// keys on their own, paged, and the target refuses the file name as the source did.
async fn a_file_name_of_a_purged_document_stays_refused(f: &Fixture) {
    let source = f.open();
    for (id, message, name) in [
        ("p1", "<p1>", "A|B|old.edi"),
        ("p2", "<p2>", "A|B|older.edi"),
    ] {
        source.receive(named(id, message, name)).await.unwrap();
        source.finish(id, Finish::Processed).await.unwrap();
    }
    source
        .receive(named("kept", "<k>", "A|B|kept.edi"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    // "kept" has not run yet, so it stays; the other two go, their keys stay.
    assert_eq!(source.purge(Duration::ZERO, false).await.unwrap(), 2);

    let other = Fixture::new(f.kind);
    let target = other.open();
    assert_eq!(copy(&source, &target).await, 1);
    let mut after = None;
    let mut keys = Vec::new();
    loop {
        let page = source.orphan_keys(after, 1).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.process.clone(), last.key.clone()));
        keys.extend(page.clone());
        target.import_keys(page).await.unwrap();
    }
    let orphan = |id: &str, key: &str| UniqueKey {
        process: "as2".into(),
        key: key.into(),
        document_id: id.into(),
    };
    assert_eq!(
        keys,
        [orphan("p1", "A|B|old.edi"), orphan("p2", "A|B|older.edi")],
        "only the keys whose document is gone, in order"
    );
    // Copied again (a copy with --append): nothing changes, nothing fails.
    target.import_keys(keys).await.unwrap();
    for (name, holder) in [
        ("A|B|old.edi", "p1"),
        ("A|B|older.edi", "p2"),
        ("A|B|kept.edi", "kept"),
    ] {
        assert_eq!(
            target
                .receive(named("again", "<again>", name))
                .await
                .unwrap(),
            Received::KeyTaken {
                holder_id: holder.into()
            },
            "{name}"
        );
    }
    assert_eq!(
        target
            .receive(named("new", "<new>", "A|B|new.edi"))
            .await
            .unwrap(),
        Received::New
    );
}
