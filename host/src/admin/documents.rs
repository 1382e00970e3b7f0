//! Documents through the admin API: search by process, state, date and tracked property; one
//! document's detail; retrying a failed one.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use berth_connector_sdk::query::pairs;
use berth_store::{Delivery, DeliveryState, Query, StoredDocument, Summary};
use http::StatusCode;
use serde_json::{json, Value};

use super::{bad_request, error, json, Admin, Answer};
use crate::documents::{format_date, parse_date, parse_state};

/// The most an answer's text shows; the store keeps the whole.
const ANSWER_TEXT_LIMIT: usize = 64 * 1024;

/// One page of a listing, newest first: `{documents, next_cursor}`. Give `next_cursor` back as
/// `cursor` for the page after; documents that arrive meanwhile or leave the filter do not
/// shift it (see [`Cursor`]).
pub async fn list(admin: &Admin, query: &str, peer: SocketAddr) -> Answer {
    let Some(store) = admin.intake.store().cloned() else {
        return error(StatusCode::CONFLICT, "the message store is off");
    };
    let (mut filter, cursor) = match parse_query(query) {
        Ok(parsed) => parsed,
        Err(message) => return bad_request(peer, &message),
    };
    let limit = filter.limit;
    filter.older_than = cursor.map(|c| c.older_than);
    // One more than asked tells whether there is a next page.
    filter.limit = limit + 1;
    match store.query(&filter).await {
        Ok(mut summaries) => {
            let more = summaries.len() > limit;
            summaries.truncate(limit);
            let next = match summaries.last() {
                Some(last) if more => Some(
                    Cursor {
                        older_than: last.seq,
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

/// Where a listing stopped: the store's place of the last document shown (a keyset bound, see
/// [`Query::older_than`]). The next page is the documents below that place that match the
/// filter then: one that arrived since is above it, one that left the filter is simply not
/// there, and neither moves the others, so paging shows each document that stays listed once.
/// Spelled `k` and the place in hex; opaque to clients, which only give it back.
struct Cursor {
    older_than: i64,
}

impl Cursor {
    const PREFIX: char = 'k';

    fn parse(text: &str) -> Result<Cursor, String> {
        let invalid = || format!("cursor `{text}` is not one this berth gave");
        let hex = text.strip_prefix(Self::PREFIX).ok_or_else(invalid)?;
        // from_str_radix takes a sign, which no cursor this berth gave has.
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        let older_than = i64::from_str_radix(hex, 16).map_err(|_| invalid())?;
        Ok(Cursor { older_than })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{:x}", Self::PREFIX, self.older_than)
    }
}

pub async fn show(admin: &Admin, id: &str) -> Answer {
    let Some(store) = admin.intake.store().cloned() else {
        return error(StatusCode::CONFLICT, "the message store is off");
    };
    let document = match store.get(id).await {
        Ok(Some(document)) => document,
        Ok(None) => return error(StatusCode::NOT_FOUND, "no such document"),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    match store.deliveries(id).await {
        Ok(deliveries) => json(StatusCode::OK, &detail_json(&document, &deliveries)),
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

/// A delivery (an asynchronous MDN) with its attempts; `next_attempt_at` only while pending.
fn delivery_json(delivery: &Delivery) -> Value {
    let attempts: Vec<Value> = delivery
        .attempts
        .iter()
        .map(|a| json!({ "at": format_date(a.at), "result": a.result }))
        .collect();
    let next =
        (delivery.state == DeliveryState::Pending).then(|| format_date(delivery.next_attempt_at));
    json!({
        "method": delivery.request.method,
        "url": delivery.request.url,
        "listener": delivery.request.listener,
        "state": delivery.state.as_str(),
        "created_at": format_date(delivery.created_at),
        "next_attempt_at": next,
        "attempts": attempts,
    })
}

fn detail_json(document: &StoredDocument, deliveries: &[Delivery]) -> Value {
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
        "deliveries": deliveries.iter().map(delivery_json).collect::<Vec<_>>(),
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
        let (_, cursor) = parse_query("cursor=k2a").unwrap();
        let cursor = cursor.unwrap();
        assert_eq!(cursor.older_than, 42);
        assert_eq!(cursor.to_string(), "k2a");
        let biggest = Cursor {
            older_than: i64::MAX,
        };
        assert_eq!(
            Cursor::parse(&biggest.to_string()).unwrap().older_than,
            i64::MAX
        );
        for bad in [
            "cursor=abc",
            "cursor=k",
            "cursor=k-1",
            "cursor=k+1",
            "cursor=kzz",
            "cursor=K2a",
            "cursor=k10000000000000000",
            "cursor=019a2b3c4d5e-00002a.150",
        ] {
            assert!(parse_query(bad).is_err(), "{bad}");
        }
    }
}
