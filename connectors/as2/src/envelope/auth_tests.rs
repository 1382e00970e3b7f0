//! AuthEnvelopedData (RFC 5083) with authenticated attributes, built by hand since OpenSSL
//! never writes them: the builder (also used by the streaming tests) and its checks.

use super::fixtures::*;
use super::*;
use crate::der::{write_oid, write_tlv};
use openssl::md::Md;
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::symm::{Crypter, Mode};

/// AuthEnvelopedData built by hand: AES-128-GCM with `icv_len`, authAttrs
/// (a contentType attribute) as AAD, and OAEP SHA-384 with a label
/// transporting the key plus `key_extra` bytes.
///
/// OpenSSL cannot check this: it has never written authAttrs, and its
/// decoder expects them as [2] rather than RFC 5083's [1].
pub(crate) fn auth_enveloped_with_attrs(
    plain: &[u8],
    to: &KeyPair,
    icv_len: usize,
    key_extra: usize,
) -> Vec<u8> {
    let seq = |parts: &[Vec<u8>]| write_tlv(TAG_SEQUENCE, &parts.concat());
    let (mut cek, mut nonce) = ([0u8; 16], [0u8; 12]);
    openssl::rand::rand_bytes(&mut cek).unwrap();
    openssl::rand::rand_bytes(&mut nonce).unwrap();
    let attr = seq(&[
        write_oid("1.2.840.113549.1.9.3"),
        write_tlv(TAG_SET, &write_oid("1.2.840.113549.1.7.1")),
    ]);
    let aad = write_tlv(TAG_SET, &attr);
    let mut c = Crypter::new(Cipher::aes_128_gcm(), Mode::Encrypt, &cek, Some(&nonce)).unwrap();
    c.aad_update(&aad).unwrap();
    let mut ct = vec![0; plain.len() + 16];
    let n = c.update(plain, &mut ct).unwrap();
    let n = n + c.finalize(&mut ct[n..]).unwrap();
    ct.truncate(n);
    let mut tag = vec![0; icv_len];
    c.get_tag(&mut tag).unwrap();

    let label = b"berth label";
    let public = to.certificate.public_key().unwrap();
    let mut ctx = PkeyCtx::new(&public).unwrap();
    ctx.encrypt_init().unwrap();
    ctx.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
    ctx.set_rsa_oaep_md(Md::sha384()).unwrap();
    ctx.set_rsa_mgf1_md(Md::sha384()).unwrap();
    ctx.set_rsa_oaep_label(label).unwrap();
    let mut ek = Vec::new();
    let transported = [&cek[..], &vec![7; key_extra]].concat();
    ctx.encrypt_to_vec(&transported, &mut ek).unwrap();
    let sha384 = seq(&[write_oid("2.16.840.1.101.3.4.2.2"), vec![0x05, 0x00]]);
    let oaep_params = seq(&[
        write_tlv(0xA0, &sha384),
        write_tlv(
            0xA1,
            &seq(&[write_oid("1.2.840.113549.1.1.8"), sha384.clone()]),
        ),
        write_tlv(
            0xA2,
            &seq(&[
                write_oid("1.2.840.113549.1.1.9"),
                write_tlv(TAG_OCTET_STRING, label),
            ]),
        ),
    ]);
    let mut serial = to.certificate.serial_number().to_bn().unwrap().to_vec();
    if serial.first().is_none_or(|&b| b & 0x80 != 0) {
        serial.insert(0, 0);
    }
    let ktri = seq(&[
        write_tlv(TAG_INTEGER, &[0]),
        seq(&[
            to.certificate.issuer_name().to_der().unwrap(),
            write_tlv(TAG_INTEGER, &serial),
        ]),
        seq(&[write_oid("1.2.840.113549.1.1.7"), oaep_params]),
        write_tlv(TAG_OCTET_STRING, &ek),
    ]);
    let gcm_params = seq(&[
        write_tlv(TAG_OCTET_STRING, &nonce),
        write_tlv(TAG_INTEGER, &[icv_len as u8]),
    ]);
    let eci = seq(&[
        write_oid("1.2.840.113549.1.7.1"),
        seq(&[write_oid("2.16.840.1.101.3.4.1.6"), gcm_params]),
        write_tlv(0x80, &ct),
    ]);
    let body = seq(&[
        write_tlv(TAG_INTEGER, &[0]),
        write_tlv(TAG_SET, &ktri),
        eci,
        write_tlv(0xA1, &attr),
        write_tlv(TAG_OCTET_STRING, &tag),
    ]);
    seq(&[
        write_oid(cms::OID_AUTH_ENVELOPED_DATA),
        write_tlv(der::TAG_CONTEXT_0, &body),
    ])
}

#[test]
fn auth_attributes_are_authenticated() {
    let plain = pseudo_random(70_000);
    for icv_len in [12, 16] {
        let der = auth_enveloped_with_attrs(&plain, &keys().ours, icv_len, 0);
        assert!(decrypt(&der, &ours()).unwrap() == plain, "{icv_len}");
        assert!(
            decrypt(&to_ber(&der), &ours()).unwrap() == plain,
            "{icv_len}"
        );
        // The attribute's id-data OID, changed to another arc.
        let attr_oid = write_oid("1.2.840.113549.1.7.1");
        let at = der
            .windows(attr_oid.len())
            .rposition(|w| w == attr_oid)
            .unwrap();
        let mut t = der.clone();
        t[at + attr_oid.len() - 1] ^= 2;
        let msg = decryption_error(decrypt(&t, &ours()));
        assert!(msg.contains("tag"), "{msg}");
        let mut t = der.clone();
        let mac = layout(&der).mac.unwrap();
        assert_eq!(mac.len(), icv_len);
        t[mac.end - 1] ^= 1;
        decryption_error(decrypt(&t, &ours()));
    }
    // A 17-byte key for AES-128: refused, and indistinguishable from a
    // damaged message.
    let der = auth_enveloped_with_attrs(b"k", &keys().ours, 16, 1);
    let msg = decryption_error(decrypt(&der, &ours()));
    assert!(msg.contains("tag"), "{msg}");
}
