//! What both AS2 end-to-end test files share: keys made at test time, the pyas2lib sender run
//! from the virtualenv `scripts/test` prepares, and the checks on what berth logged.
//! Included with `#[path]` by tests/tests/as2_*.rs.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use berth_e2e::tls::write_self_signed;
use serde_json::{json, Value};

/// Our AS2 ID in every test deployment.
pub const US: &str = "BERTH";
/// The partner the matrix runs for.
pub const PARTNER: &str = "PARTNER";

/// The Python interpreter of the test virtualenv: never skip silently without it.
pub fn python() -> PathBuf {
    match std::env::var_os("BERTH_TEST_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => panic!(
            "BERTH_TEST_PYTHON is not set: run scripts/test, which creates the Python virtualenv \
             with pyas2lib and exports its interpreter (or export BERTH_TEST_PYTHON=.../bin/python \
             of a virtualenv with pyas2lib installed)"
        ),
    }
}

/// Key files written into a deployment's `keys/` folder: ours (decryption and MDN signing),
/// the partner's, and a stranger's for the negative cases. `*.pem` certificates, `*.key` keys,
/// `*-both.pem` key and certificate together as pyas2lib loads them.
pub struct Keys {
    pub dir: PathBuf,
}

impl Keys {
    pub fn create(deployment: &Path) -> Keys {
        let dir = deployment.join("keys");
        for name in ["berth", "partner", "stranger"] {
            write_self_signed(&dir, &format!("{name}.pem"), &format!("{name}.key"));
            let mut both = std::fs::read(dir.join(format!("{name}.key"))).unwrap();
            both.extend(std::fs::read(dir.join(format!("{name}.pem"))).unwrap());
            std::fs::write(dir.join(format!("{name}-both.pem")), both).unwrap();
        }
        Keys { dir }
    }

