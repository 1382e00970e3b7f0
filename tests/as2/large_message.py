#!/usr/bin/env python3
"""Writes a large AS2 message body in DIR, in bounded memory: an EDI-like payload of SIZE bytes,
compressed (RFC 3274 CompressedData, zlib, streaming BER written here since the system OpenSSL
has no zlib), signed (detached, SHA-256, `openssl cms -sign`), encrypted (AES-256-CBC, DER,
`openssl cms -encrypt -stream`).

usage: large_message.py DIR SIZE SIGNER_CERT SIGNER_KEY RECIPIENT_CERT

Prints one JSON line: the body's path and length, the payload's SHA-256 (hex) and the MIC a
receiver must return for it (SHA-256, base64, over the signed entity as written, RFC 4130 7.3.1).
Used by the end-to-end tests (tests/tests/as2_large.rs) and scripts/bench-large.
"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import zlib

SEGMENT = 1 << 16


def oid(dotted):
    return bytes([0x06, len(dotted)]) + bytes(dotted)


class Segments:
    """Writes data as BER OCTET STRING segments of 64 KiB inside a constructed OCTET STRING."""

    def __init__(self, out):
        self.out, self.buf = out, bytearray()

    def write(self, data):
        self.buf += data
        while len(self.buf) >= SEGMENT:
            self.segment(self.buf[:SEGMENT])
            del self.buf[:SEGMENT]

    def segment(self, data):
        n = len(data)
        self.out.write(bytes([0x04, 0x83, n >> 16 & 0xFF, n >> 8 & 0xFF, n & 0xFF]))
        self.out.write(data)

    def close(self):
        if self.buf:
            self.segment(bytes(self.buf))
        self.buf.clear()


def payload_blocks(size):
    """SIZE bytes of EDI-like lines: one 1 MiB block of random digits, numbered per block, so
    that no two blocks are alike and the text compresses as EDI does (about 2 to 3 times)."""
    rng = os.urandom(1 << 19).hex().translate(str.maketrans("abcdef", "123456"))
    lines, at = [], 0
    while at < (1 << 20):
        line = f"LIN+{at}++{rng[at % len(rng):at % len(rng) + 16]:0>16}:EN'QTY+21:7'\r\n"
        lines.append(line)
        at += len(line)
    block = "".join(lines).encode()[: 1 << 20]
    n = 0
    while size > 0:
        head = f"UNH+{n:016}+ORDERS'\r\n".encode()
        chunk = head + block[len(head):]
        take = min(size, len(chunk))
        yield chunk[:take]
        size -= take
        n += 1


def write_compressed(path, size):
    """The compressed MIME entity; returns the payload's SHA-256 (hex)."""
    sha = hashlib.sha256()
    with open(path, "wb") as out:
        out.write(
            b"Content-Type: application/pkcs7-mime; smime-type=compressed-data; name=smime.p7z\r\n"
            b"Content-Transfer-Encoding: binary\r\n\r\n"
        )
        zlib_oid = oid([0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x03, 0x08])
        out.write(b"\x30\x80" + oid([0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x01, 0x09]))
        out.write(b"\xA0\x80\x30\x80\x02\x01\x00")
        out.write(bytes([0x30, len(zlib_oid)]) + zlib_oid)
        out.write(b"\x30\x80" + oid([0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01]))
        out.write(b"\xA0\x80\x24\x80")
        segments = Segments(out)
        z = zlib.compressobj(1)
        segments.write(z.compress(
            b"Content-Type: application/edi-consent\r\nContent-Transfer-Encoding: binary\r\n"
            b"Content-Disposition: attachment; filename=\"large.edi\"\r\n\r\n"
        ))
        for block in payload_blocks(size):
            sha.update(block)
            segments.write(z.compress(block))
        segments.write(z.flush())
        segments.close()
        out.write(bytes(12))  # the six indefinite lengths end
    return sha.hexdigest()


def file_sha256(path):
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
    return sha.digest()


def openssl(*args):
    done = subprocess.run(["openssl", *args], capture_output=True)
    if done.returncode != 0:
        sys.exit(f"openssl {args[0]} {args[1]}: {done.stderr.decode(errors='replace')}")


def main():
    out_dir, size, signer_cert, signer_key, recipient = sys.argv[1:6]
    compressed = os.path.join(out_dir, "compressed.msg")
    signed = os.path.join(out_dir, "signed.msg")
    body = os.path.join(out_dir, "body.der")
    payload_sha256 = write_compressed(compressed, int(size))
    mic = base64.b64encode(file_sha256(compressed)).decode()
    openssl("cms", "-sign", "-binary", "-md", "sha256", "-in", compressed,
            "-signer", signer_cert, "-inkey", signer_key, "-out", signed)
    os.remove(compressed)
    openssl("cms", "-encrypt", "-binary", "-stream", "-aes-256-cbc", "-outform", "DER",
            "-in", signed, "-out", body, recipient)
    os.remove(signed)
    print(json.dumps({
        "body": body,
        "body_len": os.path.getsize(body),
        "payload_sha256": payload_sha256,
        "mic": mic,
    }))


if __name__ == "__main__":
    main()
