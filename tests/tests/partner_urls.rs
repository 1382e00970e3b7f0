//! The URLs partners send to, for each connector kind, as operators see them: in the start-up
//! log, `berth listeners` and `/api/listeners`. A wildcard address shows this machine's host
//! name, the shared web server's `base_url` wins when set, and every URL carries the path the
//! operation serves.

#[path = "../as2/common.rs"]
mod common;

use std::collections::BTreeMap;
use std::process::Command;

use berth_e2e::tls::write_self_signed;
use berth_e2e::{berth_binary, client, free_port, output_text, Deployment};
use common::{operation, process, Keys};

/// This machine's host name, as berth reads it.
fn host_name() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its length; we stop at the first NUL.
    let rc = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    assert_eq!(rc, 0, "gethostname");
    let end = buffer.iter().position(|&b| b == 0).unwrap();
    String::from_utf8(buffer[..end].to_vec()).unwrap()
}

struct Ports {
    admin: u16,
    web: u16,
    as2: u16,
    as2_tls: u16,
    shared: u16,
}

/// One deployment with every connector kind: the HTTP Server on a wildcard address with two
/// paths, the legacy AS2 server on loopback with an HTTPS port, the AS2 Shared Server.
fn deployment(ports: &Ports, base_url: Option<&str>) -> Deployment {
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    write_self_signed(&keys.dir, "tls.pem", "tls.key");
    let base_url = base_url
        .map(|url| format!("  base_url: {url}\n"))
        .unwrap_or_default();
    deployment
        .write(
            "berth.yaml",
            &format!(
                "admin:\n  address: 127.0.0.1\n  port: {}\nshared_server:\n  address: 127.0.0.1\n  port: {}\n{base_url}",
                ports.admin, ports.shared
            ),
        )
        .write(
            "connections/web.yaml",
            &format!(
                "name: web\nconnector: http-server-legacy\nsettings:\n  address: 0.0.0.0\n  port: {}\n",
                ports.web
            ),
        )
        .write(
            "connections/as2-in.yaml",
            &format!(
                "name: as2-in\nconnector: as2-server-legacy\nsettings:\n  address: 127.0.0.1\n  \
                 port: {}\n  tls: {{ port: {}, certificate: keys/tls.pem, private_key: keys/tls.key }}\n",
                ports.as2, ports.as2_tls
            ),
        );
    for name in ["orders", "invoices"] {
        deployment.write(
            &format!("processes/{name}.yaml"),
            &format!(
                "name: {name}\nstart:\n  connector: http-server-legacy\n  connection: web\n  \
                 operation: {{ path: /in/{name} }}\nsteps:\n  - return: {{ status: 200, body: {name} }}\n"
            ),
        );
    }
    deployment
        .write(
            "processes/legacy.yaml",
            &process(
                "legacy",
                "as2-server-legacy",
                Some("as2-in"),
                &operation("LEGACY", ""),
            ),
        )
        .write(
            "processes/shared.yaml",
            &process(
                "shared",
                "as2-shared-server",
                None,
                &operation("SHARED", ""),
            ),
        );
    deployment
}

fn ports() -> Ports {
    Ports {
        admin: free_port(),
        web: free_port(),
        as2: free_port(),
        as2_tls: free_port(),
        shared: free_port(),
    }
}

/// What each process's partners should be given.
fn expected(ports: &Ports, shared_base: &str) -> BTreeMap<String, Vec<String>> {
    let host = host_name();
    [
        (
            "orders",
            vec![format!("http://{host}:{}/in/orders", ports.web)],
        ),
        (
            "invoices",
            vec![format!("http://{host}:{}/in/invoices", ports.web)],
        ),
        (
            "legacy",
            vec![
                format!("http://127.0.0.1:{}/as2", ports.as2),
                format!("https://127.0.0.1:{}/as2", ports.as2_tls),
            ],
        ),
        (
            "shared",
            vec![
                format!("{shared_base}/as2"),
                format!("{shared_base}/as2/{{account-id}}"),
            ],
        ),
    ]
    .into_iter()
    .map(|(name, urls)| (name.to_string(), urls))
    .collect()
}

fn api_urls(deployment: &Deployment, admin: u16) -> BTreeMap<String, Vec<String>> {
    let token = std::fs::read_to_string(deployment.path().join("data/admin.token")).unwrap();
    let body = client()
        .get(format!("http://127.0.0.1:{admin}/api/listeners"))
        .bearer_auth(token.trim())
        .send()
        .unwrap()
        .text()
        .unwrap();
    let listeners: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    listeners
        .iter()
        .map(|l| {
            let urls = l["urls"].as_array().unwrap();
            (
                l["name"].as_str().unwrap().to_string(),
                urls.iter()
                    .map(|u| u.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

fn cli_listeners(deployment: &Deployment) -> String {
    let output = Command::new(berth_binary())
        .args(["listeners", "--dir"])
        .arg(deployment.path())
        .output()
        .unwrap();
    let text = output_text(&output);
    assert!(output.status.success(), "{text}");
    text
}

/// The API, the CLI and the start-up log all give `expected`, and nothing shows `0.0.0.0`.
fn check_everywhere(
    deployment: &Deployment,
    berth: &berth_e2e::Berth,
    admin: u16,
    expected: &BTreeMap<String, Vec<String>>,
) {
    assert_eq!(&api_urls(deployment, admin), expected);

    let table = cli_listeners(deployment);
    for (name, urls) in expected {
        for url in urls {
            assert!(table.contains(url), "`{name}`: {url} missing from\n{table}");
        }
    }
    assert!(!table.contains("0.0.0.0"), "{table}");

    // JSON log lines, so that colours never get between a field and its value.
    let lines: Vec<serde_json::Value> = berth
        .log()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    for (name, urls) in expected {
        let line = lines
            .iter()
            .find(|l| {
                l["fields"]["listener"] == name.as_str()
                    && l["fields"]["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("partners send to"))
            })
            .unwrap_or_else(|| panic!("no partner URL line for `{name}`:\n{}", berth.log()));
        assert_eq!(line["fields"]["urls"], urls.join(" "), "{line}");
    }
    let listening: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("listening"))
        })
        .collect();
    assert_eq!(listening.len(), 4, "four ports bound: {listening:?}");
    for line in listening {
        let url = line["fields"]["url"].as_str().unwrap();
        assert!(!url.contains("0.0.0.0"), "{line}");
    }
}

#[test]
fn every_connector_kind_shows_the_urls_partners_send_to() {
    let ports = ports();
    let deployment = deployment(&ports, None);
    let berth = deployment.start_with(&["--log-format", "json"]);
    let expected = expected(&ports, &format!("http://127.0.0.1:{}", ports.shared));
    check_everywhere(&deployment, &berth, ports.admin, &expected);

    // The URLs are real: the shown path answers (reached over loopback, as tests only talk
    // there), and a path that is not shown does not.
    let post = |path: &str| {
        client()
            .post(format!("http://127.0.0.1:{}{path}", ports.web))
            .body("x")
            .send()
            .unwrap()
    };
    let answer = post("/in/orders");
    assert_eq!(answer.status().as_u16(), 200);
    assert_eq!(answer.text().unwrap(), "orders");
    assert_eq!(post("/orders").status().as_u16(), 404);
}

#[test]
fn the_shared_servers_base_url_is_what_partners_are_given() {
    let ports = ports();
    let deployment = deployment(&ports, Some("https://as2.example.com/"));
    let berth = deployment.start_with(&["--log-format", "json"]);
    let expected = expected(&ports, "https://as2.example.com");
    check_everywhere(&deployment, &berth, ports.admin, &expected);
}
