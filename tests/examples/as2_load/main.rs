//! The AS2 benchmark's partner (scripts/bench-as2): builds signed (SHA-256) and encrypted
//! (AES-256-CBC) AS2 messages that ask for a signed synchronous MDN, as a trading partner would,
//! with the openssl crate, then POSTs them to berth and checks every MDN's disposition.
//!
//!   as2_load throughput URL CERTS MESSAGES WARMUP CONNECTIONS SIZE
//!       pre-generates WARMUP + MESSAGES distinct messages of SIZE payload bytes (not timed),
//!       sends the WARMUP ones, then the others over CONNECTIONS keep-alive connections, timed.
//!       Prints `messages/s: X` (messages whose MDN says `processed`, per second).
//!   as2_load throughput URL CERTS MESSAGES WARMUP CONNECTIONS SIZE BERTH_PID
//!       the same, and berth's own CPU time over the timed messages only (from /proc, so this
//!       generator's share does not count): `berth_cpu_user_s: U`, `berth_cpu_system_s: S`,
//!       and one `berth_thread: NAME USER SYSTEM` line per thread name.
//!   as2_load big URL CERTS SIZE
//!       one message of SIZE payload bytes; prints its body size and the wall time from the
//!       first byte sent to the last byte of the MDN, as `body_bytes: N` and `seconds: T`.
//!
//!   as2_load crypto - CERTS
//!       single-thread cost of the CMS operations berth does per message (diagnostics).
//!
//! CERTS is a folder with the demo keys of scripts/demo-certs: `partner-acme.pem` (the
//! partner's key and certificate, signs), `berth.crt` (encrypts to, and verifies the MDN).
//! The MDN's signature and its Received-Content-MIC are verified on a sample of the answers.
//! Any answer other than a `processed` MDN is counted and printed; the exit status is 1 then.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use openssl::base64;
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::pkey::{PKey, Private};
use openssl::sha::sha256;
use openssl::stack::Stack;
use openssl::symm::Cipher;
use openssl::x509::X509;

use berth_e2e::cpu::CpuSnapshot;

mod crypto;

struct Keys {
    partner_key: PKey<Private>,
    partner_cert: X509,
    berth_cert: X509,
}

impl Keys {
    fn load(dir: &Path) -> Keys {
        let pem = std::fs::read(dir.join("partner-acme.pem")).expect("partner-acme.pem");
        let berth = std::fs::read(dir.join("berth.crt")).expect("berth.crt");
        Keys {
            partner_key: PKey::private_key_from_pem(&pem).expect("partner key"),
            partner_cert: X509::from_pem(&pem).expect("partner certificate"),
            berth_cert: X509::from_pem(&berth).expect("berth certificate"),
        }
    }
}

/// One message ready for the wire, with what its MDN must report.
struct Message {
    message_id: String,
    /// base64 SHA-256 of the signed entity: the Received-Content-MIC berth must send back.
    mic: String,
    /// The whole HTTP request: head and body.
    request: Vec<u8>,
    body_len: usize,
}

