# shellcheck shell=bash
# lib/ports.sh — what listens on a local TCP port. Sourced by nats-server.sh,
# nats-cluster.sh and port-forward.sh, not run.
#
# PORTS_HOST is the address to try (default 127.0.0.1).

# True if something accepts TCP connections on $PORTS_HOST:$1. Uses bash's
# built-in /dev/tcp, so no curl/nc is needed.
port_in_use() {
    local host="${PORTS_HOST:-127.0.0.1}"
    if command -v timeout >/dev/null 2>&1; then
        timeout 2 bash -c "exec 3<>/dev/tcp/$host/$1" 2>/dev/null
    else
        (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null
    fi
}

# Prints "<program> <pid>" of the process listening on TCP port $1 when ss
# (Linux) or lsof (macOS) can tell (only for your own processes, unless you
# are root); prints nothing otherwise.
port_owner() {
    local line
    if command -v ss >/dev/null 2>&1; then
        line="$(ss -Hltnp "sport = :$1" 2>/dev/null | head -n1)"
        if [[ "$line" =~ \(\(\"([^\"]*)\",pid=([0-9]+) ]]; then
            echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
            return 0
        fi
    fi
    if command -v lsof >/dev/null 2>&1; then
        lsof -nP -iTCP:"$1" -sTCP:LISTEN -Fpc 2>/dev/null |
            awk '/^p/ { pid = substr($0, 2) } /^c/ { print substr($0, 2), pid; exit }'
    fi
    return 0
}
