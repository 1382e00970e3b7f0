"""Folds a flat perf profile of berth (stdin: `perf report --no-children --sort dso,sym --stdio
-q`) into what the code does, for scripts/bench-as2-cpu. Argument: berth's CPU milliseconds per
message in the profiled round, to print each share as time per message too.

Self time only (no call graphs: unwinding through libcrypto's assembly is unreliable), so a
share is where the CPU was, not who asked for it. libcrypto's assembly (bignum, SHA, AES) has
no exported symbols; at 2 KB per message its bulk is the RSA private-key operations.
"""

import re
import sys
from collections import Counter

per_message_ms = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0

RULES = [
    # (category, dso pattern, symbol pattern)
    ("libcrypto assembly: RSA bignum (+ SHA, AES)", r"libcrypto", r"^\[unknown\]|^0x"),
    ("libcrypto RSA and BN, C side (blinding, padding)", r"libcrypto", r"^(BN_|bn_|RSA_|rsa_|ossl_rsa|ossl_bn)"),
    ("libcrypto ASN.1, X.509, CMS", r"libcrypto", r"(ASN1|asn1|d2i|i2d|X509|x509|CMS|cms_|OBJ_|c2i|i2c)"),
    ("libcrypto other: EVP, provider look-ups, locks, errors", r"libcrypto", r""),
    ("kernel: network, fsync, futex, scheduling, page faults", r"kernel", r""),
    ("store: SQLite", r"^berth$", r"^(sqlite3|wal|pager|btree|vdbe|pcache|balance|memjrnl|unixWrite|unixSync|fill|insertCell|freeSpace|computeCellSize)"),
    ("store: berth_store", r"^berth$", r"berth_store|rusqlite"),
    ("allocator (mimalloc)", r"^berth$", r"^(_?mi_|operator delete|operator new|mi_)"),
    ("HTTP (hyper, http)", r"^berth$", r"(hyper|http::|httparse|h2::)"),
    ("tokio (tasks, I/O driver, wake-ups)", r"^berth$", r"(tokio|mio|parking_lot)"),
    ("berth host code", r"^berth$", r"berth_"),
    ("berth other (std, tracing, ABI glue)", r"^berth$", r""),
    ("libc memory copies", r"libc", r"(memcpy|memmove|memset|memcmp|strlen|strcmp)"),
    ("libc other (locks, syscalls wrappers)", r"libc", r""),
    ("AS2 connector plugin (own code, MIME, DER, MDN)", r"libberth_as2", r""),
]

line_re = re.compile(r"^\s*([\d.]+)%\s+(\S+(?: \(deleted\))?)\s+\[(.)\]\s+(.*)$")
shares = Counter()
total = 0.0
for line in sys.stdin:
    m = line_re.match(line)
    if not m:
        continue
    pct, dso, _, sym = float(m.group(1)), m.group(2), m.group(3), m.group(4).strip()
    dso = dso.rsplit("/", 1)[-1]
    total += pct
    for name, dso_pat, sym_pat in RULES:
        if re.search(dso_pat, dso) and re.search(sym_pat, sym):
            shares[name] += pct
            break
    else:
        shares["other: " + dso] += pct

if total == 0:
    print("profile: no samples (perf could not record here)")
    sys.exit(0)
print("where berth's CPU goes (perf, self time; ms per message at the profiled round's rate):")
for name, pct in shares.most_common():
    share = pct / total
    print(f"  {share:6.1%}  {share * per_message_ms:6.3f} ms  {name}")
