//! Peak memory of the streaming unwrap (`berth_as2::stream::unwrap_to`) on a large signed,
//! encrypted and compressed AS2 message: prints the growth of this process's peak RSS
//! (VmHWM in /proc/self/status) while the message is unwrapped into a file.
//!
//! `cargo run --release -p berth-as2 --example stream_memory -- [--compare] [MiB...]` (default
//! 256); `--compare` then also unwraps the message with `receive::receive_body`, the path
//! that streams the decryption only, and prints its growth for contrast, and the time of
//! `openssl cms -decrypt` plus `-verify` on the same message. The
//! message is built in a temporary directory with the `openssl` command (`cms -sign`,
//! `cms -encrypt`), around a CompressedData written here as streaming BER; nothing is kept.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use berth_as2::certs::KeyPair;
use berth_as2::headers::As2Headers;
use berth_as2::receive::{receive_body, Body, PartnerSettings};
use berth_as2::stream::unwrap_to;
use berth_as2::unwrap::{Layer, Limits, UnwrapKeys};
use flate2::write::ZlibEncoder;
use openssl::hash::{Hasher, MessageDigest};
use openssl::pkey::PKey;
use openssl::x509::X509;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let compare = args.iter().any(|a| a == "--compare");
    let sizes: Vec<u64> = args
        .iter()
        .filter(|a| *a != "--compare")
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let sizes = if sizes.is_empty() { vec![256] } else { sizes };
    for mib in sizes {
        run(mib, compare)?;
    }
    Ok(())
}

