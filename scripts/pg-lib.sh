# A PostgreSQL from Debian's packages for the bench scripts, in a temporary folder on a free
# loopback port, with its defaults and fsync on. Source it, then `start_postgres`; it sets
# pg_bin, pg_dir, pg_port, and defines `psql` and `pg_url DB`; `stop_postgres` stops it and
# removes its folder (call it from the script's exit trap). PostgreSQL refuses to run as root,
# so as root it runs as the user `berth-pg`.

start_postgres() {
    if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' > /dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    fi
    pg_bin=$(dirname "$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -1)")
    # A folder of its own that its user can enter (the scripts' work folders are root's).
    pg_dir=$(mktemp -d)
    chmod 755 "$pg_dir"
    as_pg=()
    if [[ $(id -u) == 0 ]]; then
        id berth-pg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin berth-pg
        chown berth-pg "$pg_dir"
        as_pg=(runuser -u berth-pg --)
    fi
    pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U berth --auth=trust -E UTF8 --locale=C \
        --no-sync >/dev/null
    "${as_pg[@]}" "$pg_bin/postgres" -D "$pg_dir/data" -p "$pg_port" -k "$pg_dir" \
        -c listen_addresses=127.0.0.1 -c max_connections=200 >"$pg_dir/postgres.log" 2>&1 &
    pg_pid=$!
    for _ in $(seq 1 100); do
        "$pg_bin/pg_isready" -q -h "$pg_dir" -p "$pg_port" && return 0
        sleep 0.1
    done
    echo "PostgreSQL did not start; its log:" >&2
    cat "$pg_dir/postgres.log" >&2
    exit 1
}

# pg_ctl, since runuser does not pass a signal on to the server it started.
stop_postgres() {
    [[ -n ${pg_dir:-} ]] || return 0
    "${as_pg[@]}" "$pg_bin/pg_ctl" stop -D "$pg_dir/data" -m fast -s >/dev/null 2>&1 || true
    wait "$pg_pid" 2>/dev/null || true
    rm -rf "$pg_dir"
    pg_dir=
}

psql() { "$pg_bin/psql" -q -h "$pg_dir" -p "$pg_port" -U berth -d postgres "$@"; }
pg_url() { echo "postgres://berth@127.0.0.1:$pg_port/$1"; }
