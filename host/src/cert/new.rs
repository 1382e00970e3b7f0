//! A new RSA key and self-signed certificate, as PEM files and optionally PKCS#12.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{BasicConstraints, KeyUsage, SubjectKeyIdentifier};
use openssl::x509::{X509NameBuilder, X509};

/// What `berth cert new` was asked for.
pub struct NewCertificate {
    /// Base name of the files: NAME.key.pem, NAME.cert.pem, NAME.p12.
    pub name: String,
    pub out_dir: PathBuf,
    /// Subject common name; the AS2 ID is customary.
    pub common_name: String,
    pub bits: u32,
    pub days: u32,
    /// Also write a PKCS#12 bundle protected by this password.
    pub pkcs12_password: Option<String>,
}

/// Write the files; returns their paths.
pub fn new_certificate(request: &NewCertificate) -> anyhow::Result<Vec<PathBuf>> {
    if !(2048..=4096).contains(&request.bits) {
        bail!("--bits must be from 2048 to 4096, not {}", request.bits);
    }
    if request.days == 0 {
        bail!("--days must be at least 1");
    }
    let key = PKey::from_rsa(Rsa::generate(request.bits)?)?;
    let certificate = self_signed(&key, &request.common_name, request.days)?;
    std::fs::create_dir_all(&request.out_dir)
        .with_context(|| format!("cannot create {}", request.out_dir.display()))?;
    let key_file = request.out_dir.join(format!("{}.key.pem", request.name));
    let cert_file = request.out_dir.join(format!("{}.cert.pem", request.name));
    write_new(&key_file, &key.private_key_to_pem_pkcs8()?, true)?;
    write_new(&cert_file, &certificate.to_pem()?, false)?;
    let mut written = vec![key_file, cert_file];
    if let Some(password) = &request.pkcs12_password {
        let bundle = Pkcs12::builder()
            .name(&request.common_name)
            .pkey(&key)
            .cert(&certificate)
            .build2(password)?;
        let p12_file = request.out_dir.join(format!("{}.p12", request.name));
        write_new(&p12_file, &bundle.to_der()?, true)?;
        written.push(p12_file);
    }
    Ok(written)
}

fn self_signed(key: &PKey<Private>, common_name: &str, days: u32) -> anyhow::Result<X509> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", common_name)
        .with_context(|| format!("`{common_name}` is not a valid common name"))?;
    let name = name.build();
    let mut builder = X509::builder()?;
    builder.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let serial = serial.to_asn1_integer()?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(&name)?;
    builder.set_issuer_name(&name)?;
    builder.set_pubkey(key)?;
    let not_before = Asn1Time::days_from_now(0)?;
    let not_after = Asn1Time::days_from_now(days)?;
    builder.set_not_before(&not_before)?;
    builder.set_not_after(&not_after)?;
    builder.append_extension(BasicConstraints::new().critical().build()?)?;
    // AS2 uses one certificate to sign and to receive encrypted keys; TLS servers need both too.
    builder.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .key_encipherment()
            .build()?,
    )?;
    let key_id = SubjectKeyIdentifier::new().build(&builder.x509v3_context(None, None))?;
    builder.append_extension(key_id)?;
    builder.sign(key, MessageDigest::sha256())?;
    Ok(builder.build())
}

/// Write a file that must not exist yet; private material is readable by its owner only.
fn write_new(file: &Path, bytes: &[u8], private: bool) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    if private {
        options.mode(0o600);
    }
    let mut out = options.open(file).with_context(|| {
        format!(
            "cannot create {} (berth never overwrites a key or certificate)",
            file.display()
        )
    })?;
    out.write_all(bytes)?;
    out.sync_all()?;
    Ok(())
}