    pub fn file(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

/// The operation settings of a partner pair, with our keys, as YAML lines under `operation:`.
pub fn operation(from: &str, extra: &str) -> String {
    let mut text = format!(
        "    as2_from: {from}\n    as2_to: {US}\n    partner_certificate: keys/partner.pem\n\
         \x20   decryption_key: {{ key: keys/berth.key, certificate: keys/berth.pem }}\n\
         \x20   mdn_signing_key: {{ key: keys/berth-both.pem }}\n\
         \x20   archive_directory: archive\n"
    );
    for line in extra.lines().filter(|l| !l.trim().is_empty()) {
        text.push_str("    ");
        text.push_str(line.trim());
        text.push('\n');
    }
    text
}

/// A process for one pair: every document is written to `inbox/` under its AS2 file name and
/// its tracked properties are logged on one line `check_received` reads.
pub fn process(name: &str, connector: &str, connection: Option<&str>, operation: &str) -> String {
    let connection = connection
        .map(|c| format!("  connection: {c}\n"))
        .unwrap_or_default();
    format!(
        "name: {name}\nstart:\n  connector: {connector}\n{connection}  operation:\n{operation}\
         steps:\n  - write_file: {{ directory: inbox, file_name: \"${{file_name}}\" }}\n  \
         - log:\n      level: info\n      message: \"AS2-RECEIVED|${{file_name}}|${{as2.from}}|\
         ${{as2.to}}|${{subject}}|${{message_id}}|${{mime_type}}|${{as2.mic}}|${{as2.security}}|\
         ${{as2.account_id:-none}}|\"\n"
    )
}

/// One message of a batch: how pyas2lib builds it. `payload` decides the content type.
pub struct Case {
    pub id: String,
    pub value: Value,
    pub payload: Vec<u8>,
}

/// Three payload kinds, so that canonicalisation is exercised: EDI text with CRLF, XML text with
/// bare LF, binary bytes (every byte value) sent as application/octet-stream.
pub fn payload(kind: usize, id: &str) -> (Vec<u8>, &'static str, &'static str) {
    match kind % 3 {
        0 => (
            format!("ISA*00*{id}~\r\nGS*PO*tamper-me~\r\nST*850*0001~\r\n").into_bytes(),
            "application/edi-x12",
            "edi",
        ),
        1 => (
            format!("<?xml version=\"1.0\"?>\n<order id=\"{id}\">\n  <line/>\n</order>\n")
                .into_bytes(),
            "application/xml",
            "xml",
        ),
        _ => {
            let mut bytes: Vec<u8> = (0..=255u8).cycle().take(2048).collect();
            bytes.extend_from_slice(id.as_bytes());
            (bytes, "application/octet-stream", "bin")
        }
    }
}

impl Case {
    /// A message from `from` to us with payload kind `kind`, signed with the partner's key when
    /// `digest` is set and encrypted for our certificate when `enc_alg` is set.
    pub fn new(id: &str, from: &str, kind: usize, keys: &Keys) -> Case {
        let (payload, content_type, ext) = payload(kind, id);
        let value = json!({
            "id": id,
            "as2_from": from,
            "as2_to": US,
            "sign_key": keys.file("partner-both.pem"),
            "mdn_verify_cert": keys.file("berth.pem"),
            "encrypt_cert": keys.file("berth.pem"),
            "payload_b64": base64(&payload),
            "content_type": content_type,
            "filename": format!("{id}.{ext}"),
            "subject": format!("test {id}"),
            "mdn": "sync",
        });
        Case {
            id: id.to_string(),
            value,
            payload,
        }
    }

    pub fn set(mut self, key: &str, value: Value) -> Case {
        self.value[key] = value;
        self
    }

    pub fn file_name(&self) -> String {
        self.value["filename"].as_str().unwrap().to_string()
    }
}

/// Send a batch with pyas2lib (one Python process); results by case id, in send order.
pub fn send(url: &str, cases: &[Case], work: &Path) -> HashMap<String, Vec<Value>> {
    send_with(url, cases, work, json!({ "async_wait": 60 }))
}

/// As [`send`], with more of the sender's settings (`mdn_url`, `async_wait`; see send.py).
pub fn send_with(
    url: &str,
    cases: &[Case],
    work: &Path,
    settings: Value,
) -> HashMap<String, Vec<Value>> {
    let mut spec = json!({
        "url": url,
        "cases": cases.iter().map(|c| c.value.clone()).collect::<Vec<_>>(),
    });
    for (key, value) in settings.as_object().cloned().unwrap_or_default() {
        spec[key] = value;
    }
    let spec_file = work.join(format!("batch-{}.json", cases.len()));
    std::fs::write(&spec_file, spec.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("as2/send.py");
    let output = Command::new(python())
        .arg(&script)
        .arg(&spec_file)
        .output()
        .expect("run the pyas2lib sender");
    assert!(
        output.status.success(),
        "pyas2lib sender failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&output.stdout).expect("sender's JSON");
    let mut by_id: HashMap<String, Vec<Value>> = HashMap::new();
    for r in results {
        by_id
            .entry(r["id"].as_str().unwrap().to_string())
            .or_default()
            .push(r);
    }
    by_id
}

/// The properties logged for a received file, by its file name: from, to, subject, Message-ID,
/// MIME type, MIC, security, account.
pub fn received_lines(log: &str) -> HashMap<String, Vec<String>> {
    log.lines()
        .filter_map(|line| {
            let start = line.find("AS2-RECEIVED|")?;
            let fields: Vec<String> = line[start..]
                .split('|')
                .skip(1)
                .map(str::to_string)
                .collect();
            Some((fields.first()?.clone(), fields[1..].to_vec()))
        })
        .collect()
}

/// Assert that a case's single send was `processed` with a verified MIC, that its document
/// reached the process byte for byte and that its tracked properties are right.
pub fn assert_processed(
    case: &Case,
    result: &Value,
    deployment: &Path,
    lines: &HashMap<String, Vec<String>>,
) {
    let id = &case.id;
    assert_eq!(result["http_status"], 200, "{id}: {result}");
    assert_eq!(result["status"], "processed", "{id}: {result}");
    assert_eq!(result["mic_ok"], true, "{id}: MIC not confirmed: {result}");
    let signed_mdn = matches!(case.value["mdn"].as_str(), Some("signed" | "async-signed"));
    assert_eq!(result["mdn_signed"], signed_mdn, "{id}: {result}");
    // pyas2lib puts text into MIME canonical form (CRLF line ends, RFC 5751 3.1.1) whenever it
    // builds a MIME entity around it (signing, encryption, compression); only a bare message
    // travels as written. berth must deliver exactly what travelled.
    let wrapped = ["digest", "enc_alg"]
        .iter()
        .any(|k| !case.value[*k].is_null())
        || case.value["compress"] == true;
    let text = case.value["content_type"] != "application/octet-stream";
    let expected = if wrapped && text {
        crlf(&case.payload)
    } else {
        case.payload.clone()
    };
    let file = deployment.join("inbox").join(case.file_name());
    let written = std::fs::read(&file).unwrap_or_else(|e| panic!("{id}: {}: {e}", file.display()));
    assert!(
        written == expected,
        "{id}: the document differs from what was sent ({} bytes vs {})",
        written.len(),
        expected.len()
    );
    let props = lines
        .get(&case.file_name())
        .unwrap_or_else(|| panic!("{id}: no AS2-RECEIVED line"));
    assert_eq!(props[0], case.value["as2_from"].as_str().unwrap(), "{id}");
    assert_eq!(props[1], US, "{id}");
    assert_eq!(props[2], format!("test {id}"), "{id}");
    assert_eq!(
        props[3],
        format!("<{}>", result["message_id"].as_str().unwrap()),
        "{id}"
    );
    assert_eq!(
        props[4],
        case.value["content_type"].as_str().unwrap(),
        "{id}"
    );
    let mic = result["mic"].as_str().unwrap_or_default();
    assert_eq!(props[5], mic, "{id}: logged MIC vs MDN MIC");
}

/// Assert an error MDN with `detail` (e.g. `decryption-failed`) and no document written.
pub fn assert_error(case: &Case, result: &Value, status: &str, detail: &str, deployment: &Path) {
    let id = &case.id;
    assert_eq!(result["http_status"], 200, "{id}: {result}");
    assert_eq!(result["status"], status, "{id}: {result}");
    assert_eq!(result["detail"], detail, "{id}: {result}");
    assert!(
        !deployment.join("inbox").join(case.file_name()).exists(),
        "{id}: a refused message reached the process"
    );
}

pub fn base64(data: &[u8]) -> String {
    openssl::base64::encode_block(data)
}

/// LF line ends to CRLF (existing CRLFs stay).
pub fn crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    for (i, b) in data.iter().enumerate() {
        if *b == b'\n' && (i == 0 || data[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(*b);
    }
    out
}
