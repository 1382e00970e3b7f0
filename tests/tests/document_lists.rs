//! Document lists that scale, through the admin API of the real binary: paging by cursor
//! visits each of 250 documents once even while more arrive, and each failed document once
//! while others are retried out of the `failed` listing; filters by process, state, property
//! and date range combine with paging.

use std::collections::HashSet;
use std::time::Duration;

use berth_e2e::{client, free_port, Deployment};
use serde_json::Value;

fn process(name: &str) -> String {
    format!(
        "name: {name}\nstart:\n  connector: http-server-legacy\n  connection: inbound\n  \
         operation: {{ path: /{name} }}\nsteps:\n  - return: {{ status: 200, body: ok }}\n"
    )
}

struct Api {
    port: u16,
    token: String,
}

impl Api {
    fn new(deployment: &Deployment, port: u16) -> Api {
        let token = std::fs::read_to_string(deployment.path().join("data/admin.token")).unwrap();
        Api {
            port,
            token: token.trim().to_string(),
        }
    }

    fn get(&self, query: &str) -> (u16, Value) {
        let response = client()
            .get(format!(
                "http://127.0.0.1:{}/api/documents?{query}",
                self.port
            ))
            .bearer_auth(&self.token)
            .send()
            .unwrap();
        let status = response.status().as_u16();
        (
            status,
            serde_json::from_str(&response.text().unwrap()).unwrap(),
        )
    }