fn build(keys: &Keys, host: &str, path: &str, message_id: &str, payload: &[u8]) -> Message {
    let boundary = format!(
        "----=_berth_bench_{}",
        message_id.len() * 7919 + payload.len()
    );
    // The payload entity, signed as sent (binary, no canonicalisation).
    let mut part = b"Content-Type: application/edi-x12\r\nContent-Transfer-Encoding: binary\r\n\
Content-Disposition: attachment; filename=\"order.edi\"\r\n\r\n"
        .to_vec();
    part.extend_from_slice(payload);
    let flags = CMSOptions::DETACHED | CMSOptions::BINARY;
    // CMS_sign's default digest for an RSA key is SHA-256 (OpenSSL 3).
    let sig = CmsContentInfo::sign(
        Some(&keys.partner_cert),
        Some(&keys.partner_key),
        None,
        Some(&part),
        flags,
    )
    .and_then(|c| c.to_der())
    .expect("sign");
    let mic = base64::encode_block(&sha256(&part));
    let mut signed = format!(
        "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; \
micalg=sha-256; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n"
    )
    .into_bytes();
    signed.extend_from_slice(&part);
    drop(part);
    signed.extend_from_slice(
        format!(
            "\r\n--{boundary}\r\nContent-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n\
Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"smime.p7s\"\r\n\r\n\
{}\r\n--{boundary}--\r\n",
            base64::encode_block(&sig)
        )
        .as_bytes(),
    );
    let mut certs = Stack::new().unwrap();
    certs.push(keys.berth_cert.clone()).unwrap();
    let body = CmsContentInfo::encrypt(&certs, &signed, Cipher::aes_256_cbc(), CMSOptions::BINARY)
        .and_then(|c| c.to_der())
        .expect("encrypt");
    drop(signed);
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\
Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"\r\n\
Content-Transfer-Encoding: binary\r\nContent-Disposition: attachment; filename=\"smime.p7m\"\r\n\
Mime-Version: 1.0\r\nAS2-Version: 1.2\r\nAS2-From: ACME\r\nAS2-To: BERTH\r\n\
Message-ID: {message_id}\r\nSubject: bench order\r\n\
Disposition-Notification-To: bench@partner.example\r\n\
Disposition-Notification-Options: signed-receipt-protocol=optional, pkcs7-signature; \
signed-receipt-micalg=optional, sha-256\r\n\r\n",
        body.len()
    );
    let mut request = Vec::with_capacity(head.len() + body.len());
    request.extend_from_slice(head.as_bytes());
    request.extend_from_slice(&body);
    Message {
        message_id: message_id.to_string(),
        mic,
        request,
        body_len: body.len(),
    }
}

/// An EDI-like payload of `size` bytes, different for every message.
fn payload(size: usize, id: &str) -> Vec<u8> {
    let mut out = format!("ISA*00*{id}~\r\n").into_bytes();
    let mut line = 0u64;
    while out.len() < size {
        out.extend_from_slice(format!("PO1*{line}*10*EA*9.25**BP*{id}~\r\n").as_bytes());
        line += 1;
    }
    out.truncate(size);
    out
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_answer(reader: &mut BufReader<TcpStream>) -> std::io::Result<Answer> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((n, v)) = l.split_once(':') {
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// The disposition of an MDN answer, e.g. `processed` or `processed/error: decryption-failed`.
fn disposition(answer: &Answer) -> String {
    let text = String::from_utf8_lossy(&answer.body);
    text.lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim().eq_ignore_ascii_case("disposition").then(|| {
                value
                    .split_once(';')
                    .map_or(value, |(_, d)| d)
                    .trim()
                    .to_string()
            })
        })
        .unwrap_or_else(|| format!("no MDN (HTTP {})", answer.status))
}

