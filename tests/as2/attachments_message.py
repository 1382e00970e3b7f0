#!/usr/bin/env python3
"""Writes an AS2 message body with several attachments (RFC 6362) in DIR, in bounded memory,
without any of berth's code: a multipart/related entity, one body part per attachment, signed
(detached, SHA-256, `openssl cms -sign`) and encrypted (AES-256-CBC, DER, `openssl cms -encrypt
-stream`).

usage: attachments_message.py DIR SPEC.json SIGNER_CERT SIGNER_KEY RECIPIENT_CERT

SPEC: {"boundary": "...", "parts": [{"name": "a.edi", "type": "application/edi-x12",
"cte": "binary" | "base64", "data_b64": "..." | "size": BYTES}], "unterminated": false}; a part
with `size` gets that many random bytes; `unterminated` leaves the closing delimiter out (a
broken multipart entity, signed and encrypted all the same).

Prints one JSON line: the body's path and length, the MIC a receiver must return (SHA-256,
base64, over the signed multipart/related entity as written: RFC 4130 7.3.1, which RFC 6362
keeps for a message with several attachments), and each part's length and SHA-256 (hex) as a
receiver must deliver it (transfer encoding removed).
Used by the end-to-end tests in tests/tests/as2_attachments.rs.
"""
import base64
import hashlib
import json
import os
import subprocess
import sys

BLOCK = 1 << 20


def part_blocks(part):
    """The attachment's bytes, in blocks."""
    if "data_b64" in part:
        yield base64.b64decode(part["data_b64"])
        return
    left = part["size"]
    while left > 0:
        block = os.urandom(min(left, BLOCK))
        left -= len(block)
        yield block


def write_part(out, part, sha):
    """Writes one part's content in its transfer encoding; hashes the bytes it stands for."""
    length = 0
    carry = b""
    for block in part_blocks(part):
        sha.update(block)
        length += len(block)
        if part["cte"] == "base64":
            # Whole 57-byte groups make 76-character lines.
            data = carry + block
            cut = len(data) - len(data) % 57
            carry = data[cut:]
            for at in range(0, cut, 57):
                out.write(base64.b64encode(data[at:at + 57]) + b"\r\n")
        else:
            out.write(block)
    if part["cte"] == "base64":
        if carry:
            out.write(base64.b64encode(carry) + b"\r\n")
        return length, True
    return length, False


def write_entity(path, spec):
    """The multipart/related entity; returns each part's length and SHA-256."""
    boundary = spec["boundary"]
    parts = spec["parts"]
    described = []
    with open(path, "wb") as out:
        out.write(
            f'Content-Type: multipart/related; boundary="{boundary}"; '
            f'type="{parts[0]["type"]}"\r\n\r\n'.encode()
        )
        for part in parts:
            out.write(f"--{boundary}\r\n".encode())
            out.write(f"Content-Type: {part['type']}\r\n".encode())
            out.write(f"Content-Transfer-Encoding: {part['cte']}\r\n".encode())
            out.write(
                f'Content-Disposition: attachment; filename="{part["name"]}"\r\n\r\n'.encode()
            )
            sha = hashlib.sha256()
            length, ended_line = write_part(out, part, sha)
            # The line break before a delimiter belongs to it; base64 lines end in their own.
            out.write(b"" if ended_line else b"\r\n")
            described.append({"name": part["name"], "len": length, "sha256": sha.hexdigest()})
        if not spec.get("unterminated"):
            out.write(f"--{boundary}--\r\n".encode())
    return described


def file_sha256(path):
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(BLOCK):
            sha.update(chunk)
    return sha.digest()


def openssl(*args):
    done = subprocess.run(["openssl", *args], capture_output=True)
    if done.returncode != 0:
        sys.exit(f"openssl {args[0]} {args[1]}: {done.stderr.decode(errors='replace')}")


def main():
    out_dir, spec_file, signer_cert, signer_key, recipient = sys.argv[1:6]
    with open(spec_file) as f:
        spec = json.load(f)
    entity = os.path.join(out_dir, "related.msg")
    signed = os.path.join(out_dir, "signed.msg")
    body = os.path.join(out_dir, "body.der")
    parts = write_entity(entity, spec)
    mic = base64.b64encode(file_sha256(entity)).decode()
    openssl("cms", "-sign", "-binary", "-md", "sha256", "-in", entity,
            "-signer", signer_cert, "-inkey", signer_key, "-out", signed)
    os.remove(entity)
    openssl("cms", "-encrypt", "-binary", "-stream", "-aes-256-cbc", "-outform", "DER",
            "-in", signed, "-out", body, recipient)
    os.remove(signed)
    print(json.dumps({
        "body": body,
        "body_len": os.path.getsize(body),
        "mic": mic,
        "parts": parts,
    }))


if __name__ == "__main__":
    main()
