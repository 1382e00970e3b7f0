"""Send a batch of AS2 messages with pyas2lib, an independent AS2 implementation, and check the
MDNs berth returns: pyas2lib verifies each MDN's signature and (for signed messages) its MIC;
this script also checks the MIC of unsigned messages, which pyas2lib leaves alone.

Input: a JSON file (argument 1) with `url`, optional `async_wait` seconds, optional `mdn_url`
(where asynchronous MDNs are to go, instead of this script's own receiver) and `cases`; each
case says how to build one message (see `build`); `headers` adds or replaces HTTP headers,
`drop_headers` removes some, and `folds` sends some of them folded (see `post_folded`);
`keep_bytes` adds the body sent and the answer's body, base64. Output: a JSON list on stdout,
one result per case and per send (`repeat` sends the same message again, same Message-ID).

Run by the Rust end-to-end tests in tests/tests/as2_*.rs with the virtualenv scripts/test makes.
"""

import base64
import hashlib
import http.client
import http.server
import json
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from email import message_from_bytes

import pyas2lib.as2 as as2

# Capture what pyas2lib encrypts: for an encrypted, unsigned message the Received-Content-MIC is
# computed over exactly this decrypted entity (RFC 4130 7.3.1), so the check needs it.
_encrypted_entities = []
_original_encrypt = as2.encrypt_message


def _capturing_encrypt(data, enc_alg, encrypt_cert, *args, **kwargs):
    _encrypted_entities.append(data)
    return _original_encrypt(data, enc_alg, encrypt_cert, *args, **kwargs)


as2.encrypt_message = _capturing_encrypt


class MdnSink(http.server.BaseHTTPRequestHandler):
    """Receives asynchronous MDNs, keyed by the Original-Message-ID they report."""

    received = {}
    lock = threading.Lock()

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        head = "".join(f"{k}: {v}\r\n" for k, v in self.headers.items()).encode()
        raw = head + b"\r\n" + body
        message_id = original_message_id(raw)
        with MdnSink.lock:
            MdnSink.received[message_id] = raw
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def original_message_id(raw):
    fields = notification_fields(raw)
    return (fields.get("Original-Message-ID") or "").strip().strip("<>")


def notification_fields(raw):
    """The fields of the message/disposition-notification part, signed or not."""
    for part in message_from_bytes(raw).walk():
        if part.get_content_type() == "message/disposition-notification":
            payload = part.get_payload()
            if isinstance(payload, list):
                return dict(payload[-1].items())
            return dict(message_from_bytes(payload.encode()).items())
    return {}


def human_text(raw):
    """The MDN's human-readable part, signed or not."""
    for part in message_from_bytes(raw).walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode("utf-8", "replace")
    return ""


def read(path):
    with open(path, "rb") as f:
        return f.read()


def build(case, mdn_url):
    """One pyas2lib message for a case: sign/digest, encrypt/enc_alg, compress, mdn mode."""
    org = as2.Organization(
        as2_name=case["as2_from"],
        sign_key=read(case["sign_key"]) if case.get("sign_key") else None,
        mdn_url=mdn_url,
        domain="partner.example",
    )
    mdn = case.get("mdn", "sync")
    partner = as2.Partner(
        as2_name=case["as2_to"],
        verify_cert=read(case["mdn_verify_cert"]) if case.get("mdn_verify_cert") else None,
        encrypt_cert=read(case["encrypt_cert"]) if case.get("encrypt_cert") else None,
        validate_certs=False,
        compress=case.get("compress", False),
        sign=bool(case.get("digest")),
        digest_alg=case.get("digest") or "sha256",
        encrypt=bool(case.get("enc_alg")),
        enc_alg=case.get("enc_alg") or "tripledes_192_cbc",
        mdn_mode={"none": None, "sync": "SYNC", "signed": "SYNC"}.get(mdn, "ASYNC"),
        mdn_digest_alg=case.get("mdn_digest", "sha256") if mdn in ("signed", "async-signed") else None,
        sign_alg=case.get("sign_alg", "rsassa_pkcs1v15"),
        key_enc_alg=case.get("key_enc_alg", "rsaes_pkcs1v15"),
    )
    message = as2.Message(org, partner)
    before = len(_encrypted_entities)
    message.build(
        base64.b64decode(case["payload_b64"]),
        filename=case.get("filename"),
        subject=case.get("subject", "AS2 Message"),
        content_type=case.get("content_type", "application/edi-x12"),
        message_id=case.get("message_id"),
    )
    entity = _encrypted_entities[-1] if len(_encrypted_entities) > before else None
    return message, entity


def post(url, headers, body):
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    context = ssl._create_unverified_context()  # the tests' servers use self-signed certificates
    try:
        with urllib.request.urlopen(request, timeout=60, context=context) as response:
            return response.status, response.headers.items(), response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.items(), e.read()


def fold(value, how, fold_with):
    """A field value folded with obsolete line folding (RFC 9112 5.2): `fold_with` is a line end
    and the whitespace that continues the field, put in place of the first space of the value
    (`first`), of every space (`every`), or before the value, right after the colon (`start`)."""
    if how == "first":
        return value.replace(" ", fold_with, 1)
    if how == "every":
        return value.replace(" ", fold_with)
    if how == "start":
        return fold_with + value
    raise ValueError(f"unknown fold {how}")