    /// The ids of a page's documents.
    fn ids(page: &Value) -> Vec<String> {
        page["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// Retries a failed document; its state after.
    fn retry(&self, id: &str) -> String {
        let response = client()
            .post(format!(
                "http://127.0.0.1:{}/api/documents/{id}/retry",
                self.port
            ))
            .bearer_auth(&self.token)
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let body: Value = serde_json::from_str(&response.text().unwrap()).unwrap();
        body["state"].as_str().unwrap().to_string()
    }

    /// Every page of `query` with `limit` per page; `between` runs after the first page.
    fn pages(&self, query: &str, limit: usize, mut between: impl FnMut()) -> Vec<Vec<String>> {
        let mut page_number = 0;
        self.pages_with(query, limit, |_, _| {
            page_number += 1;
            if page_number == 1 {
                between();
            }
        })
    }

    /// Every page of `query` with `limit` per page; `between` runs after each page, given the
    /// page's ids and the cursor of the next one.
    fn pages_with(
        &self,
        query: &str,
        limit: usize,
        mut between: impl FnMut(&[String], Option<&str>),
    ) -> Vec<Vec<String>> {
        let mut pages = Vec::new();
        let mut cursor: Option<String> = None;
        // Bounded: 250 documents at 40 a page are 7 pages.
        for _ in 0..50 {
            let mut url = format!("{query}&limit={limit}");
            if let Some(cursor) = &cursor {
                url.push_str(&format!("&cursor={cursor}"));
            }
            let (status, page) = self.get(&url);
            assert_eq!(status, 200, "{page}");
            let ids = Api::ids(&page);
            assert!(ids.len() <= limit);
            between(&ids, page["next_cursor"].as_str());
            pages.push(ids);
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return pages,
            }
        }
        panic!("paging never ended");
    }
}

fn post(port: u16, path: &str, file_name: &str) {
    let response = client()
        .post(format!("http://127.0.0.1:{port}{path}"))
        .header(
            "content-disposition",
            format!("attachment; filename=\"{file_name}\""),
        )
        .body(file_name.to_string())
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[test]
fn paging_visits_each_of_250_documents_once_while_more_arrive() {
    let (port, admin) = (free_port(), free_port());
    let deployment = Deployment::new();
    deployment
        .write(
            "berth.yaml",
            &format!("admin:\n  address: 127.0.0.1\n  port: {admin}\n"),
        )
        .http_connection("inbound", port, "")
        .write("processes/orders.yaml", &process("orders"))
        .write("processes/invoices.yaml", &process("invoices"));
    let berth = deployment.start();
    for i in 0..250 {
        post(port, "/orders", &format!("order-{i}.edi"));
    }
    for i in 0..7 {
        post(port, "/invoices", &format!("invoice-{i}.edi"));
    }
    let api = Api::new(&deployment, admin);

    // Documents that arrive while an operator pages are not shown on later pages, and shift
    // nothing: every one of the 250 is visited once.
    let pages = api.pages("process=orders", 40, || {
        for i in 0..5 {
            post(port, "/orders", &format!("late-{i}.edi"));
        }
    });
    assert_eq!(pages.len(), 7, "250 at 40 a page");
    let visited: Vec<&String> = pages.iter().flatten().collect();
    let unique: HashSet<&String> = visited.iter().copied().collect();
    assert_eq!(visited.len(), 250, "each document once");
    assert_eq!(unique.len(), 250, "no document twice");
    // Newest first, as ids sort by arrival.
    let mut sorted = visited.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(visited, sorted);

    // A fresh listing starts at the newest, late arrivals included.
    let all = api.pages("process=orders", 100, || {});
    assert_eq!(all.iter().flatten().count(), 255);

    // Filters: a property, a state, a date range; each combines with paging.
    let (_, found) = api.get("process=orders&property=file_name%3Dorder-17.edi");
    assert_eq!(found["documents"].as_array().unwrap().len(), 1, "{found}");
    assert!(found["next_cursor"].is_null());
    let processed = api.pages("state=processed", 100, || {});
    assert_eq!(
        processed.iter().flatten().count(),
        262,
        "every document is processed"
    );
    let (_, failed) = api.get("state=failed");
    assert!(failed["documents"].as_array().unwrap().is_empty());
    let today = today_utc();
    let (_, from_today) = api.get(&format!("since={today}&process=invoices"));
    assert_eq!(from_today["documents"].as_array().unwrap().len(), 7);
    let (_, before_today) = api.get(&format!("until={today}"));
    assert!(before_today["documents"].as_array().unwrap().is_empty());

    // Bad input is refused with the reason.
    for bad in [
        "limit=0",
        "limit=5000",
        "cursor=nonsense",
        "cursor=k-1",
        "cursor=kffffffffffffffffff",
        "state=lost",
    ] {
        let (status, body) = api.get(bad);
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    // A cursor this berth did not give is logged with the reason and the peer.
    berth.wait_for_log("cursor `k-1`", Duration::from_secs(10));
    let log = berth.log();
    let logged = log
        .lines()
        .find(|l| l.contains("cursor `k-1`"))
        .unwrap_or_else(|| panic!("the refused cursor is not logged:\n{log}"));
    assert!(
        logged.contains("bad request refused")
            && logged.contains("peer")
            && logged.contains("127.0.0.1:"),
        "{logged}"
    );
}

/// An operator pages through the failed documents while a colleague retries some of them
/// (they leave the `failed` listing): the shown ones and those further down alike. Every
/// document still failed when its page comes is visited once, none twice.
#[test]
fn paging_failed_documents_while_some_are_retried_visits_each_remaining_one_once() {
    let (port, admin) = (free_port(), free_port());
    let deployment = Deployment::new();
    // The process writes into `outbox`; a plain file in its place fails every document until
    // it is removed, after which a retry succeeds.
    let flaky = "name: flaky\nstart:\n  connector: http-server-legacy\n  connection: inbound\n  \
         operation: { path: /flaky }\nsteps:\n  - write_file: { directory: outbox, \
         file_name: \"${file_name}\" }\n  - return: { status: 200, body: ok }\n";
    deployment
        .write(
            "berth.yaml",
            &format!("admin:\n  address: 127.0.0.1\n  port: {admin}\n"),
        )
        .http_connection("inbound", port, "")
        .write("processes/flaky.yaml", flaky)
        .write("processes/orders.yaml", &process("orders"))
        .write("outbox", "not a folder");
    let berth = deployment.start();
    let failed: Vec<String> = (0..30).map(|i| format!("failed-{i:02}.edi")).collect();
    for (i, name) in failed.iter().enumerate() {
        let response = client()
            .post(format!("http://127.0.0.1:{port}/flaky"))
            .header(
                "content-disposition",
                format!("attachment; filename=\"{name}\""),
            )
            .body(name.clone())
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), 500, "{}", berth.log());
        // Processed documents between the failed ones, which the filter leaves out.
        post(port, "/orders", &format!("fine-{i}.edi"));
    }
    std::fs::remove_file(deployment.path().join("outbox")).unwrap();
    let api = Api::new(&deployment, admin);

    // After each page: retry its first document (already shown) and the next two not shown
    // yet. With an offset, each would shift the listing under the operator.
    let mut retried_unseen = Vec::new();
    let pages = api.pages_with("state=failed", 4, |shown, next| {
        let Some(next) = next else { return };
        let (status, below) = api.get(&format!("state=failed&limit=2&cursor={next}"));
        assert_eq!(status, 200, "{below}");
        let below = Api::ids(&below);
        for id in shown.iter().take(1).chain(&below) {
            assert_eq!(api.retry(id), "processed", "{}", berth.log());
        }
        retried_unseen.extend(below);
    });
    let visited: Vec<&String> = pages.iter().flatten().collect();
    let unique: HashSet<&String> = visited.iter().copied().collect();
    assert_eq!(unique.len(), visited.len(), "no document twice: {pages:?}");
    assert!(
        !retried_unseen.is_empty() && retried_unseen.iter().all(|id| !unique.contains(id)),
        "a document retried before its page is not shown: {pages:?}"
    );
    // Every failed document is either visited or was retried before its page came.
    let (_, all) = api.get("limit=1000");
    let all = all["documents"].as_array().unwrap().clone();
    let failed_ids: Vec<&str> = all
        .iter()
        .filter(|d| {
            let name = d["properties"]["file_name"].as_str().unwrap_or("");
            name.starts_with("failed-")
        })
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(failed_ids.len(), 30);
    for id in &failed_ids {
        let id = id.to_string();
        assert!(
            unique.contains(&id) != retried_unseen.contains(&id),
            "{id}: visited once or retried before its page, not both or neither: {pages:?}"
        );
    }
    // Newest first, as ids sort by arrival.
    let mut sorted = visited.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(visited, sorted);
}

/// Today's date in UTC, `YYYY-MM-DD`, from the system clock (days since the epoch to a civil
/// date, Howard Hinnant's algorithm), without a date crate in the tests.
fn today_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
