//! The AS2 Server (legacy) through the real binary: its own connection with an HTTP and an HTTPS
//! port serving `/as2` for several partner pairs, with pyas2lib as the trading partner; and the
//! deploy-time checks of its settings.

#[path = "../as2/common.rs"]
mod common;

use std::time::Duration;

use berth_e2e::tls::write_self_signed;
use berth_e2e::{client, free_port, output_text, Deployment};
use common::*;
use serde_json::json;

const DIGESTS: [Option<&str>; 6] = [
    None,
    Some("sha1"),
    Some("sha224"),
    Some("sha256"),
    Some("sha384"),
    Some("sha512"),
];
const CIPHERS: [Option<&str>; 5] = [
    None,
    Some("tripledes_192_cbc"),
    Some("aes_128_cbc"),
    Some("aes_192_cbc"),
    Some("aes_256_cbc"),
];
const MDN_MODES: [&str; 4] = ["sync", "signed", "async-signed", "async"];

fn connection(port: u16, tls_port: u16) -> String {
    format!(
        "name: as2-in\nconnector: as2-server-legacy\nsettings:\n  address: 127.0.0.1\n  \
         port: {port}\n  tls: {{ port: {tls_port}, certificate: keys/tls.pem, private_key: keys/tls.key }}\n"
    )
}

#[test]
fn one_connection_serves_every_partner_over_http_and_https() {
    let (port, tls_port) = (free_port(), free_port());
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    write_self_signed(&keys.dir, "tls.pem", "tls.key");
    deployment.write("connections/as2-in.yaml", &connection(port, tls_port));
    for (name, from) in [("partner", PARTNER), ("second", "SECOND")] {
        deployment.write(
            &format!("processes/{name}.yaml"),
            &process(
                name,
                "as2-server-legacy",
                Some("as2-in"),
                &operation(from, ""),
            ),
        );
    }
    let berth = deployment.start();
    let http = format!("http://127.0.0.1:{port}/as2");
    let https = format!("https://127.0.0.1:{tls_port}/as2");

    let mut cases = Vec::new();
    let mut index = 0;
    for digest in DIGESTS {
        for cipher in CIPHERS {
            let mdn = MDN_MODES[index % MDN_MODES.len()];
            let from = if index % 5 == 4 { "SECOND" } else { PARTNER };
            let id = format!(
                "l{index}-{}-{}-{mdn}",
                digest.unwrap_or("unsigned"),
                cipher.unwrap_or("plain")
            );
            let url = if index % 2 == 0 { &http } else { &https };
            cases.push(
                Case::new(&id, from, index, &keys)
                    .set("digest", json!(digest))
                    .set("enc_alg", json!(cipher))
                    .set("compress", json!(index % 3 == 1))
                    .set("mdn", json!(mdn))
                    .set("mdn_digest", json!(digest.unwrap_or("sha256")))
                    .set("url", json!(url)),
            );
            index += 1;
        }
    }
    let matrix = cases.len();
    cases.push(Case::new("stranger", "NOBODY", 0, &keys));
    cases.push(
        Case::new("wrong-key", PARTNER, 2, &keys)
            .set("enc_alg", json!("aes_192_cbc"))
            .set("encrypt_cert", json!(keys.file("stranger.pem")))
            .set("url", json!(https)),
    );
    let results = send(&http, &cases, deployment.path());
    let lines = received_lines(&berth.log());
    for case in &cases[..matrix] {
        assert_processed(case, &results[&case.id][0], deployment.path(), &lines);
    }
    let path = deployment.path();
    let unknown = "unknown-trading-partner";
    assert_error(
        &cases[matrix],
        &results["stranger"][0],
        "processed/error",
        unknown,
        path,
    );
    let failed = "decryption-failed";
    assert_error(
        &cases[matrix + 1],
        &results["wrong-key"][0],
        "processed/error",
        failed,
        path,
    );
    eprintln!("AS2 Server (legacy): {matrix} matrix messages over HTTP and HTTPS, 2 refusals");

    // The legacy connector serves `/as2` only: account paths belong to the shared server.
    let elsewhere = client()
        .post(format!("http://127.0.0.1:{port}/as2/acct"))
        .body("x")
        .send()
        .unwrap();
    assert_eq!(elsewhere.status().as_u16(), 404);
    berth.terminate(Duration::from_secs(10));
}

#[test]
fn settings_are_checked_at_deploy_time() {
    let deployment = Deployment::new();
    Keys::create(deployment.path());
    deployment.write(
        "connections/as2-in.yaml",
        &connection(free_port(), free_port()),
    );
    deployment
        .write("keys/tls.pem", "")
        .write("keys/tls.key", "");
    for name in ["first", "second"] {
        deployment.write(
            &format!("processes/{name}.yaml"),
            &process(
                name,
                "as2-server-legacy",
                Some("as2-in"),
                &operation(PARTNER, ""),
            ),
        );
    }
    deployment.write(
        "processes/window.yaml",
        &process(
            "window",
            "as2-server-legacy",
            Some("as2-in"),
            &operation("WINDOW", "duplicate_window: 50\nip_filter: [10.0.0.0/33]"),
        ),
    );
    let output = deployment.berth(&["validate"]);
    let text = output_text(&output);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("PARTNER -> BERTH"), "{text}");
    assert!(text.contains("first") && text.contains("second"), "{text}");
    assert!(text.contains("duplicate_window"), "{text}");
    assert!(text.contains("from 100 to 1000000"), "{text}");
    assert!(text.contains("ip_filter"), "{text}");
}
