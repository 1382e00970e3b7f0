//! Traffic counts: documents per process and time bucket, split by state and answer, from the
//! store itself (so the console's charts survive restarts), through the host's handle and the
//! read-only view alike.

use std::collections::BTreeMap;

use berth_store::{Answer, Finish, State, StoreError, TrafficQuery};

use crate::common::doc;
use crate::fixture::Fixture;

crate::both!(traffic_counts, traffic_refuses_a_bad_range);

fn answer(summary: &str) -> Answer {
    Answer {
        summary: summary.into(),
        bytes: summary.as_bytes().to_vec(),
    }
}

/// A document to receive: its id, its process, and its outcome and answer once concluded.
type Planned = (&'static str, &'static str, Option<(Finish, &'static str)>);

/// (process, bucket, state, answer) → count, for comparing without caring about order.
type Counts = BTreeMap<(String, i64, &'static str, Option<String>), u64>;

async fn traffic_counts(f: &Fixture) {
    let store = f.open();
    // orders: three processed with a 200, one failed with a 500, one still running;
    // as2: one `processed` MDN and one error disposition.
    let plan: [Planned; 7] = [
        ("o1", "orders", Some((Finish::Processed, "200"))),
        ("o2", "orders", Some((Finish::Processed, "200"))),
        ("o3", "orders", Some((Finish::Processed, "200"))),
        (
            "o4",
            "orders",
            Some((Finish::Failed { error: "no".into() }, "500")),
        ),
        ("o5", "orders", None),
        ("a1", "as2", Some((Finish::Processed, "processed"))),
        (
            "a2",
            "as2",
            Some((Finish::Processed, "processed/error: decryption-failed")),
        ),
    ];
    for (id, process, outcome) in &plan {
        store.receive(doc(id, process)).await.unwrap();
        if let Some((finish, summary)) = outcome {
            store
                .conclude(id, finish.clone(), Some(answer(summary)))
                .await
                .unwrap();
        }
    }

    // The buckets expected, from the times the store recorded.
    let mut times = Vec::new();
    for (id, _, _) in &plan {
        times.push(store.get(id).await.unwrap().unwrap().received_at);
    }
    let first = *times.iter().min().unwrap();
    let last = *times.iter().max().unwrap();
    // Buckets of 7 ms from just before the first: the documents spread over several of them.
    let range = TrafficQuery {
        from: first - 3,
        to: last + 1,
        bucket_ms: 7,
    };
    let mut expected = Counts::new();
    for ((_, process, outcome), at) in plan.iter().zip(&times) {
        let (state, answer) = match outcome {
            None => ("received", None),
            Some((Finish::Processed, summary)) => ("processed", Some(summary.to_string())),
            Some((Finish::Failed { .. }, summary)) => ("failed", Some(summary.to_string())),
        };
        let bucket = (at - range.from) / range.bucket_ms;
        *expected
            .entry((process.to_string(), bucket, state, answer))
            .or_default() += 1;
    }
    let counted = |counts: Vec<berth_store::TrafficCount>| -> Counts {
        counts
            .into_iter()
            .map(|c| ((c.process, c.bucket, c.state.as_str(), c.answer), c.count))
            .collect()
    };
    assert_eq!(counted(store.traffic(&range).await.unwrap()), expected);
    assert_eq!(
        counted(f.reader().traffic(&range).await.unwrap()),
        expected,
        "the read-only view counts the same"
    );

    // One bucket over the whole range: totals per process and state.
    let whole = TrafficQuery {
        from: first,
        to: last + 1,
        bucket_ms: i64::MAX / 4,
    };
    let mut totals: BTreeMap<(String, &str), u64> = BTreeMap::new();
    for c in store.traffic(&whole).await.unwrap() {
        assert_eq!(c.bucket, 0);
        *totals.entry((c.process, c.state.as_str())).or_default() += c.count;
    }
    let total = |p: &str, s: State| {
        totals
            .get(&(p.to_string(), s.as_str()))
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(total("orders", State::Processed), 3);
    assert_eq!(total("orders", State::Failed), 1);
    assert_eq!(total("orders", State::Received), 1);
    assert_eq!(total("as2", State::Processed), 2);

    // The range's end is exclusive, its start inclusive.
    let none = TrafficQuery {
        from: last + 1,
        to: last + 1_000,
        bucket_ms: 60_000,
    };
    assert!(store.traffic(&none).await.unwrap().is_empty());
    let only_first = TrafficQuery {
        from: first,
        to: first + 1,
        bucket_ms: 60_000,
    };
    let at_first = times.iter().filter(|t| **t == first).count() as u64;
    let counts = store.traffic(&only_first).await.unwrap();
    assert_eq!(counts.iter().map(|c| c.count).sum::<u64>(), at_first);
}

async fn traffic_refuses_a_bad_range(f: &Fixture) {
    let store = f.open();
    for bad in [
        TrafficQuery {
            from: 0,
            to: 10,
            bucket_ms: 0,
        },
        TrafficQuery {
            from: 10,
            to: 0,
            bucket_ms: 1,
        },
    ] {
        assert!(
            matches!(store.traffic(&bad).await, Err(StoreError::Invalid(_))),
            "{bad:?}"
        );
    }
}
