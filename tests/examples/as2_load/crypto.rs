//! `as2_load crypto`: what one received message costs berth in CMS work, one OpenSSL operation
//! at a time, single-threaded (diagnostics, not part of the benchmark's figures).

use std::time::Instant;

use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::pkey::PKey;
use openssl::stack::Stack;
use openssl::symm::Cipher;
use openssl::x509::X509;

use super::{payload, Keys};

/// Microseconds per call of `f`, over about half a second.
fn time_us(mut f: impl FnMut()) -> f64 {
    let started = Instant::now();
    let mut n = 0u32;
    while started.elapsed().as_secs_f64() < 0.5 {
        f();
        n += 1;
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

/// What one received message costs berth in CMS work, one operation at a time, single-threaded:
/// shows how much of it is parsing rather than RSA.
pub fn crypto_costs(keys: &Keys) {
    let part = payload(2048, "crypto");
    let sign = |flags| {
        CmsContentInfo::sign(
            Some(&keys.partner_cert),
            Some(&keys.partner_key),
            None,
            Some(&part),
            flags,
        )
        .and_then(|c| c.to_der())
        .unwrap()
    };
    let with_cert = sign(CMSOptions::DETACHED | CMSOptions::BINARY);
    let without_cert = sign(CMSOptions::DETACHED | CMSOptions::BINARY | CMSOptions::CMS_NOCERTS);
    let mut certs = Stack::new().unwrap();
    certs.push(keys.berth_cert.clone()).unwrap();
    let envelope =
        CmsContentInfo::encrypt(&certs, &part, Cipher::aes_256_cbc(), CMSOptions::BINARY)
            .and_then(|c| c.to_der())
            .unwrap();
    let berth_key = PKey::private_key_from_pem(
        &std::fs::read("certs/berth.key").expect("run from the repository root"),
    )
    .unwrap();
    let mut partner = Stack::new().unwrap();
    partner.push(keys.partner_cert.clone()).unwrap();
    let flags = CMSOptions::NOINTERN | CMSOptions::NO_SIGNER_CERT_VERIFY | CMSOptions::BINARY;
    let cert_der = keys.partner_cert.to_der().unwrap();
    let rows = [
        (
            "d2i SignedData with the signer's certificate (as sent)",
            time_us(|| {
                CmsContentInfo::from_der(&with_cert).unwrap();
            }),
        ),
        (
            "d2i SignedData without certificates",
            time_us(|| {
                CmsContentInfo::from_der(&without_cert).unwrap();
            }),
        ),
        (
            "d2i X509 certificate alone",
            time_us(|| {
                X509::from_der(&cert_der).unwrap();
            }),
        ),
        ("CMS_verify (parsed, detached 2 KB)", {
            let mut cms = CmsContentInfo::from_der(&without_cert).unwrap();
            time_us(|| {
                cms.verify(Some(&partner), None, Some(&part), None, flags)
                    .unwrap()
            })
        }),
        (
            "d2i + CMS_decrypt EnvelopedData (RSA private + AES)",
            time_us(|| {
                let cms = CmsContentInfo::from_der(&envelope).unwrap();
                cms.decrypt(&berth_key, &keys.berth_cert).unwrap();
            }),
        ),
        (
            "CMS_sign detached 2 KB (RSA private)",
            time_us(|| {
                CmsContentInfo::sign(
                    Some(&keys.berth_cert),
                    Some(&berth_key),
                    None,
                    Some(&part),
                    CMSOptions::DETACHED | CMSOptions::BINARY,
                )
                .and_then(|c| c.to_der())
                .unwrap();
            }),
        ),
    ];
    for (what, us) in rows {
        println!("{us:8.1} us  {what}");
    }
}
