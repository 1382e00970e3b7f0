//! Keyset paging (`Query::older_than`): a page continues below the last document shown, so
//! documents that arrive meanwhile or leave the filter never shift the pages after.

use std::collections::HashSet;

use berth_store::{Finish, Query, State, Store, StoreReader, Summary};

use crate::common::doc;
use crate::fixture::Fixture;

crate::both!(
    paging_failed_documents_while_some_are_retried,
    paging_combines_with_every_filter
);

fn failed(error: &str) -> Finish {
    Finish::Failed {
        error: error.into(),
    }
}

/// Receives `ids` into `process` and fails each.
async fn fail_all(store: &Store, process: &str, ids: impl IntoIterator<Item = String>) {
    for id in ids {
        store.receive(doc(&id, process)).await.unwrap();
        store.finish(&id, failed("no route")).await.unwrap();
    }
}

/// Retries a failed document to the end: back to `received`, then processed.
async fn retry_to_processed(store: &Store, id: &str) {
    store.mark_for_retry(id).await.unwrap();
    store.finish(id, Finish::Processed).await.unwrap();
}

fn ids(page: &[Summary]) -> Vec<String> {
    page.iter().map(|s| s.id.clone()).collect()
}

async fn paging_failed_documents_while_some_are_retried(f: &Fixture) {
    let store = f.open();
    // 20 failed, with processed documents of the same process between them.
    let names: Vec<String> = (0..20).map(|i| format!("f{i:02}")).collect();
    for name in &names {
        fail_all(&store, "orders", [name.clone()]).await;
        store
            .receive(doc(&format!("ok-{name}"), "orders"))
            .await
            .unwrap();
        store
            .finish(&format!("ok-{name}"), Finish::Processed)
            .await
            .unwrap();
    }
    let filter = Query {
        state: Some(State::Failed),
        limit: 4,
        ..Query::default()
    };
    let mut visited = Vec::new();
    let mut retried = HashSet::new();
    let mut older_than = None;
    // Bounded: 20 documents at 4 a page are 5 pages.
    for page_number in 0..10 {
        let page = store
            .query(&Query {
                older_than,
                ..filter.clone()
            })
            .await
            .unwrap();
        assert!(page.len() <= 4);
        assert!(page.iter().all(|s| s.state == State::Failed));
        // Newest first: places fall strictly down the page and below the bound.
        assert!(page.windows(2).all(|w| w[0].seq > w[1].seq));
        if let Some(bound) = older_than {
            assert!(page.iter().all(|s| s.seq < bound));
        }
        visited.extend(ids(&page));
        let Some(last) = page.last() else { break };
        older_than = Some(last.seq);
        // Between pages: one shown document and the next two not yet shown are retried and
        // leave the filter; a new failure arrives above. With an offset, each of these would
        // shift the rest of the listing.
        let shown = page[0].id.clone();
        let below = store
            .query(&Query {
                older_than,
                limit: 2,
                ..filter.clone()
            })
            .await
            .unwrap();
        for id in std::iter::once(shown).chain(ids(&below)) {
            retry_to_processed(&store, &id).await;
            retried.insert(id);
        }
        fail_all(&store, "orders", [format!("late-{page_number}")]).await;
    }
    let unique: HashSet<&String> = visited.iter().collect();
    assert_eq!(unique.len(), visited.len(), "none twice: {visited:?}");
    assert!(visited.iter().all(|id| !id.starts_with("late-")));
    // Every one of the 20 is either visited or was retried before its page came.
    for name in &names {
        assert!(
            unique.contains(name) || retried.contains(name),
            "{name} skipped: {visited:?}"
        );
    }
    // And a retried one is never visited after its retry: those visited are the 20 less the
    // ones retried while still below the last page shown.
    let never_shown: Vec<&String> = names.iter().filter(|n| !unique.contains(n)).collect();
    assert!(!never_shown.is_empty());
    assert!(never_shown.iter().all(|n| retried.contains(*n)));
}

async fn paging_combines_with_every_filter(f: &Fixture) {
    let store = f.open();
    for i in 0..12 {
        store
            .receive(doc(&format!("o{i:02}"), "orders"))
            .await
            .unwrap();
        store
            .receive(doc(&format!("i{i:02}"), "invoices"))
            .await
            .unwrap();
    }
    let all = |older_than| Query {
        older_than,
        limit: 5,
        ..Query::default()
    };
    let orders = |older_than| Query {
        process: Some("orders".into()),
        ..all(older_than)
    };
    let received = |older_than| Query {
        state: Some(State::Received),
        ..all(older_than)
    };
    let partner = |older_than| Query {
        properties: vec![("as2.from".into(), "PARTNER-A".into())],
        ..orders(older_than)
    };
    let first = store.get("o00").await.unwrap().unwrap().received_at;
    let dated = |older_than| Query {
        from: Some(first),
        ..orders(older_than)
    };
    let expected_orders: Vec<String> = (0..12).rev().map(|i| format!("o{i:02}")).collect();
    let reader = f.reader();
    for (name, query) in [
        ("orders", &orders as &dyn Fn(Option<i64>) -> Query),
        ("partner", &partner),
        ("dated", &dated),
    ] {
        assert_eq!(walk(&store, None, query).await, expected_orders, "{name}");
        assert_eq!(
            walk(&store, Some(&reader), query).await,
            expected_orders,
            "{name} through the read-only view"
        );
    }
    assert_eq!(walk(&store, None, &all).await.len(), 24);
    assert_eq!(walk(&store, None, &received).await.len(), 24);
    // A bound below every document is an empty page, not an error.
    assert!(store.query(&all(Some(1))).await.unwrap().is_empty());
}

/// Every page of `query` by keyset, through the store or the read-only view; the ids in order.
async fn walk(
    store: &Store,
    reader: Option<&StoreReader>,
    query: &dyn Fn(Option<i64>) -> Query,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut older_than = None;
    // Bounded: at most 24 documents at 5 a page.
    for _ in 0..10 {
        let q = query(older_than);
        let page = match reader {
            Some(reader) => reader.query(&q).await.unwrap(),
            None => store.query(&q).await.unwrap(),
        };
        out.extend(ids(&page));
        match page.last() {
            Some(last) if page.len() == q.limit => older_than = Some(last.seq),
            _ => return out,
        }
    }
    panic!("paging never ended");
}
