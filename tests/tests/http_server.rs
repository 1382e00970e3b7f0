//! The legacy HTTP Server connector through the real binary: what partners get back for every
//! kind of request, and what the process does with the documents.

use std::time::Duration;

use berth_e2e::{client, free_port, tls, Deployment};

const ORDERS: &str = r#"
name: orders
start:
  connector: http-server-legacy
  connection: inbound
  operation:
    path: /orders
    methods: [POST, PUT]
    max_body_bytes: 1024
steps:
  - set_properties:
      order: "${http.query.id:-none}"
  - write_file:
      directory: inbox
      file_name: "order-${order}.xml"
  - return:
      status: 201
      headers:
        x-order: "${order}"
        content-type: text/plain
      body: "stored ${order} from ${http.header.x-partner:-unknown}"
"#;

fn orders_deployment(port: u16) -> Deployment {
    let deployment = Deployment::new();
    deployment
        .http_connection("inbound", port, "")
        .write("processes/orders.yaml", ORDERS);
    deployment
}

#[test]
fn a_post_runs_the_process_and_returns_its_response() {
    let port = free_port();
    let deployment = orders_deployment(port);
    let berth = deployment.start();
    let response = client()
        .post(format!("http://127.0.0.1:{port}/orders?id=42"))
        .header("x-partner", "ACME")
        .body("<order id=\"42\"/>")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 201, "{}", berth.log());
    assert_eq!(response.headers()["x-order"], "42");
    assert_eq!(response.text().unwrap(), "stored 42 from ACME");
    let written = std::fs::read_to_string(deployment.path().join("inbox/order-42.xml")).unwrap();
    assert_eq!(written, "<order id=\"42\"/>");
}

#[test]
fn every_error_gets_its_status() {
    let port = free_port();
    let deployment = orders_deployment(port);
    let _berth = deployment.start();
    let base = format!("http://127.0.0.1:{port}");
    let http = client();

    let unknown = http
        .post(format!("{base}/nowhere"))
        .body("x")
        .send()
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);

    let wrong_method = http.get(format!("{base}/orders")).send().unwrap();
    assert_eq!(wrong_method.status().as_u16(), 405);
    assert_eq!(wrong_method.headers()["allow"], "POST, PUT");

    let too_large = http
        .post(format!("{base}/orders?id=big"))
        .body(vec![b'x'; 1025])
        .send()
        .unwrap();
    assert_eq!(too_large.status().as_u16(), 413);

    let at_limit = http
        .post(format!("{base}/orders?id=limit"))
        .body(vec![b'x'; 1024])
        .send()
        .unwrap();
    assert_eq!(at_limit.status().as_u16(), 201);
}

#[test]
fn a_document_without_a_return_step_gets_an_empty_200_after_the_process_ran() {
    let port = free_port();
    let deployment = Deployment::new();
    deployment.http_connection("inbound", port, "").write(
        "processes/drop.yaml",
        r#"
name: drop
start:
  connector: http-server-legacy
  connection: inbound
  operation: { path: /drop }
steps:
  - write_file: { directory: dropped, file_name: "${http.query.name}" }
"#,
    );
    let _berth = deployment.start();
    let response = client()
        .post(format!("http://127.0.0.1:{port}/drop?name=a.edi"))
        .body("ISA*00")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.text().unwrap(), "");
    assert_eq!(
        std::fs::read(deployment.path().join("dropped/a.edi")).unwrap(),
        b"ISA*00"
    );
}

#[test]
fn a_failing_process_answers_500_with_a_short_reason() {
    let port = free_port();
    let deployment = Deployment::new();
    deployment.http_connection("inbound", port, "").write(
        "processes/needs-name.yaml",
        r#"
name: needs-name
start:
  connector: http-server-legacy
  connection: inbound
  operation: { path: /in }
steps:
  - write_file: { directory: out, file_name: "${http.query.name}" }
"#,
    );
    let berth = deployment.start();
    let response = client()
        .post(format!("http://127.0.0.1:{port}/in"))
        .body("data")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 500);
    let body = response.text().unwrap();
    assert!(body.contains("http.query.name"), "{body}");
    berth.wait_for_log("document failed", Duration::from_secs(5));
}