/// Verifies the MDN's signature with berth's certificate and its Received-Content-MIC.
fn verify_mdn(keys: &Keys, message: &Message, answer: &Answer) -> Result<(), String> {
    let ct = answer
        .header("content-type")
        .ok_or("MDN without Content-Type")?;
    if !ct.to_ascii_lowercase().starts_with("multipart/signed") {
        return Err(format!("MDN not signed: {ct}"));
    }
    let boundary = ct
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .ok_or("no boundary")?
        .trim_matches('"');
    let delim = format!("--{boundary}\r\n");
    let body = &answer.body;
    let find = |hay: &[u8], needle: &[u8], from: usize| {
        hay[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    };
    let start = find(body, delim.as_bytes(), 0).ok_or("no first part")? + delim.len();
    let sep = format!("\r\n--{boundary}");
    let end = find(body, sep.as_bytes(), start).ok_or("no second part")?;
    let signed = &body[start..end];
    let sig_part = &body[end + sep.len()..];
    let sig_start = find(sig_part, b"\r\n\r\n", 0).ok_or("signature part without body")? + 4;
    let sig_end =
        find(sig_part, format!("--{boundary}--").as_bytes(), sig_start).ok_or("unterminated")?;
    let b64: String = String::from_utf8_lossy(&sig_part[sig_start..sig_end])
        .split_whitespace()
        .collect();
    let der = base64::decode_block(&b64).map_err(|e| e.to_string())?;
    let mut cms = CmsContentInfo::from_der(&der).map_err(|e| e.to_string())?;
    let mut certs = Stack::new().unwrap();
    certs.push(keys.berth_cert.clone()).unwrap();
    let flags = CMSOptions::NOINTERN | CMSOptions::NO_SIGNER_CERT_VERIFY | CMSOptions::BINARY;
    cms.verify(Some(&certs), None, Some(signed), None, flags)
        .map_err(|e| format!("MDN signature: {e}"))?;
    let text = String::from_utf8_lossy(signed);
    let mic = text
        .lines()
        .find_map(|l| l.strip_prefix("Received-Content-MIC:"))
        .ok_or("no Received-Content-MIC")?;
    let expected = format!("{}, sha-256", message.mic);
    if mic.trim() != expected {
        return Err(format!("MIC {mic:?}, expected {expected:?}"));
    }
    if !text.contains(&message.message_id) {
        return Err("MDN does not name the Message-ID".into());
    }
    Ok(())
}

fn split_url(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").expect("http:// URL");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    (host.to_string(), format!("/{path}"))
}

fn generate(keys: &Keys, url: &str, count: usize, size: usize, tag: &str) -> Vec<Message> {
    let (host, path) = split_url(url);
    let run = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = AtomicUsize::new(0);
    let out = Mutex::new(Vec::with_capacity(count));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let id = format!("<bench-{run}-{tag}-{i}@partner.example>");
                let m = build(
                    keys,
                    &host,
                    &path,
                    &id,
                    &payload(size, &format!("{tag}{i}")),
                );
                out.lock().unwrap().push(m);
            });
        }
    });
    out.into_inner().unwrap()
}

struct Tally {
    processed: AtomicUsize,
    other: Mutex<Vec<String>>,
    sampled: Mutex<Vec<(usize, Answer)>>,
}

/// Sends every message over `connections` keep-alive connections; returns the wall time.
fn send_all(url: &str, messages: &[Message], connections: usize, tally: &Tally) -> f64 {
    let (host, _) = split_url(url);
    let next = AtomicUsize::new(0);
    let sample_every = (messages.len() / 8).max(1);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..connections {
            s.spawn(|| {
                let stream = TcpStream::connect(&host).expect("connect to berth");
                stream.set_nodelay(true).unwrap();
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::with_capacity(64 * 1024, stream);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(m) = messages.get(i) else { break };
                    writer.write_all(&m.request).expect("send");
                    let answer = read_answer(&mut reader).expect("read the answer");
                    let d = disposition(&answer);
                    if d == "processed" {
                        tally.processed.fetch_add(1, Ordering::Relaxed);
                    } else {
                        tally
                            .other
                            .lock()
                            .unwrap()
                            .push(format!("{}: {d}", m.message_id));
                    }
                    if i % sample_every == 0 {
                        tally.sampled.lock().unwrap().push((i, answer));
                    }
                }
            });
        }
    });
    started.elapsed().as_secs_f64()
}

