//! Documents through the admin API: search by process, state, date and tracked property; one
//! document's detail; retrying a failed one.

use std::collections::BTreeMap;

use berth_connector_sdk::query::pairs;
use berth_store::{Query, StoredDocument, Summary};
use http::StatusCode;
use serde_json::{json, Value};

use super::{error, json, Admin, Answer};
use crate::documents::{format_date, parse_date, parse_state};

/// The most an answer's text shows; the store keeps the whole.
const ANSWER_TEXT_LIMIT: usize = 64 * 1024;

pub async fn list(admin: &Admin, query: &str) -> Answer {
    let Some(store) = admin.intake.store().cloned() else {
        return error(StatusCode::CONFLICT, "the message store is off");
    };
    let filter = match parse_query(query) {
        Ok(filter) => filter,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    match store.query(&filter).await {
        Ok(summaries) => {
            let list: Vec<Value> = summaries.iter().map(summary_json).collect();
            json(StatusCode::OK, &list)
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
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

fn parse_query(query: &str) -> Result<Query, String> {
    let mut filter = Query {
        limit: 50,
        ..Query::default()
    };
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
                    .map_err(|_| format!("limit `{value}` is not a number"))?
            }
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
    Ok(filter)
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
        let filter =
            parse_query("process=orders&property=file_name%3Dpo%201.edi&state=failed&limit=5")
                .unwrap();
        assert_eq!(filter.process.as_deref(), Some("orders"));
        assert_eq!(
            filter.properties,
            vec![("file_name".to_string(), "po 1.edi".to_string())]
        );
        assert_eq!(filter.limit, 5);
        assert!(parse_query("state=lost").is_err());
    }
}
