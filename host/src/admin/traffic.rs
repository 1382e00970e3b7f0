//! `GET /api/traffic?hours=N`: documents per minute for each listener over the last N hours
//! (1 to 24), with failures and unusual answers counted apart, and each listener's last
//! document. Counted by the store, so the charts survive restarts and cover every node of a
//! cluster.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use berth_connector_sdk::query::pairs;
use berth_store::{Query, State, Store, TrafficQuery};
use http::StatusCode;
use serde::Serialize;

use super::{bad_request, error, json, Admin, Answer};
use crate::documents::format_date;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const MAX_HOURS: i64 = 24;

/// Whether an answer is an AS2 disposition other than plain `processed`: one with a modifier
/// (`processed/warning: ...`, `processed/error: ...`) or a `failed/...` one (RFC 4130's
/// disposition types). HTTP answers are summed up by their status code and a resend's replayed
/// MDN as `duplicate: ...`; neither is a disposition of its own.
pub fn unusual_disposition(summary: &str) -> bool {
    summary.starts_with("processed/") || summary.starts_with("failed/")
}

#[derive(Serialize)]
struct Traffic {
    /// The start of each minute charted, in Unix seconds (what the chart's x axis takes).
    times: Vec<i64>,
    from: String,
    to: String,
    bucket_seconds: i64,
    listeners: Vec<ListenerTraffic>,
}

#[derive(Serialize)]
struct ListenerTraffic {
    name: String,
    /// Documents received per minute, one per entry of `times`.
    documents: Vec<u64>,
    /// Of those, the ones whose process failed.
    failed: Vec<u64>,
    /// Of those, the ones answered with a disposition other than `processed`.
    unusual: Vec<u64>,
    total: u64,
    /// The unusual answers of the range by disposition, with how many times each was sent.
    dispositions: BTreeMap<String, u64>,
    last: Option<LastDocument>,
}

/// A listener's newest document, whenever it came.
#[derive(Serialize)]
pub struct LastDocument {
    pub id: String,
    pub received_at: String,
    pub state: String,
    pub answer: Option<String>,
}

/// The newest document of `process`, if it ever received one.
pub async fn last_document(store: &Store, process: &str) -> Result<Option<LastDocument>, String> {
    let newest = Query {
        process: Some(process.to_string()),
        limit: 1,
        ..Query::default()
    };
    let found = store.query(&newest).await.map_err(|e| e.to_string())?;
    Ok(found.into_iter().next().map(|s| LastDocument {
        id: s.id,
        received_at: format_date(s.received_at),
        state: s.state.as_str().to_string(),
        answer: s.answer,
    }))
}

fn hours(query: &str) -> Result<i64, String> {
    let mut hours = 1;
    for (name, value) in pairs(query) {
        if name == "hours" {
            hours = value
                .parse()
                .ok()
                .filter(|h| (1..=MAX_HOURS).contains(h))
                .ok_or_else(|| format!("hours `{value}`: a number from 1 to {MAX_HOURS}"))?;
        }
    }
    Ok(hours)
}

pub async fn traffic(admin: &Admin, query: &str, peer: SocketAddr) -> Answer {
    let hours = match hours(query) {
        Ok(hours) => hours,
        Err(message) => return bad_request(peer, &message),
    };
    let Some(store) = admin.intake.store().cloned() else {
        return error(StatusCode::CONFLICT, "the message store is off");
    };
    // Whole minutes, the current one last, so that a chart's points do not shift between
    // refreshes within a minute.
    let now = jiff::Timestamp::now().as_millisecond();
    let to = (now.div_euclid(MINUTE_MS) + 1) * MINUTE_MS;
    let range = TrafficQuery {
        from: to - hours * HOUR_MS,
        to,
        bucket_ms: MINUTE_MS,
    };
    let minutes = (hours * 60) as usize;
    let counts = match store.traffic(&range).await {
        Ok(counts) => counts,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let mut listeners = Vec::new();
    for view in admin.topology.listeners().await {
        let mut traffic = ListenerTraffic {
            documents: vec![0; minutes],
            failed: vec![0; minutes],
            unusual: vec![0; minutes],
            total: 0,
            dispositions: BTreeMap::new(),
            last: match last_document(&store, &view.name).await {
                Ok(last) => last,
                Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e),
            },
            name: view.name,
        };
        for count in counts.iter().filter(|c| c.process == traffic.name) {
            let Some(minute) = usize::try_from(count.bucket).ok().filter(|m| *m < minutes) else {
                continue;
            };
            traffic.documents[minute] += count.count;
            traffic.total += count.count;
            if count.state == State::Failed {
                traffic.failed[minute] += count.count;
            }
            if let Some(answer) = count.answer.as_deref().filter(|a| unusual_disposition(a)) {
                traffic.unusual[minute] += count.count;
                *traffic.dispositions.entry(answer.to_string()).or_default() += count.count;
            }
        }
        listeners.push(traffic);
    }
    let times = (0..minutes as i64)
        .map(|m| (range.from + m * MINUTE_MS) / 1000)
        .collect();
    json(
        StatusCode::OK,
        &Traffic {
            times,
            from: format_date(range.from),
            to: format_date(range.to),
            bucket_seconds: MINUTE_MS / 1000,
            listeners,
        },
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn dispositions_other_than_processed_are_unusual_and_http_statuses_are_not() {
        for unusual in [
            "processed/error: decryption-failed",
            "processed/warning: duplicate-document",
            "failed/Failure: unsupported format",
        ] {
            assert!(super::unusual_disposition(unusual), "{unusual}");
        }
        for usual in [
            "processed",
            "200",
            "500",
            "duplicate: the first MDN sent again",
        ] {
            assert!(!super::unusual_disposition(usual), "{usual}");
        }
    }

    #[test]
    fn hours_are_one_to_a_day() {
        assert_eq!(super::hours(""), Ok(1));
        assert_eq!(super::hours("hours=24"), Ok(24));
        for bad in ["hours=0", "hours=25", "hours=x"] {
            assert!(super::hours(bad).is_err(), "{bad}");
        }
    }
}