def post_folded(url, headers, body, folds):
    """POST over a socket with a head written by hand, its fields folded as `folds` says
    ({field name: [how, fold]}, names in any case): urllib would refuse to send such a head."""
    parts = urllib.parse.urlsplit(url)
    folds = {name.lower(): spec for name, spec in folds.items()}
    lines = [f"POST {parts.path or '/'} HTTP/1.1\r\n", f"Host: {parts.netloc}\r\n"]
    for name, value in headers.items():
        spec = folds.pop(name.lower(), None)
        if spec is None:
            lines.append(f"{name}: {value}\r\n")
        else:
            separator = "" if spec[0] == "start" else " "
            lines.append(f"{name}:{separator}{fold(value, *spec)}\r\n")
    if folds:
        raise ValueError(f"no such fields to fold: {sorted(folds)}")
    lines.append(f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    sock = socket.create_connection((parts.hostname, parts.port), timeout=60)
    if parts.scheme == "https":
        sock = ssl._create_unverified_context().wrap_socket(sock, server_hostname=parts.hostname)
    with sock:
        sock.sendall("".join(lines).encode("latin-1") + body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.getheaders(), response.read()


def expected_unsigned_mic(case, message, entity, body):
    """The MIC berth must report for an unsigned message: over the decrypted entity when
    encrypted, else over the content as sent; with the requested digest, else SHA-256."""
    alg = case.get("mdn_digest", "sha256") if case.get("mdn") in ("signed", "async-signed") else "sha256"
    data = entity if entity is not None else body
    return base64.b64encode(hashlib.new(alg, data).digest()).decode()


def check(case, message, entity, body, raw_mdn):
    result = {}
    if raw_mdn is None:
        return result
    parser = as2.Mdn()
    status, detail = parser.parse(raw_mdn, lambda mid, rec: message)
    fields = notification_fields(raw_mdn)
    result.update(
        status=status,
        detail=detail,
        disposition=fields.get("Disposition", ""),
        mdn_signed=message_from_bytes(raw_mdn).get_content_type() == "multipart/signed",
        original_message_id=fields.get("Original-Message-ID", "").strip(),
    )
    result["mdn_text"] = human_text(raw_mdn)
    mic_field = fields.get("Received-Content-MIC", "")
    result["mic"] = mic_field
    received = mic_field.split(",")[0].strip()
    if message.mic is not None:
        # pyas2lib compares signed messages' MICs itself (status processed/warning on mismatch).
        result["mic_ok"] = received == message.mic.decode()
    elif received:
        result["mic_ok"] = received == expected_unsigned_mic(case, message, entity, body)
    return result


def main():
    spec = json.loads(read(sys.argv[1]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MdnSink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # A test may name another receiver of asynchronous MDNs (one it starts late, to play a
    # partner whose server was down); the sink then waits for nothing.
    mdn_url = spec.get("mdn_url") or f"http://127.0.0.1:{server.server_address[1]}/mdn"

    sent = []
    for case in spec["cases"]:
        message, entity = build(case, mdn_url)
        headers = dict(message.headers)
        # Header names are case-insensitive: a replaced header must not travel twice.
        overrides = case.get("headers", {})
        for name in list(overrides) + case.get("drop_headers", []):
            headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
        headers.update(overrides)
        body = message.content
        if case.get("tamper"):
            body = body.replace(b"tamper-me", b"tamper-ME", 1)
        for attempt in range(case.get("repeat", 1)):
            url = case.get("url", spec["url"])
            if case.get("folds"):
                status, response_headers, response_body = post_folded(url, headers, body, case["folds"])
            else:
                status, response_headers, response_body = post(url, headers, body)
            raw = None
            if case.get("mdn", "sync") in ("sync", "signed") and response_body:
                head = "".join(f"{k}: {v}\r\n" for k, v in response_headers).encode()
                raw = head + b"\r\n" + response_body
            result = {
                "id": case["id"],
                "attempt": attempt,
                "message_id": message.message_id,
                "http_status": status,
                "http_body": response_body.decode("utf-8", "replace")[:300] if raw is None else "",
                "response_headers": {k.lower(): v for k, v in response_headers},
            }
            if case.get("keep_bytes"):
                # The exact bytes on the wire, for tests that compare them with berth's evidence.
                result["sent_b64"] = base64.b64encode(body).decode()
                result["answer_b64"] = base64.b64encode(response_body).decode()
            sent.append((case, message, entity, body, raw, result))

    deadline = time.time() + spec.get("async_wait", 30)
    waiting = {m.message_id for c, m, _, _, raw, _ in sent if c.get("mdn", "sync").startswith("async")}
    while time.time() < deadline:
        with MdnSink.lock:
            if waiting <= set(MdnSink.received):
                break
        time.sleep(0.05)

    results = []
    for case, message, entity, body, raw, result in sent:
        if case.get("mdn", "sync").startswith("async"):
            raw = MdnSink.received.get(message.message_id)
            result["async_received"] = raw is not None
        result.update(check(case, message, entity, body, raw))
        results.append(result)
    server.shutdown()
    json.dump(results, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
