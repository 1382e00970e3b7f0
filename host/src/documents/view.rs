//! Listing and showing stored documents.

use berth_store::{Delivery, DeliveryState, Query, State, StoreReader, Summary};

use super::dates;

/// Properties shown in a listing: the tracked ones operators search by.
const SHOWN: [&str; 4] = ["as2.from", "message_id", "file_name", "mime_type"];

pub async fn list(store: &StoreReader, query: &Query) -> anyhow::Result<String> {
    let documents = store.query(query).await?;
    let mut out = format!(
        "{:<22} {:<20} {:<24} {:<10} {}\n",
        "ID", "RECEIVED", "PROCESS", "STATE", "PROPERTIES"
    );
    for document in &documents {
        out.push_str(&line(document));
    }
    out.push_str(&format!(
        "{} document{}\n",
        documents.len(),
        if documents.len() == 1 { "" } else { "s" }
    ));
    Ok(out)
}

fn line(document: &Summary) -> String {
    let shown: Vec<String> = document
        .properties
        .iter()
        .filter(|(name, _)| SHOWN.contains(&name.as_str()))
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    let mut text = format!(
        "{:<22} {:<20} {:<24} {:<10} {}",
        document.id,
        dates::format(document.received_at),
        document.process,
        document.state.as_str(),
        shown.join(" ")
    );
    if let Some(answer) = &document.answer {
        text.push_str(&format!("  answer: {answer}"));
    }
    if let Some(error) = &document.error {
        text.push_str(&format!("  error: {error}"));
    }
    text.push('\n');
    text
}

pub async fn show(store: &StoreReader, id: &str) -> anyhow::Result<String> {
    let Some(document) = store.get(id).await? else {
        anyhow::bail!("no document `{id}` in the store");
    };
    let mut out = format!(
        "document   {}\nprocess    {}\nstate      {}\nreceived   {}\npayload    {} bytes\n",
        document.id,
        document.process,
        document.state.as_str(),
        dates::format(document.received_at),
        document.payload.len()
    );
    if let Some(error) = &document.error {
        out.push_str(&format!("error      {error}\n"));
    }
    out.push_str("properties\n");
    for (name, value) in &document.properties {
        out.push_str(&format!("  {name} = {value}\n"));
    }
    out.push_str("history\n");
    for (at, event) in &document.history {
        out.push_str(&format!("  {}  {event}\n", dates::format(*at)));
    }
    match &document.answer {
        Some(answer) => {
            out.push_str(&format!(
                "answer     {} ({} bytes)\n",
                answer.summary,
                answer.bytes.len()
            ));
            let text = String::from_utf8_lossy(&answer.bytes);
            for line in text.lines().take(40) {
                out.push_str(&format!("  | {line}\n"));
            }
        }
        None => out.push_str("answer     none recorded\n"),
    }
    let deliveries = store.deliveries(id).await?;
    if !deliveries.is_empty() {
        out.push_str("deliveries\n");
        for delivery in &deliveries {
            out.push_str(&delivery_lines(delivery));
        }
    }
    Ok(out)
}

/// A delivery (an asynchronous MDN): where it goes, where it stands, and each attempt.
fn delivery_lines(delivery: &Delivery) -> String {
    let request = &delivery.request;
    let mut out = format!(
        "  {} {}  {}",
        request.method,
        request.url,
        delivery.state.as_str()
    );
    match delivery.state {
        DeliveryState::Pending => out.push_str(&format!(
            ", next attempt {}",
            dates::format(delivery.next_attempt_at)
        )),
        DeliveryState::Delivered | DeliveryState::Failed => out.push_str(&format!(
            " after {} attempt{}",
            delivery.attempts.len(),
            if delivery.attempts.len() == 1 {
                ""
            } else {
                "s"
            }
        )),
    }
    out.push_str(&format!(
        "  (listener {}, queued {})\n",
        request.listener,
        dates::format(delivery.created_at)
    ));
    for attempt in &delivery.attempts {
        out.push_str(&format!(
            "    {}  {}\n",
            dates::format(attempt.at),
            attempt.result
        ));
    }
    out
}

/// A state named on the command line.
pub fn parse_state(text: &str) -> anyhow::Result<State> {
    State::parse(text).map_err(|_| {
        anyhow::anyhow!("unknown state `{text}`: use received, processed, failed or duplicate")
    })
}
