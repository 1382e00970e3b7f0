"""A partner's side of Certificate Exchange Messaging (draft-meadors-certificate-exchange-14),
built without berth's code: the request with Python's `cryptography` (certs-only PKCS#7,
detached CMS signature) and the standard library (XML, MIME), the response checked with
pyas2lib's CMS verification and ElementTree.

    cem.py request SPEC.json   sends one CEM request as an AS2 message, prints the answer
    cem.py response SPEC.json  checks a CEM response as received, prints what it says

Run by tests/tests/as2_cem.rs with the virtualenv scripts/test makes.
"""

import base64
import datetime
import hashlib
import json
import ssl
import sys
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from email import message_from_bytes
from email.parser import BytesParser
from email.policy import compat32

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from oscrypto import asymmetric
from pyas2lib.cms import verify_message

# The namespaces of the draft's schema: its `ediint` placeholder URI and XML-DSig's.
EDIINT = "http://www.ietf.org/rfc/rfcXXXX.txt"
DSIG = "http://www.w3.org/2000/09/xmldsig#"


def read(path):
    with open(path, "rb") as f:
        return f.read()


def b64_lines(data):
    text = base64.b64encode(data).decode()
    return "\r\n".join(text[i : i + 76] for i in range(0, len(text), 76))


def rfc2253(name):
    return name.rfc4514_string()


def request_xml(spec, cert, content_id):
    """The EDIINTCertificateExchangeRequest of section 4 of the draft, one TrustRequest."""
    usages = "".join(f"    <ediint:CertUsage>{u}</ediint:CertUsage>\n" for u in spec["usages"])
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ediint:EDIINTCertificateExchangeRequest xmlns:ediint="{EDIINT}" xmlns:ds="{DSIG}">\n'
        "  <ediint:TrustRequest>\n"
        f"{usages}"
        f"    <ediint:RespondByDate>{spec['respond_by']}</ediint:RespondByDate>\n"
        f"    <ediint:ResponseURL>{spec['response_url']}</ediint:ResponseURL>\n"
        "    <ediint:EndEntity>\n"
        "      <ds:X509IssuerSerial>\n"
        f"        <ds:X509IssuerName>{rfc2253(cert.issuer)}</ds:X509IssuerName>\n"
        f"        <ds:X509SerialNumber>{cert.serial_number}</ds:X509SerialNumber>\n"
        "      </ds:X509IssuerSerial>\n"
        f"      <ediint:ContentID>{content_id}</ediint:ContentID>\n"
        "    </ediint:EndEntity>\n"
        "  </ediint:TrustRequest>\n"
        f"  <ediint:RequestID>{spec['request_id']}</ediint:RequestID>\n"
        "</ediint:EDIINTCertificateExchangeRequest>\n"
    )


def related_entity(spec):
    """multipart/related: the XML root, then the certificate as certs-only PKCS#7."""
    cert = x509.load_pem_x509_certificate(read(spec["new_cert"]))
    content_id = f"cert-{uuid.uuid4().hex}@partner.example"
    xml = request_xml(spec, cert, content_id)
    certs_only = pkcs7.serialize_certificates([cert], serialization.Encoding.DER)
    boundary = "cem-" + uuid.uuid4().hex
    root_id = f"request-{uuid.uuid4().hex}@partner.example"
    body = (
        f"--{boundary}\r\n"
        "Content-Type: application/ediint-cert-exchange+xml\r\n"
        'Content-Disposition: attachment; filename="certificate-exchange.xml"\r\n'
        f"Content-ID: <{root_id}>\r\n\r\n"
        + xml.replace("\n", "\r\n")
        + f"\r\n--{boundary}\r\n"
        'Content-Type: application/pkcs7-mime; smime-type=certs-only; name="cert.p7c"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        'Content-Disposition: attachment; filename="certificate.p7c"\r\n'
        f"Content-ID: <{content_id}>\r\n\r\n"
        + b64_lines(certs_only)
        + f"\r\n--{boundary}--\r\n"
    )
    head = (
        f'Content-Type: multipart/related; boundary="{boundary}"; '
        f'type="application/ediint-cert-exchange+xml"; start="<{root_id}>"\r\n\r\n'
    )
    return (head + body).encode()


def sign(entity, key_and_cert_pem):
    pem = read(key_and_cert_pem)
    key = serialization.load_pem_private_key(pem, password=None)
    cert = x509.load_pem_x509_certificate(pem[pem.index(b"-----BEGIN CERTIFICATE") :])
    options = [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(entity)
        .add_signer(cert, key, hashes.SHA256())
        .sign(serialization.Encoding.DER, options)
    )


