//! `GET /api/partners` and `GET /api/certificates`: the AS2 partner pairs deployed, with their
//! last message and today's count from the store, and every certificate and key in use with
//! the days it has left.

use std::collections::BTreeMap;

use berth_store::TrafficQuery;
use http::StatusCode;
use serde_json::{json, Value};

use super::traffic::{last_document, unusual_disposition};
use super::{error, json, Admin, Answer};
use crate::deploy::certs::{days, unix_now, KeyState};
use crate::documents::format_date;

const DAY_MS: i64 = 86_400_000;

pub async fn partners(admin: &Admin) -> Answer {
    let pairs = admin.topology.partners().await;
    let now = jiff::Timestamp::now().as_millisecond();
    // Today as the console shows dates: in UTC.
    let midnight = now.div_euclid(DAY_MS) * DAY_MS;
    let store = admin.intake.store().cloned();
    let mut today: BTreeMap<String, u64> = BTreeMap::new();
    if let Some(store) = &store {
        let range = TrafficQuery {
            from: midnight,
            to: now + 1,
            bucket_ms: DAY_MS,
        };
        match store.traffic(&range).await {
            Ok(counts) => {
                for count in counts {
                    *today.entry(count.process).or_default() += count.count;
                }
            }
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        }
    }
    let mut list = Vec::new();
    for pair in pairs {
        let last = match &store {
            Some(store) => match last_document(store, &pair.process).await {
                Ok(last) => last,
                Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e),
            },
            None => None,
        };
        let unusual = last
            .as_ref()
            .and_then(|l| l.answer.as_deref())
            .is_some_and(unusual_disposition);
        let mut value = serde_json::to_value(&pair).unwrap_or(Value::Null);
        if let Value::Object(fields) = &mut value {
            fields.insert(
                "documents_today".into(),
                json!(store
                    .as_ref()
                    .map(|_| today.get(&pair.process).copied().unwrap_or(0))),
            );
            fields.insert("last".into(), json!(last));
            fields.insert("last_unusual".into(), json!(unusual));
        }
        list.push(value);
    }
    json(
        StatusCode::OK,
        &json!({ "today": format_date(midnight)[..10], "partners": list }),
    )
}

pub async fn certificates(admin: &Admin) -> Answer {
    let (records, warn_days) = admin.topology.certificates();
    let now = unix_now();
    let list: Vec<Value> = records
        .iter()
        .map(|record| {
            let key = match (&record.key_file, record.key) {
                (None, _) | (_, KeyState::NoKey) => None,
                (Some(_), KeyState::Matches) => Some("matches"),
                (Some(_), KeyState::Mismatch) => Some("does not match"),
            };
            let mut value = json!({
                "process": record.process,
                "role": record.role,
                "file": record.file,
                "key_file": record.key_file,
                "key": key,
            });
            let fields = match &record.details {
                Ok(details) => {
                    let left = details.not_after - now;
                    let status = if left < 0 {
                        "expired"
                    } else if left < i64::from(warn_days) * 86_400 {
                        "expiring"
                    } else {
                        "valid"
                    };
                    json!({
                        "subject": details.subject,
                        "fingerprint": details.fingerprint,
                        "not_after": format_date(details.not_after.saturating_mul(1000)),
                        "days_left": days(left),
                        "status": status,
                    })
                }
                Err(reason) => json!({ "status": "unreadable", "error": reason }),
            };
            if let (Value::Object(into), Value::Object(from)) = (&mut value, fields) {
                into.extend(from);
            }
            value
        })
        .collect();
    // Certificates partners sent by certificate exchange, as this node knows them (the
    // store's set, read again every few seconds).
    let stored = admin.intake.exchanged().current();
    let exchanged: Vec<Value> = stored
        .iter()
        .map(|c| crate::cert::exchanged::to_json(&crate::cert::exchanged::describe(c, now), now))
        .collect();
    json(
        StatusCode::OK,
        &json!({ "warn_days": warn_days, "certificates": list, "exchanged": exchanged }),
    )
}