fn run(mib: u64, compare: bool) -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    for who in ["us", "partner"] {
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={who}"),
            "-keyout",
            &path(d, &format!("{who}.key")),
            "-out",
            &path(d, &format!("{who}.pem")),
        ])?;
    }
    let payload_digest = write_compressed_entity(&d.join("compressed.msg"), mib << 20)?;
    let signed_digest = file_digest(&d.join("compressed.msg"))?;
    openssl(&[
        "cms",
        "-sign",
        "-binary",
        "-md",
        "sha256",
        "-in",
        &path(d, "compressed.msg"),
        "-signer",
        &path(d, "partner.pem"),
        "-inkey",
        &path(d, "partner.key"),
        "-out",
        &path(d, "signed.msg"),
    ])?;
    std::fs::remove_file(d.join("compressed.msg"))?;
    openssl(&[
        "cms",
        "-encrypt",
        "-binary",
        "-stream",
        "-aes-256-cbc",
        "-outform",
        "DER",
        "-in",
        &path(d, "signed.msg"),
        "-out",
        &path(d, "body.der"),
        &path(d, "us.pem"),
    ])?;
    std::fs::remove_file(d.join("signed.msg"))?;

    let ours = load(d, "us")?;
    let partner = X509::from_pem(&std::fs::read(d.join("partner.pem"))?)?;
    let decryption_keys = [ours];
    let partner_certificates = [partner];
    let keys = UnwrapKeys {
        decryption_keys: &decryption_keys,
        partner_certificates: &partner_certificates,
        allow_expired_certificates: false,
    };
    let limits = Limits {
        max_depth: 8,
        max_decompressed_size: u64::MAX,
    };
    let headers = As2Headers::parse(&[
        ("AS2-Version".into(), b"1.2".to_vec()),
        ("AS2-From".into(), b"partner".to_vec()),
        ("AS2-To".into(), b"us".to_vec()),
        ("Message-ID".into(), b"<large@partner>".to_vec()),
        (
            "Content-Type".into(),
            b"application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m".to_vec(),
        ),
        ("Content-Transfer-Encoding".into(), b"binary".to_vec()),
    ])
    .map_err(|e| format!("{e:?}"))?;
    let body = d.join("body.der");
    let len = std::fs::metadata(&body)?.len();
    let open = || -> io::Result<Box<dyn Read + '_>> { Ok(Box::new(File::open(&body)?)) };
    let mut sink = BufWriter::new(File::create(d.join("payload.out"))?);

    let before = vm_hwm()?;
    let started = Instant::now();
    let meta = unwrap_to(&headers, &open, len, &keys, &limits, &mut sink)
        .map_err(|e| format!("{:?}: {}", e.error, e.detail))?;
    sink.flush()?;
    let elapsed = started.elapsed();
    let after = vm_hwm()?;
    drop(sink);

    assert_eq!(
        meta.security.layers,
        [
            Layer::Encrypted {
                authenticated: false
            },
            Layer::Signed {
                alg: Some(berth_as2::micalg::MicAlg::Sha256),
                detached: true
            },
            Layer::Compressed,
        ]
    );
    assert_eq!(meta.payload_len, mib << 20);
    assert_eq!(meta.file_name.as_deref(), Some("large.x12"));
    assert_eq!(meta.mime_type, "application/edi-x12");
    assert_eq!(
        file_digest(&d.join("payload.out"))?,
        payload_digest,
        "payload differs"
    );
    let mic = meta.mic.ok_or("no MIC")?;
    assert_eq!(
        mic.digest, signed_digest,
        "MIC differs from the signed entity's digest"
    );
    println!(
        "{mib} MiB payload ({:.0} MiB message): peak RSS {} KiB before, {} KiB after, growth {:.1} MiB; {:.1} s",
        len as f64 / 1048576.0,
        before,
        after,
        (after - before) as f64 / 1024.0,
        elapsed.as_secs_f64()
    );
    if compare {
        let settings = PartnerSettings {
            decryption_keys: decryption_keys.to_vec(),
            partner_certificates: partner_certificates.to_vec(),
            ..PartnerSettings::default()
        };
        let started = Instant::now();
        let body = Body::Stream { open: &open, len };
        let received =
            receive_body(headers, body, &settings, &limits).map_err(|e| format!("{e:?}"))?;
        let elapsed = started.elapsed();
        let peak = vm_hwm()?;
        assert_eq!(received.payload.len() as u64, mib << 20);
        println!(
            "  receive_body (decryption streamed, the rest in memory): growth {:.1} MiB; {:.1} s",
            (peak - after) as f64 / 1024.0,
            elapsed.as_secs_f64()
        );
        let started = Instant::now();
        openssl(&[
            "cms",
            "-decrypt",
            "-binary",
            "-inform",
            "DER",
            "-in",
            &path(d, "body.der"),
            "-recip",
            &path(d, "us.pem"),
            "-inkey",
            &path(d, "us.key"),
            "-out",
            &path(d, "signed.msg"),
        ])?;
        openssl(&[
            "cms",
            "-verify",
            "-binary",
            "-noverify",
            "-in",
            &path(d, "signed.msg"),
            "-certfile",
            &path(d, "partner.pem"),
            "-out",
            &path(d, "compressed.out"),
        ])?;
        println!(
            "  openssl cms -decrypt and -verify (no decompression): {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

fn openssl(args: &[&str]) -> Result<(), Box<dyn std::error::Error>> {
    let out = Command::new("openssl").args(args).output()?;
    if !out.status.success() {
        return Err(format!(
            "openssl {}: {}",
            args[0],
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}

fn load(dir: &Path, who: &str) -> Result<KeyPair, Box<dyn std::error::Error>> {
    let cert = X509::from_pem(&std::fs::read(dir.join(format!("{who}.pem")))?)?;
    let key = PKey::private_key_from_pem(&std::fs::read(dir.join(format!("{who}.key")))?)?;
    Ok(KeyPair::new(cert, key).map_err(|e| format!("{e:?}"))?)
}

/// Peak resident set size of this process, in KiB.
fn vm_hwm() -> Result<u64, Box<dyn std::error::Error>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .ok_or("no VmHWM")?;
    Ok(line.split_whitespace().nth(1).ok_or("bad VmHWM")?.parse()?)
}

fn file_digest(path: &Path) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut hasher = Hasher::new(MessageDigest::sha256())?;
    let mut file = BufReader::new(File::open(path)?);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(hasher.finish()?.to_vec());
        }
        hasher.update(&buf[..n])?;
    }
}

/// Writes a MIME entity holding a CompressedData (streaming BER: indefinite lengths, the
/// zlib stream in 64 KiB OCTET STRING segments) around an entity of `size` bytes of EDI-like
/// lines, and
/// returns the payload's SHA-256.
fn write_compressed_entity(path: &Path, size: u64) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut out = BufWriter::new(File::create(path)?);
    out.write_all(
        b"Content-Type: application/pkcs7-mime; smime-type=compressed-data; name=smime.p7z\r\n\
          Content-Transfer-Encoding: binary\r\n\r\n",
    )?;
    let oid = |dotted: &[u8]| [&[0x06, dotted.len() as u8][..], dotted].concat();
    let compressed_data = oid(&[
        0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x01, 0x09,
    ]);
    let zlib = oid(&[
        0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x03, 0x08,
    ]);
    let data = oid(&[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01]);
    out.write_all(&[0x30, 0x80])?;
    out.write_all(&compressed_data)?;
    out.write_all(&[0xA0, 0x80, 0x30, 0x80, 0x02, 0x01, 0x00])?;
    out.write_all(&[0x30, zlib.len() as u8])?;
    out.write_all(&zlib)?;
    out.write_all(&[0x30, 0x80])?;
    out.write_all(&data)?;
    out.write_all(&[0xA0, 0x80, 0x24, 0x80])?;
    let mut hasher = Hasher::new(MessageDigest::sha256())?;
    let mut zlib = ZlibEncoder::new(
        Segments {
            out: &mut out,
            buf: Vec::new(),
        },
        flate2::Compression::fast(),
    );
    zlib.write_all(
        b"Content-Type: application/edi-x12\r\nContent-Transfer-Encoding: binary\r\n\
          Content-Disposition: attachment; filename=\"large.x12\"\r\n\r\n",
    )?;
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut written = 0u64;
    let mut line = Vec::new();
    while written < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        line.clear();
        write!(
            line,
            "LIN+{written}++{:016}:EN'QTY+21:{}'\r\n",
            state % 10_000_000_000_000_000,
            state >> 54
        )?;
        let take = line.len().min((size - written) as usize);
        hasher.update(&line[..take])?;
        zlib.write_all(&line[..take])?;
        written += take as u64;
    }
    let mut segments = zlib.finish()?;
    segments.flush_segment()?;
    out.write_all(&[0; 12])?;
    out.flush()?;
    Ok(hasher.finish()?.to_vec())
}

/// Writes what it is given as BER OCTET STRING segments of 64 KiB.
struct Segments<'a, W: Write> {
    out: &'a mut W,
    buf: Vec<u8>,
}

impl<W: Write> Segments<'_, W> {
    fn flush_segment(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let n = self.buf.len();
        self.out
            .write_all(&[0x04, 0x83, (n >> 16) as u8, (n >> 8) as u8, n as u8])?;
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

impl<W: Write> Write for Segments<'_, W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 1 << 16 {
            self.flush_segment()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