def send_request(spec):
    if "respond_in" in spec:
        at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=spec["respond_in"])
        spec["respond_by"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    entity = related_entity(spec)
    boundary = "sig-" + uuid.uuid4().hex
    signature = sign(entity, spec["sign_key"])
    body = (
        f"--{boundary}\r\n".encode()
        + entity
        + f"\r\n--{boundary}\r\n".encode()
        + b'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\n'
        + b"Content-Transfer-Encoding: base64\r\n\r\n"
        + b64_lines(signature).encode()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    message_id = f"<cem-{uuid.uuid4().hex}@partner.example>"
    headers = {
        "AS2-Version": "1.2",
        "AS2-From": spec["as2_from"],
        "AS2-To": spec["as2_to"],
        "Message-ID": message_id,
        "Subject": "Certificate Exchange Request",
        "EDIINT-Features": "CEM",
        "MIME-Version": "1.0",
        "Disposition-Notification-To": "cem@partner.example",
        "Disposition-Notification-Options": "signed-receipt-protocol=optional, pkcs7-signature; "
        "signed-receipt-micalg=optional, sha-256",
        "Content-Type": f'multipart/signed; protocol="application/pkcs7-signature"; '
        f'micalg=sha-256; boundary="{boundary}"',
    }
    request = urllib.request.Request(spec["url"], data=body, headers=headers, method="POST")
    context = ssl._create_unverified_context()  # the tests' servers use self-signed certificates
    try:
        with urllib.request.urlopen(request, timeout=60, context=context) as response:
            status, answer_headers, answer = response.status, response.headers.items(), response.read()
    except urllib.error.HTTPError as e:
        status, answer_headers, answer = e.code, e.headers.items(), e.read()
    head = "".join(f"{k}: {v}\r\n" for k, v in answer_headers).encode()
    mdn = message_from_bytes(head + b"\r\n" + answer)
    fields = {}
    for part in mdn.walk():
        if part.get_content_type() == "message/disposition-notification":
            payload = part.get_payload()
            inner = payload[-1] if isinstance(payload, list) else message_from_bytes(payload.encode())
            fields = dict(inner.items())
    mic = base64.b64encode(hashlib.sha256(entity).digest()).decode()
    return {
        "http_status": status,
        "message_id": message_id,
        "disposition": fields.get("Disposition", "").strip(),
        "original_message_id": fields.get("Original-Message-ID", "").strip(),
        "mic": fields.get("Received-Content-MIC", "").strip(),
        "expected_mic": f"{mic}, sha-256",
        "features": dict((k.lower(), v) for k, v in answer_headers).get("ediint-features", ""),
        "mdn_signed": mdn.get_content_type() == "multipart/signed",
        "respond_by": spec["respond_by"],
    }


def check_response(spec):
    """A CEM response as received: its AS2 headers, its signature (with our partner's
    certificate, which the partner already trusts) and what its XML says."""
    raw = read(spec["message"])
    message = BytesParser(policy=compat32).parsebytes(raw)
    result = {
        "as2_from": message.get("AS2-From", ""),
        "as2_to": message.get("AS2-To", ""),
        "content_type": message.get_content_type(),
    }
    boundary = message.get_param("boundary")
    body = raw.split(b"\r\n\r\n", 1)[1]
    delimiter = b"--" + boundary.encode()
    parts = body.split(delimiter)
    signed_entity = parts[1][2:-2]  # between the CRLF after the delimiter and the one before the next
    signature_part = BytesParser(policy=compat32).parsebytes(parts[2].lstrip(b"\r\n"))
    signature = signature_part.get_payload(decode=True)
    try:
        verify_message(signed_entity, signature, asymmetric.load_certificate(read(spec["verify_cert"])))
        result["signature_ok"] = True
    except Exception as e:  # noqa: BLE001 - the failure's text is the test's message
        result["signature_ok"] = False
        result["signature_error"] = str(e)
    entity = BytesParser(policy=compat32).parsebytes(signed_entity)
    result["entity_type"] = entity.get_content_type()
    root = ET.fromstring(entity.get_payload(decode=True))
    ns = {"e": EDIINT, "ds": DSIG}
    result["root"] = root.tag.split("}")[-1]
    result["request_id"] = root.findtext("e:RequestID", namespaces=ns)
    result["trust"] = [
        {
            "status": t.findtext("e:CertStatus", namespaces=ns),
            "reason": t.findtext("e:RejectionReason", namespaces=ns),
            "serial": t.findtext("ds:X509IssuerSerial/ds:X509SerialNumber", namespaces=ns),
        }
        for t in root.findall("e:TrustResponse", ns)
    ]
    return result


def main():
    mode, spec = sys.argv[1], json.loads(read(sys.argv[2]))
    result = send_request(spec) if mode == "request" else check_response(spec)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
