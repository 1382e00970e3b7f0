# Shared helpers of the bench scripts: wrk from Debian, free ports, waiting for a listener, and
# a measurement with a warm-up. Source it; it sets up a work folder removed on exit.

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}

if ! command -v wrk >/dev/null; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = string.rep("x", 128)
wrk.headers["content-type"] = "application/octet-stream"
LUA

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() {
    for _ in $(seq 1 200); do
        if (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "nothing listens on port $1" >&2
    exit 1
}

# measure URL -> requests per second (after a 2 s warm-up)
measure() {
    wrk -t"$THREADS" -c"$CONNECTIONS" -d1s -s "$work/post.lua" "$1" >/dev/null
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s "$work/post.lua" "$1" \
        | awk '/^Requests\/sec:/ {print $2}'
}

# deployment DIR PORT STORE(true|false) STEPS_YAML: a one-process HTTP deployment
deployment() {
    mkdir -p "$1/connections" "$1/processes"
    printf 'store:\n  enabled: %s\nadmin:\n  enabled: false\n' "$3" > "$1/berth.yaml"
    cat > "$1/connections/bench.yaml" <<YAML
name: bench
connector: http-server-legacy
settings: { address: 127.0.0.1, port: $2 }
YAML
    printf 'name: bench\nstart:\n  connector: http-server-legacy\n  connection: bench\n  operation: { path: /bench }\nsteps:\n%s\n' "$4" \
        > "$1/processes/bench.yaml"
}

# start_berth DIR: run berth in the background
start_berth() {
    BERTH_LOG=warn ./target/release/berth run "$1" &
    pids+=($!)
}