fn check(keys: &Keys, messages: &[Message], tally: &Tally) -> bool {
    let mut ok = true;
    let sampled = tally.sampled.lock().unwrap();
    for (i, answer) in sampled.iter() {
        if let Err(e) = verify_mdn(keys, &messages[*i], answer) {
            eprintln!("MDN of {} fails verification: {e}", messages[*i].message_id);
            ok = false;
        }
    }
    let other = tally.other.lock().unwrap();
    for line in other.iter().take(5) {
        eprintln!("not processed: {line}");
    }
    if !other.is_empty() {
        eprintln!("{} answers were not `processed`", other.len());
        ok = false;
    }
    println!("mdn_signatures_verified: {}", sampled.len());
    ok
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> T {
    args.get(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("argument {i}: {what}"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("");
    let url: String = arg(&args, 2, "URL");
    let keys = Keys::load(Path::new(&arg::<String>(&args, 3, "CERTS folder")));
    let ok = match mode {
        "throughput" => {
            let count: usize = arg(&args, 4, "MESSAGES");
            let warmup: usize = arg(&args, 5, "WARMUP");
            let connections: usize = arg(&args, 6, "CONNECTIONS");
            let size: usize = arg(&args, 7, "SIZE");
            let started = Instant::now();
            let warm = generate(&keys, &url, warmup, size, "w");
            let messages = generate(&keys, &url, count, size, "m");
            eprintln!(
                "generated {} messages of {} body bytes in {:.1} s",
                warmup + count,
                messages[0].body_len,
                started.elapsed().as_secs_f64()
            );
            let warm_tally = Tally {
                processed: AtomicUsize::new(0),
                other: Mutex::new(Vec::new()),
                sampled: Mutex::new(Vec::new()),
            };
            send_all(&url, &warm, connections, &warm_tally);
            let tally = Tally {
                processed: AtomicUsize::new(0),
                other: Mutex::new(Vec::new()),
                sampled: Mutex::new(Vec::new()),
            };
            let berth: Option<u32> = args.get(8).map(|_| arg(&args, 8, "BERTH_PID"));
            let snapshot = |pid| CpuSnapshot::take(pid).expect("berth's /proc stat");
            let before = berth.map(snapshot);
            let seconds = send_all(&url, &messages, connections, &tally);
            let processed = tally.processed.load(Ordering::Relaxed);
            println!("messages: {count} in {seconds:.3} s, {processed} processed");
            println!("messages/s: {:.1}", processed as f64 / seconds);
            if let (Some(pid), Some(before)) = (berth, before) {
                let after = snapshot(pid);
                let spent = after.process.since(&before.process);
                println!("berth_cpu_user_s: {:.3}", spent.user);
                println!("berth_cpu_system_s: {:.3}", spent.system);
                for (name, t) in after.threads_since(&before) {
                    let name = name.replace(' ', "_");
                    println!("berth_thread: {name} {:.3} {:.3}", t.user, t.system);
                }
            }
            check(&keys, &warm, &warm_tally) & check(&keys, &messages, &tally)
        }
        "big" => {
            let size: usize = arg(&args, 4, "SIZE");
            let started = Instant::now();
            let messages = generate(&keys, &url, 1, size, "big");
            let m = &messages[0];
            eprintln!(
                "generated one message of {} body bytes in {:.1} s",
                m.body_len,
                started.elapsed().as_secs_f64()
            );
            let (host, _) = split_url(&url);
            let stream = TcpStream::connect(&host).expect("connect to berth");
            let mut writer = stream.try_clone().unwrap();
            let mut reader = BufReader::new(stream);
            let started = Instant::now();
            writer.write_all(&m.request).expect("send");
            let answer = read_answer(&mut reader).expect("read the answer");
            let seconds = started.elapsed().as_secs_f64();
            let d = disposition(&answer);
            println!("body_bytes: {}", m.body_len);
            println!("seconds: {seconds:.3}");
            println!("disposition: {d}");
            let verified = verify_mdn(&keys, m, &answer);
            if let Err(e) = &verified {
                eprintln!("MDN fails verification: {e}");
            }
            d == "processed" && verified.is_ok()
        }
        "crypto" => {
            crypto::crypto_costs(&keys);
            true
        }
        _ => panic!("usage: as2_load throughput|big|crypto URL CERTS ..."),
    };
    std::process::exit(if ok { 0 } else { 1 });
}
