"""An AS2 sender that is not pyas2lib: AES-GCM inside plain EnvelopedData, as pkijs and some
BouncyCastle-based products send it (GCMParameters with nonce and ICV length, the tag appended
to the encrypted content), with RSA PKCS#1 v1.5 or RSA-OAEP (SHA-1/256/512, MGF1 of the same
hash) key transport. Built with `cryptography` (AES-GCM, RSA, the detached PKCS#7 signature) and
`asn1crypto` (the CMS structure), independently of berth's code.

    interop.py send SPEC.json        send each case, print a JSON list of results
    interop.py fixtures DIR          write the berth-as2 unit-test fixtures (keys, messages)

A case of `send`: `id`, `url`, `as2_from`, `as2_to`, `payload_file`, `filename`, `bits` (128,
192, 256), `transport` (`rsa` or `oaep-sha1|sha256|sha512`), optional `tamper` (`tag` flips a
bit of the tag, `truncate` drops the tag's last byte), `transfer` (`binary` or `base64`), `ber`
(indefinite lengths, content in 1000-byte segments, as streaming CMS generators write). The spec
also names `sign_key`, `sign_cert` (the partner's) and `encrypt_cert`, `mdn_cert` (berth's).
Each result: HTTP status, MDN disposition, whether the MDN signature verified against
`mdn_cert`, the MDN's Received-Content-MIC and the MIC computed here over the signed entity.
"""

import base64
import email
import hashlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import pkcs7


class GcmParams(core.Sequence):
    """RFC 5084 GCMParameters."""

    _fields = [
        ("aes_nonce", core.OctetString),
        ("aes_icvlen", core.Integer, {"default": 12}),
    ]