#[test]
fn a_file_name_from_a_partner_cannot_escape_the_directory() {
    let port = free_port();
    let deployment = Deployment::new();
    deployment.http_connection("inbound", port, "").write(
        "processes/named.yaml",
        r#"
name: named
start:
  connector: http-server-legacy
  connection: inbound
  operation: { path: /in }
steps:
  - write_file: { directory: out, file_name: "${http.query.name}" }
"#,
    );
    let _berth = deployment.start();
    let response = client()
        .post(format!(
            "http://127.0.0.1:{port}/in?name=..%2F..%2Fescaped.txt"
        ))
        .body("data")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(!deployment.path().join("escaped.txt").exists());
    assert!(!deployment
        .path()
        .parent()
        .unwrap()
        .join("escaped.txt")
        .exists());
    let written: Vec<_> = std::fs::read_dir(deployment.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(written.len(), 1, "{written:?}");
    assert!(!written[0].contains('/'), "{written:?}");
}

#[test]
fn basic_authentication_is_enforced() {
    let port = free_port();
    let deployment = Deployment::new();
    deployment
        .http_connection(
            "inbound",
            port,
            "basic_auth:\n  user: partner\n  password: s3cret",
        )
        .write(
            "processes/echo.yaml",
            r#"
name: echo
start:
  connector: http-server-legacy
  connection: inbound
  operation: { path: /echo }
steps:
  - return: { status: 200 }
"#,
        );
    let berth = deployment.start();
    let url = format!("http://127.0.0.1:{port}/echo");
    let http = client();
    let missing = http.post(&url).body("x").send().unwrap();
    assert_eq!(missing.status().as_u16(), 401);
    assert!(missing.headers().contains_key("www-authenticate"));
    let wrong = http
        .post(&url)
        .basic_auth("partner", Some("guess"))
        .body("x")
        .send()
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let right = http
        .post(&url)
        .basic_auth("partner", Some("s3cret"))
        .body("hello")
        .send()
        .unwrap();
    assert_eq!(right.status().as_u16(), 200);
    assert_eq!(right.text().unwrap(), "hello");
    assert!(
        !berth.log().contains("s3cret"),
        "the password reached the log"
    );
}

#[test]
fn https_with_a_pem_certificate_and_key() {
    let port = free_port();
    let deployment = Deployment::new();
    tls::write_self_signed(&deployment.path().join("certs"), "server.pem", "server.key");
    deployment
        .http_connection(
            "secure",
            port,
            "tls:\n  certificate: certs/server.pem\n  private_key: certs/server.key",
        )
        .write(
            "processes/secure.yaml",
            r#"
name: secure
start:
  connector: http-server-legacy
  connection: secure
  operation: { path: /in }
steps:
  - return: { status: 202, body: "over TLS" }
"#,
        );
    let _berth = deployment.start();
    let response = client()
        .post(format!("https://127.0.0.1:{port}/in"))
        .body("x")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    assert_eq!(response.text().unwrap(), "over TLS");
}

#[test]
fn two_processes_share_one_connection_each_on_its_own_path() {
    let port = free_port();
    let deployment = Deployment::new();
    deployment.http_connection("shared", port, "");
    for name in ["invoices", "orders"] {
        deployment.write(
            &format!("processes/{name}.yaml"),
            &format!(
                "name: {name}\nstart:\n  connector: http-server-legacy\n  connection: shared\n  operation: {{ path: /{name} }}\nsteps:\n  - return: {{ status: 200, body: \"{name} got ${{http.path}}\" }}\n"
            ),
        );
    }
    let _berth = deployment.start();
    let http = client();
    for name in ["invoices", "orders"] {
        let response = http
            .post(format!("http://127.0.0.1:{port}/{name}"))
            .body("x")
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.text().unwrap(), format!("{name} got /{name}"));
    }
}

#[test]
fn https_with_a_pkcs12_file() {
    let port = free_port();
    let deployment = Deployment::new();
    tls::write_self_signed_pkcs12(&deployment.path().join("certs"), "server.p12", "s3cret");
    deployment
        .http_connection(
            "secure",
            port,
            "tls:\n  pkcs12: certs/server.p12\n  password: s3cret",
        )
        .write(
            "processes/secure.yaml",
            "name: secure\nstart:\n  connector: http-server-legacy\n  connection: secure\n  operation: { path: /in }\nsteps:\n  - return: { status: 202, body: \"p12\" }\n",
        );
    let berth = deployment.start();
    let response = client()
        .post(format!("https://127.0.0.1:{port}/in"))
        .body("x")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    assert_eq!(response.text().unwrap(), "p12");
    assert!(
        !berth.log().contains("s3cret"),
        "the password reached the log"
    );
}

#[test]
fn a_half_written_tls_section_is_refused_at_its_line() {
    let deployment = Deployment::new();
    deployment
        .http_connection("secure", free_port(), "tls:\n  certificate: certs/server.pem")
        .write(
            "processes/secure.yaml",
            "name: secure\nstart:\n  connector: http-server-legacy\n  connection: secure\n  operation: { path: /in }\n",
        );
    let output = deployment.berth(&["validate"]);
    let text = berth_e2e::output_text(&output);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("connections/secure.yaml:6"), "{text}");
    assert!(text.contains("settings.tls.private_key"), "{text}");
}

#[test]
fn a_folder_can_come_from_properties_but_never_climbs_out() {
    let port = free_port();
    let deployment = Deployment::new();
    deployment.http_connection("inbound", port, "").write(
        "processes/filed.yaml",
        "name: filed\nstart:\n  connector: http-server-legacy\n  connection: inbound\n  operation: { path: /in }\nsteps:\n  - write_file: { directory: \"inbox/${http.query.partner}\", file_name: doc.edi }\n",
    );
    let _berth = deployment.start();
    let send = |partner: &str| {
        client()
            .post(format!("http://127.0.0.1:{port}/in?partner={partner}"))
            .body("data")
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(send("acme"), 200);
    assert!(deployment.path().join("inbox/acme/doc.edi").exists());
    assert_eq!(send("..%2F..%2Fescaped"), 500);
    // A leading slash only makes a deeper folder here: `inbox//etc` is `inbox/etc`.
    assert_eq!(send("%2Fetc"), 200);
    assert!(deployment.path().join("inbox/etc/doc.edi").exists());
    assert!(!deployment.path().join("escaped").exists());
    assert!(!deployment.path().parent().unwrap().join("escaped").exists());
}
