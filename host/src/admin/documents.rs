//! Documents through the admin API: search by process, state, date and tracked property; one
//! document's detail; retrying a failed one.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use berth_connector_sdk::query::pairs;
use berth_store::{Query, StoredDocument, Summary};
use http::StatusCode;
use serde_json::{json, Value};

use super::{bad_request, error, json, Admin, Answer};
use crate::documents::{format_date, parse_date, parse_state};

/// The most an answer's text shows; the store keeps the whole.
const ANSWER_TEXT_LIMIT: usize = 64 * 1024;

/// One page of a listing, newest first: `{documents, next_cursor}`. Give `next_cursor` back as
/// `cursor` for the page after; documents that arrive meanwhile do not shift it (see [`Cursor`]).
pub async fn list(admin: &Admin, query: &str, peer: SocketAddr) -> Answer {
    let Some(store) = admin.intake.store().cloned() else {
        return error(StatusCode::CONFLICT, "the message store is off");
    };
    let (mut filter, cursor) = match parse_query(query) {
        Ok(parsed) => parsed,
        Err(message) => return bad_request(peer, &message),
    };
    let limit = filter.limit;
    let shown = cursor.as_ref().map_or(0, |c| c.shown);
    filter.offset = match &cursor {
        Some(cursor) => match newer_than(&store, &filter, &cursor.anchor).await {
            Ok(newer) => newer + cursor.shown,
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        },
        None => 0,
    };
    // One more than asked tells whether there is a next page.
    filter.limit = limit + 1;
    match store.query(&filter).await {
        Ok(mut summaries) => {
            let more = summaries.len() > limit;
            summaries.truncate(limit);
            let anchor = cursor
                .map(|c| c.anchor)
                .or_else(|| summaries.first().map(|s| s.id.clone()));
            let next = match anchor {
                Some(anchor) if more => Some(
                    Cursor {
                        anchor,
                        shown: shown + summaries.len(),
                    }
                    .to_string(),
                ),
                _ => None,
            };
            let list: Vec<Value> = summaries.iter().map(summary_json).collect();
            json(
                StatusCode::OK,
                &json!({ "documents": list, "next_cursor": next }),
            )
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// Where a listing stopped: the newest document of its first page (the anchor) and how many
/// documents from it on were shown. Documents that arrive later are listed above the anchor; the
/// next page starts `shown` documents below wherever the anchor is now, so nothing is visited
/// twice or skipped while documents keep arriving. Spelled `ANCHOR.SHOWN`.
struct Cursor {
    anchor: String,
    shown: usize,
}

impl Cursor {
    fn parse(text: &str) -> Result<Cursor, String> {
        let invalid = || format!("cursor `{text}` is not one this berth gave");
        let (anchor, shown) = text.rsplit_once('.').ok_or_else(invalid)?;
        let shown = shown.parse().map_err(|_| invalid())?;
        if anchor.is_empty() {
            return Err(invalid());
        }
        Ok(Cursor {
            anchor: anchor.to_string(),
            shown,
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.anchor, self.shown)
    }
}

/// How many documents matching `filter` are listed above `anchor` now, looking over at most
/// `ANCHOR_SCAN` of them. An anchor no longer in the listing (purged, or its state changed
/// under a state filter) counts as 0: the page then starts where it would have without arrivals.
async fn newer_than(
    store: &berth_store::Store,
    filter: &Query,
    anchor: &str,
) -> Result<usize, berth_store::StoreError> {
    const CHUNK: usize = 500;
    const ANCHOR_SCAN: usize = 20_000;
    let mut scan = Query {
        limit: CHUNK,
        offset: 0,
        ..filter.clone()
    };
    while scan.offset < ANCHOR_SCAN {
        let page = store.query(&scan).await?;
        if let Some(at) = page.iter().position(|s| s.id == anchor) {
            return Ok(scan.offset + at);
        }
        if page.len() < CHUNK {
            break;
        }
        scan.offset += CHUNK;
    }
    Ok(0)
}

pub async fn show(admin: &Admin, id: &str) -> Answer {
    let Some(store) = admin.intake.store().cloned() else {
        return error(StatusCode::CONFLICT, "the message store is off");
    };
    match store.get(id).await {
        Ok(Some(document)) => json(StatusCode::OK, &detail_json(&document)),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such document"),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

pub async fn retry(admin: &Admin, id: &str) -> Answer {
    if admin.intake.store().is_none() {
        return error(StatusCode::CONFLICT, "the message store is off");
    }
    let ids = [id.to_string()];
    if let Err(e) = admin.intake.retry(&ids, false).await {
        return error(StatusCode::CONFLICT, &e.to_string());
    }
    show(admin, id).await
}

/// The most documents one page holds.
const MAX_LIMIT: usize = 1000;

fn parse_query(query: &str) -> Result<(Query, Option<Cursor>), String> {
    let mut filter = Query {
        limit: 50,
        ..Query::default()
    };
    let mut cursor = None;
    for (name, value) in pairs(query) {
        match name.as_str() {
            "process" if !value.is_empty() => filter.process = Some(value),
            "state" if !value.is_empty() => {
                filter.state = Some(parse_state(&value).map_err(|e| e.to_string())?)
            }
            "since" if !value.is_empty() => filter.from = Some(parse_date(&value)?),
            "until" if !value.is_empty() => filter.to = Some(parse_date(&value)?),
            "limit" => {
                filter.limit = value
                    .parse()
                    .ok()
                    .filter(|limit| (1..=MAX_LIMIT).contains(limit))
                    .ok_or_else(|| format!("limit `{value}`: a number from 1 to {MAX_LIMIT}"))?
            }
            "cursor" if !value.is_empty() => cursor = Some(Cursor::parse(&value)?),
            "property" if !value.is_empty() => {
                let (name, wanted) = value
                    .split_once('=')
                    .ok_or_else(|| format!("property `{value}`: write NAME=VALUE"))?;
                filter
                    .properties
                    .push((name.to_string(), wanted.to_string()));
            }
            _ => {}
        }
    }
    Ok((filter, cursor))
}

fn properties(list: &[(String, String)]) -> BTreeMap<&str, &str> {
    list.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
}

fn summary_json(document: &Summary) -> Value {
    json!({
        "id": document.id,
        "process": document.process,
        "state": document.state.as_str(),
        "received_at": format_date(document.received_at),
        "properties": properties(&document.properties),
        "error": document.error,
        "answer": document.answer,
    })
}

fn detail_json(document: &StoredDocument) -> Value {
    let history: Vec<Value> = document
        .history
        .iter()
        .map(|(at, event)| json!({ "at": format_date(*at), "event": event }))
        .collect();
    let answer = document.answer.as_ref().map(|answer| {
        let shown = &answer.bytes[..answer.bytes.len().min(ANSWER_TEXT_LIMIT)];
        json!({ "summary": answer.summary, "text": String::from_utf8_lossy(shown) })
    });
    json!({
        "id": document.id,
        "process": document.process,
        "state": document.state.as_str(),
        "received_at": format_date(document.received_at),
        "payload_bytes": document.payload.len(),
        "properties": properties(&document.properties),
        "history": history,
        "error": document.error,
        "answer": answer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_with_properties_and_escapes() {
        let (filter, cursor) =
            parse_query("process=orders&property=file_name%3Dpo%201.edi&state=failed&limit=5")
                .unwrap();
        assert!(cursor.is_none());
        assert_eq!(filter.process.as_deref(), Some("orders"));
        assert_eq!(
            filter.properties,
            vec![("file_name".to_string(), "po 1.edi".to_string())]
        );
        assert_eq!(filter.limit, 5);
        assert!(parse_query("state=lost").is_err());
        assert!(parse_query("limit=0").is_err());
        assert!(parse_query("limit=1001").is_err());
    }

    #[test]
    fn cursors_read_back_what_they_wrote() {
        let (_, cursor) = parse_query("cursor=019a2b3c4d5e-00002a.150").unwrap();
        let cursor = cursor.unwrap();
        assert_eq!(
            (cursor.anchor.as_str(), cursor.shown),
            ("019a2b3c4d5e-00002a", 150)
        );
        assert_eq!(cursor.to_string(), "019a2b3c4d5e-00002a.150");
        for bad in ["cursor=abc", "cursor=.5", "cursor=a.b"] {
            assert!(parse_query(bad).is_err(), "{bad}");
        }
    }
}