HASHES = {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha512": hashes.SHA512}


def read(path):
    with open(path, "rb") as f:
        return f.read()


def key_transport(cek, cert, transport):
    """The encrypted key and its KeyEncryptionAlgorithm."""
    public = cert.public_key()
    if transport == "rsa":
        alg = cms.KeyEncryptionAlgorithm({"algorithm": "rsaes_pkcs1v15"})
        return public.encrypt(cek, padding.PKCS1v15()), alg
    name = transport.split("-", 1)[1]
    md = HASHES[name]
    encrypted = public.encrypt(cek, padding.OAEP(mgf=padding.MGF1(md()), algorithm=md(), label=None))
    # SHA-1 is every field's default: DER leaves them out, an empty parameter SEQUENCE.
    params = algos.RSAESOAEPParams(
        {
            "hash_algorithm": {"algorithm": name},
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": name}},
        }
    )
    alg = cms.KeyEncryptionAlgorithm({"algorithm": "rsaes_oaep", "parameters": params})
    return encrypted, alg


def recipient_info(cek, cert, transport):
    encrypted, alg = key_transport(cek, cert, transport)
    parsed = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    rid = cms.RecipientIdentifier(
        name="issuer_and_serial_number",
        value=cms.IssuerAndSerialNumber(
            {"issuer": parsed.issuer, "serial_number": parsed.serial_number}
        ),
    )
    return cms.RecipientInfo(
        name="ktri",
        value=cms.KeyTransRecipientInfo(
            {"version": "v0", "rid": rid, "key_encryption_algorithm": alg, "encrypted_key": encrypted}
        ),
    )


def seal(content, bits, icv_len=16):
    """A fresh key and nonce, and AES-GCM over `content` with the tag (cut to `icv_len`: a
    shorter GCM tag is a prefix of the full one) appended."""
    cek, nonce = os.urandom(bits // 8), os.urandom(12)
    sealed = AESGCM(cek).encrypt(nonce, content, None)
    return cek, nonce, sealed[: len(content)] + sealed[len(content) :][:icv_len]


def enveloped(cek, nonce, encrypted, cert, bits, transport, icv_len=16):
    """ContentInfo(EnvelopedData) DER with `encrypted` (ciphertext and tag) as its content."""
    eci = cms.EncryptedContentInfo(
        {
            "content_type": "data",
            "content_encryption_algorithm": {
                "algorithm": f"aes{bits}_gcm",
                "parameters": GcmParams({"aes_nonce": nonce, "aes_icvlen": icv_len}),
            },
            "encrypted_content": encrypted,
        }
    )
    data = cms.EnvelopedData(
        {
            "version": "v0",
            "recipient_infos": [recipient_info(cek, cert, transport)],
            "encrypted_content_info": eci,
        }
    )
    return cms.ContentInfo({"content_type": "enveloped_data", "content": data}).dump()


def to_ber(der):
    """The same ContentInfo with indefinite lengths down to the encrypted content, which becomes
    a constructed [0] of 1000-byte OCTET STRING segments (BouncyCastle's streaming form)."""
    info = cms.ContentInfo.load(der)
    data = info["content"]
    eci = data["encrypted_content_info"]
    content = eci["encrypted_content"].native
    segments = b"".join(
        core.OctetString(content[i : i + 1000]).dump() for i in range(0, len(content), 1000)
    )
    indefinite = lambda tag, inner: bytes([tag, 0x80]) + inner + b"\x00\x00"
    eci_ber = indefinite(
        0x30,
        eci["content_type"].dump()
        + eci["content_encryption_algorithm"].dump()
        + indefinite(0xA0, segments),
    )
    body = indefinite(
        0x30, data["version"].dump() + data["recipient_infos"].dump() + eci_ber
    )
    return indefinite(0x30, info["content_type"].dump() + indefinite(0xA0, body))


def encrypt(content, cert, bits, transport, tamper=None, ber=False):
    cek, nonce, encrypted = seal(content, bits)
    if tamper == "tag":
        encrypted = encrypted[:-1] + bytes([encrypted[-1] ^ 0x01])
    elif tamper == "truncate":
        encrypted = encrypted[:-1]
    der = enveloped(cek, nonce, encrypted, cert, bits, transport)
    return to_ber(der) if ber else der


def b64_lines(data):
    text = base64.b64encode(data)
    return b"".join(text[i : i + 76] + b"\r\n" for i in range(0, len(text), 76))


def signed_entity(entity, key, cert, boundary):
    """multipart/signed around `entity`, the signature over exactly its bytes."""
    signature = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(entity)
        .add_signer(cert, key, hashes.SHA256())
        .sign(
            serialization.Encoding.DER,
            [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
        )
    )
    head = (
        'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; '
        f'micalg=sha-256; boundary="{boundary}"\r\n\r\n'
    ).encode()
    body = f"--{boundary}\r\n".encode() + entity + f"\r\n--{boundary}\r\n".encode()
    body += (
        b"Content-Type: application/pkcs7-signature; name=smime.p7s\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename=smime.p7s\r\n\r\n"
    )
    body += b64_lines(signature) + f"--{boundary}--\r\n".encode()
    return head + body


def payload_entity(payload, filename):
    head = (
        "Content-Type: application/octet-stream\r\n"
        "Content-Transfer-Encoding: binary\r\n"
        f'Content-Disposition: attachment; filename="{filename}"\r\n\r\n'
    ).encode()
    return head + payload


def post(url, headers, body):
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def verify_detached(signature_der, content, cert):
    """A CMS detached signature over `content` by `cert`'s key: the message digest attribute and
    the RSA PKCS#1 v1.5 signature over the DER of the signed attributes."""
    info = cms.ContentInfo.load(signature_der)
    signer = info["content"]["signer_infos"][0]
    digest = signer["digest_algorithm"]["algorithm"].native
    attrs = signer["signed_attrs"]
    wanted = hashlib.new(digest, content).digest()
    found = [a["values"][0].native for a in attrs if a["type"].native == "message_digest"]
    if found != [wanted]:
        return False
    signed = b"\x31" + attrs.dump()[1:]  # RFC 5652 5.4: the attributes' DER with a SET tag
    try:
        cert.public_key().verify(
            signer["signature"].native, signed, padding.PKCS1v15(), HASHES.get(digest, hashes.SHA256)()
        )
    except Exception:
        return False
    return True


def parse_mdn(headers, body, mdn_cert):
    """The notification fields, and whether the MDN is signed and verifies against mdn_cert."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
    message = email.message_from_bytes(head + b"\r\n" + body)
    verified = False
    if message.get_content_type() == "multipart/signed":
        delimiter = b"--" + message.get_param("boundary").encode()
        parts = body.split(delimiter)
        # parts[1] is "\r\n<first part>\r\n": the signed bytes lie between those line breaks.
        first = parts[1][2:-2]
        signature = [p for p in message.get_payload() if p.get_content_type().endswith("pkcs7-signature")]
        verified = bool(signature) and verify_detached(signature[0].get_payload(decode=True), first, mdn_cert)
    fields = {}
    for part in message.walk():
        if part.get_content_type() == "message/disposition-notification":
            payload = part.get_payload()
            inner = payload[-1] if isinstance(payload, list) else email.message_from_string(payload)
            fields = dict(inner.items())
    return fields, verified


def send(spec):
    sign_key = serialization.load_pem_private_key(read(spec["sign_key"]), None)
    sign_cert = x509.load_pem_x509_certificate(read(spec["sign_cert"]))
    encrypt_cert = x509.load_pem_x509_certificate(read(spec["encrypt_cert"]))
    mdn_cert = x509.load_pem_x509_certificate(read(spec["mdn_cert"]))
    results = []
    for case in spec["cases"]:
        entity = payload_entity(read(case["payload_file"]), case["filename"])
        signed = signed_entity(entity, sign_key, sign_cert, "----=_interop_" + os.urandom(8).hex())
        der = encrypt(signed, encrypt_cert, case["bits"], case["transport"], case.get("tamper"), case.get("ber", False))
        transfer = case.get("transfer", "binary")
        body = b64_lines(der) if transfer == "base64" else der
        message_id = f"<{case['id']}-{os.urandom(6).hex()}@interop.example>"
        headers = {
            "AS2-Version": "1.2",
            "AS2-From": case["as2_from"],
            "AS2-To": case["as2_to"],
            "Message-ID": message_id,
            "Subject": f"interop {case['id']}",
            "Content-Type": 'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"',
            "Content-Transfer-Encoding": transfer,
            "Content-Disposition": 'attachment; filename="smime.p7m"',
            "Disposition-Notification-To": "mailto:as2@interop.example",
            "Disposition-Notification-Options": "signed-receipt-protocol=optional, pkcs7-signature; "
            "signed-receipt-micalg=optional, sha-256",
        }
        status, response_headers, response_body = post(case["url"], headers, body)
        result = {"id": case["id"], "http_status": status, "message_id": message_id}
        if status == 200:
            fields, verified = parse_mdn(response_headers, response_body, mdn_cert)
            result.update(
                mdn_signed=verified,
                disposition=" ".join(fields.get("Disposition", "").split()),
                original_message_id=fields.get("Original-Message-ID", "").strip(),
                mic=" ".join(fields.get("Received-Content-MIC", "").split()),
                # RFC 4130 7.3.1: a signed message's MIC covers the signed entity, as signed.
                expected_mic=base64.b64encode(hashlib.sha256(entity).digest()).decode() + ", sha-256",
            )
        else:
            result["http_body"] = response_body.decode("utf-8", "replace")[:300]
        results.append(result)
    json.dump(results, sys.stdout, indent=1)


def auth_to_enveloped(der, tamper=None):
    """An AuthEnvelopedData without attributes as EnvelopedData with the mac appended."""
    auth = cms.ContentInfo.load(der)["content"]
    eci = auth["auth_encrypted_content_info"]
    encrypted = eci["encrypted_content"].native + auth["mac"].native
    if tamper == "tag":
        encrypted = encrypted[:-1] + bytes([encrypted[-1] ^ 0x01])
    data = cms.EnvelopedData(
        {
            "version": "v2",
            "recipient_infos": auth["recipient_infos"],
            "encrypted_content_info": cms.EncryptedContentInfo(
                {
                    "content_type": eci["content_type"],
                    "content_encryption_algorithm": eci["content_encryption_algorithm"],
                    "encrypted_content": encrypted,
                }
            ),
        }
    )
    return cms.ContentInfo({"content_type": "enveloped_data", "content": data}).dump()


def self_signed(name, ec=False):
    import datetime

    from cryptography.hazmat.primitives.asymmetric import ec as ec_keys

    if ec:
        key = ec_keys.generate_private_key(ec_keys.SECP256R1())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=36500))
        .sign(key, hashes.SHA256())
    )
    return key, cert


TRANSPORTS = ["rsa", "oaep-sha1", "oaep-sha256", "oaep-sha512"]
LARGE = 5 * 1024 * 1024 + 3


def large_fixture(cert, bits, transport, head, truncate=False):
    """A message of more than 4 MiB that compresses to almost nothing: the plaintext after the
    MIME head is the AES-CTR keystream itself, so the ciphertext there is all zero bytes. The
    plaintext is still as random as any payload; its SHA-256 goes into the manifest."""
    cek, nonce = os.urandom(bits // 8), os.urandom(12)
    size = len(head) + LARGE
    # Encrypting zeros gives the keystream; plaintext = head, then keystream bytes.
    stream = AESGCM(cek).encrypt(nonce, bytes(size), None)[:size]
    plain = head + stream[len(head) :]
    sealed = AESGCM(cek).encrypt(nonce, plain, None)
    if truncate:
        sealed = sealed[:-1]
    der = enveloped(cek, nonce, sealed, cert, bits, transport)
    return der, plain


def fixtures(folder):
    import gzip

    os.makedirs(folder, exist_ok=True)
    key, cert = self_signed("berth interop fixtures")
    with open(os.path.join(folder, "key.pem"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    cert_path = os.path.join(folder, "cert.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    entity = payload_entity(bytes(range(256)) * 7 + b"interop", "small.bin")
    with open(os.path.join(folder, "small.entity"), "wb") as f:
        f.write(entity)
    manifest = {"small": [], "large": [], "openssl": [], "kari": []}

    def write(name, data):
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)

    for bits in (128, 192, 256):
        for transport in TRANSPORTS:
            name = f"gcm{bits}-{transport}"
            write(f"{name}.der", encrypt(entity, cert, bits, transport))
            manifest["small"].append({"file": f"{name}.der", "expect": "ok"})
    # Variants: ICV of 12 bytes (the DER default, so the field is left out), BER, bad tags.
    cek, nonce, sealed = seal(entity, 256, icv_len=12)
    write("gcm256-rsa-icv12.der", enveloped(cek, nonce, sealed, cert, 256, "rsa", icv_len=12))
    write("gcm128-oaep-sha256-ber.der", encrypt(entity, cert, 128, "oaep-sha256", ber=True))
    write("gcm192-rsa-wrong-tag.der", encrypt(entity, cert, 192, "rsa", tamper="tag"))
    write("gcm256-oaep-sha512-truncated-tag.der", encrypt(entity, cert, 256, "oaep-sha512", tamper="truncate"))
    write("gcm128-oaep-sha1-wrong-tag-ber.der", encrypt(entity, cert, 128, "oaep-sha1", tamper="tag", ber=True))
    manifest["small"] += [
        {"file": "gcm256-rsa-icv12.der", "expect": "ok"},
        {"file": "gcm128-oaep-sha256-ber.der", "expect": "ok"},
        {"file": "gcm192-rsa-wrong-tag.der", "expect": "decryption-failed"},
        {"file": "gcm256-oaep-sha512-truncated-tag.der", "expect": "decryption-failed"},
        {"file": "gcm128-oaep-sha1-wrong-tag-ber.der", "expect": "decryption-failed"},
    ]
    head = payload_entity(b"", "large.bin")
    for bits, transport, truncate in [
        (128, "rsa", False),
        (192, "oaep-sha256", False),
        (256, "oaep-sha512", False),
        (256, "oaep-sha1", True),
    ]:
        der, plain = large_fixture(cert, bits, transport, head, truncate)
        name = f"large-gcm{bits}-{transport}{'-truncated-tag' if truncate else ''}.der.gz"
        write(name, gzip.compress(der, mtime=0))
        manifest["large"].append(
            {
                "file": name,
                "expect": "decryption-failed" if truncate else "ok",
                "payload_sha256": hashlib.sha256(plain[len(head) :]).hexdigest(),
                "payload_len": len(plain) - len(head),
            }
        )
    # OpenSSL's own CLI: RSA-OAEP with each hash around CBC (EnvelopedData) and GCM (OpenSSL
    # writes that as AuthEnvelopedData); MGF1 follows the OAEP hash.
    entity_path = os.path.join(folder, "small.entity")
    for cipher in ("aes-256-cbc", "aes-128-gcm"):
        for md in ("sha1", "sha256", "sha512"):
            name = f"openssl-{cipher}-oaep-{md}.der"
            subprocess.run(
                ["openssl", "cms", "-encrypt", "-binary", "-in", entity_path, "-outform", "DER",
                 "-out", os.path.join(folder, name), f"-{cipher}", "-recip", cert_path,
                 "-keyopt", "rsa_padding_mode:oaep", "-keyopt", f"rsa_oaep_md:{md}"],
                check=True,
            )
            manifest["openssl"].append({"file": name, "expect": "ok"})
    # Key agreement (an EC recipient), which berth's own reader leaves to OpenSSL: OpenSSL
    # writes AES-GCM as AuthEnvelopedData, rewritten here into the EnvelopedData form with the
    # mac appended to the content.
    ec_key, ec_cert = self_signed("berth interop fixtures EC", ec=True)
    write("ec-key.pem", ec_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    write("ec-cert.pem", ec_cert.public_bytes(serialization.Encoding.PEM))
    auth = subprocess.run(
        ["openssl", "cms", "-encrypt", "-binary", "-in", entity_path, "-outform", "DER",
         "-aes-256-gcm", "-recip", os.path.join(folder, "ec-cert.pem")],
        check=True, capture_output=True,
    ).stdout
    for tamper in (None, "tag"):
        name = f"kari-gcm256{'-wrong-tag' if tamper else ''}.der"
        write(name, auth_to_enveloped(auth, tamper))
        manifest["kari"].append({"file": name, "expect": "decryption-failed" if tamper else "ok"})
    # One line per message for the Rust tests: kind, file, expected outcome and, for the large
    # ones, the payload's length and SHA-256 (hex).
    with open(os.path.join(folder, "manifest.txt"), "w") as f:
        for kind, entries in manifest.items():
            for e in entries:
                extra = f" {e['payload_len']} {e['payload_sha256']}" if "payload_len" in e else ""
                f.write(f"{kind} {e['file']} {e['expect']}{extra}\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["send"]:
        send(json.loads(read(sys.argv[2])))
    elif sys.argv[1:2] == ["fixtures"]:
        fixtures(sys.argv[2])
    else:
        sys.exit(__doc__)
