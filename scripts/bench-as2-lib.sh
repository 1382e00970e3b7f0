# Shared by the AS2 bench scripts (bench-as2, bench-as2-cpu); source it after bench-lib.sh:
# the release binaries copied aside, the shipped AS2 example's deployment, berth started and
# stopped, and `openssl speed rsa2048`.
# Uses: $work (bench-lib.sh), SPEED_SECONDS, STEPS ('  []' for none), BIG_BYTES (the
# partner's message limit is twice it).

# A copy of the binary, its plugins and the load generator: a rebuild in the tree during the
# run changes nothing. BERTH_BINARIES names a folder with another build's berth and plugins, for
# a same-minute comparison with it. Sets $load.
copy_binaries() {
    mkdir -p "$work/bin"
    cp "${BERTH_BINARIES:-target/release}"/berth "${BERTH_BINARIES:-target/release}"/libberth_*.so \
        "$work/bin/"
    cp target/release/examples/as2_load "$work/bin/as2_load"
    load="$work/bin/as2_load"
}

say() { echo "$*" >&2; }

# as2_deployment DIR PORT STORE: the shipped AS2 example's operation (ACME -> BERTH, demo keys,
# signed and encrypted required), on 127.0.0.1, with room for the large message.
as2_deployment() {
    mkdir -p "$1/processes"
    cp -r certs "$1/certs"
    cat > "$1/berth.yaml" <<YAML
shared_server: { address: 127.0.0.1, port: $2 }
store: { enabled: $3 }
limits: { body_read_timeout_seconds: 600 }
YAML
    cat > "$1/processes/as2-bench.yaml" <<YAML
name: as2-bench
start:
  connector: as2-shared-server
  operation:
    as2_from: ACME
    as2_to: BERTH
    partner_certificate: certs/partner-acme.crt
    decryption_key: { key: certs/berth.key, certificate: certs/berth.crt }
    mdn_signing_key: { key: certs/berth.key, certificate: certs/berth.crt }
    require_signed: true
    require_encrypted: true
    max_message_bytes: $((BIG_BYTES * 2))
steps:
$STEPS
YAML
}

# run_berth DIR: start berth from the copy; sets $berth_pid
run_berth() {
    BERTH_LOG=warn "$work/bin/berth" run "$1" 2>>"$work/berth.log" &
    berth_pid=$!
    pids+=("$berth_pid")
}

stop_berth() {
    kill "$berth_pid"
    wait "$berth_pid" 2>/dev/null || true
}

# speed [N]: RSA-2048 signatures per second, one process or N. openssl speed divides by the
# user CPU time it spent (unless given -elapsed), so one process's figure is CPU time per sign.
speed() {
    local multi=()
    [[ -n ${1:-} ]] && multi=(-multi "$1")
    openssl speed -seconds "$SPEED_SECONDS" "${multi[@]}" rsa2048 2>/dev/null \
        | awk '/^rsa 2048 bits/ {print $6}'
}
