#!/usr/bin/env bash
# nats-server.sh — run a local NATS server with JetStream for the course tools.
#
# Usage: scripts/nats-server.sh start|stop|status|restart|ensure [URL]
#
#   start    start a nats-server in the background (does nothing if it runs)
#   stop     stop the server started by `start`
#   status   tell whether it runs (exit 0) or not (exit 3)
#   restart  stop, then start
#   ensure   say which server the tools will use (make listen, make publish and
#            make demo run this first), and start this local server only if
#            URL (default: $NATS_URL, or nats://localhost:4222) names it and
#            nothing answers there. Then it says so loudly: the tools will use
#            a server on this machine, not the one in your Kubernetes cluster
#            (that one needs `make port-forward` running). A URL that names
#            another server (another port, a remote host, a list) is used as
#            it is, and no local server is ever started for it.
#
# Settings (environment variables):
#   NATS_PORT          client port, default 4222 (the tools connect here)
#   NATS_MONITOR_PORT  HTTP monitoring port, default 8222 (try /varz, /jsz)
#   NATS_DIR           where the server keeps its files, default .nats
#
#   NATS_STARTED_BY    who starts it, for the messages: `make server` unless
#                      the Makefile or a demo says otherwise (make demo, ...)
#
# The server listens on 127.0.0.1 only. Its files live in .nats/ (git-ignored):
#   .nats/store/<port>          JetStream data (streams survive restarts)
#   .nats/run/nats-<port>.log   server log
#   .nats/run/nats-<port>.pid   process id of the running server
#   .nats/run/nats-<port>.info  what it is: monitoring port, who started it,
#                               which binary and version
#
# A NATS_URL naming another local port (nats://localhost:4333) is the local
# server started on that port (NATS_PORT=4333 make server), when one runs.
# Delete .nats/store/<port> (or run `make distclean`) to start from scratch.
set -euo pipefail

NATS_HOST=127.0.0.1
NATS_PORT="${NATS_PORT:-4222}"
NATS_MONITOR_PORT="${NATS_MONITOR_PORT:-8222}"
START_TIMEOUT_SECS=10
STOP_TIMEOUT_SECS=10

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/ports.sh
source "$SCRIPT_DIR"/lib/ports.sh
REPO_ROOT="$(dirname "$SCRIPT_DIR")"
NATS_DIR="${NATS_DIR:-$REPO_ROOT/.nats}"
# A path relative to the repository when it is inside it, for messages.
show_path() { echo "${1#"$REPO_ROOT"/}"; }
NATS_DIR_REL="$(show_path "$NATS_DIR")"
RUN_DIR="$NATS_DIR/run"

# The files and URL of the local server on port $1 (NATS_PORT unless a
# NATS_URL names another local port one runs on).
use_port() {
    NATS_PORT="$1"
    STORE_DIR="$NATS_DIR/store/$NATS_PORT"
    STORE_DIR_REL="$(show_path "$STORE_DIR")"
    LOG_FILE="$RUN_DIR/nats-$NATS_PORT.log"
    LOG_FILE_REL="$(show_path "$LOG_FILE")"
    PID_FILE="$RUN_DIR/nats-$NATS_PORT.pid"
    INFO_FILE="$RUN_DIR/nats-$NATS_PORT.info"
    CLIENT_URL="nats://localhost:$NATS_PORT"
}
use_port "$NATS_PORT"

# info KEY: what the info file of the running server says of KEY (monitor,
# by, bin, version); empty when it does not say.
info() {
    [[ -f "$INFO_FILE" ]] || return 0
    sed -n "s/^$1=//p" "$INFO_FILE" | head -n1
}

# "make demo: nats-server v2.14.6 (.nats/bin/nats-server)": who started
# the running server, and the binary in use, as far as its info file says.
started_words() {
    local by version bin
    by="$(info by)"
    version="$(info version)"
    bin="$(info bin)"
    if [[ -n "$bin" ]]; then
        echo "${by:-make server}: nats-server ${version:-(version unknown)} ($(show_path "$bin"))"
    else
        echo "${by:-make server}"
    fi
}

usage() {
    echo "usage: $0 start|stop|status|restart|ensure [URL]" >&2
    echo "  (env: NATS_PORT=$NATS_PORT NATS_MONITOR_PORT=$NATS_MONITOR_PORT)" >&2
    exit 2
}

die() {
    echo "nats-server.sh: $*" >&2
    exit 1
}

is_port_number() { [[ "$1" =~ ^[0-9]+$ ]] && (("$1" >= 1 && "$1" <= 65535)); }

# "nats-server (pid 123)", or "another program" when the owner is unknown.
owner_words() {
    local name pid
    read -r name pid <<<"$(port_owner "$1")"
    if [[ -n "$name" ]]; then echo "$name (pid $pid)"; else echo "another program"; fi
}

# Prints the INFO line that a NATS server sends as soon as a client connects
# to 127.0.0.1:$1 (JSON: its version, "jetstream":true if it has JetStream),
# or nothing if no such greeting comes within 2 seconds.
server_info() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    local probe='exec 3<>"/dev/tcp/$0/$1" && IFS= read -r -t 2 line <&3 && printf "%s\n" "${line%$'"'"'\r'"'"'}"'
    if command -v timeout >/dev/null 2>&1; then
        timeout 3 bash -c "$probe" "$NATS_HOST" "$1" 2>/dev/null || true
    else
        bash -c "$probe" "$NATS_HOST" "$1" 2>/dev/null || true
    fi
}

# The URL $1 with its password or token hidden: nats://user:***@host, nats://***@host.
mask_url() {
    sed -E -e 's#(://[^:@/,]*):[^@/,]*@#\1:***@#g' -e 's#://[^:@/,]+@#://***@#g' <<<"$1"
}

# "make TARGET", with the NATS_PORT setting in front when it is not the default.
make_cmd() {
    if [[ "$NATS_PORT" == 4222 ]]; then echo "make $1"; else echo "NATS_PORT=$NATS_PORT make $1"; fi
}

# Prints the pid from the pid file if that process is alive and is a
# nats-server; prints nothing otherwise (and removes a stale pid file).
running_pid() {
    local pid
    [[ -f "$PID_FILE" ]] || return 0
    pid="$(tr -dc '0-9' <"$PID_FILE")"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        # Guard against the pid having been reused by an unrelated program.
        if [[ ! -r "/proc/$pid/cmdline" ]] || tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q nats-server; then
            echo "$pid"
            return 0
        fi
    fi
    rm -f "$PID_FILE"
}

# Shows the end of what the server logged since byte offset $1 of the log
# (the log keeps growing across runs; only this run's lines are of interest).
show_log_tail() {
    local from="${1:-0}"
    if [[ -s "$LOG_FILE" ]]; then
        echo "--- last lines of $LOG_FILE_REL ---" >&2
        tail -c +"$((from + 1))" "$LOG_FILE" | tail -n 20 >&2
        echo "---" >&2
    fi
}

cmd_start() {
    local bin pid deadline
    is_port_number "$NATS_PORT" || die "NATS_PORT='$NATS_PORT' is not a port number"
    is_port_number "$NATS_MONITOR_PORT" || die "NATS_MONITOR_PORT='$NATS_MONITOR_PORT' is not a port number"

    pid="$(running_pid)"
    if [[ -n "$pid" ]]; then
        echo "nats-server already running on $CLIENT_URL (pid $pid)"
        return 0
    fi

    if port_in_use "$NATS_PORT"; then
        die "port $NATS_PORT is already in use by $(owner_words "$NATS_PORT") (maybe a nats-server not started by this script, or a port-forward?).
  Use that server as it is, stop it, or pick another port for this server
  and for the tools, e.g.:
    export NATS_PORT=4333 NATS_URL=nats://localhost:4333
    make server"
    fi
    if port_in_use "$NATS_MONITOR_PORT"; then
        die "monitoring port $NATS_MONITOR_PORT is already in use by $(owner_words "$NATS_MONITOR_PORT").
  Stop it, or pick another port, e.g.: NATS_MONITOR_PORT=8333 make server"
    fi

    bin="$("$SCRIPT_DIR/install-nats-server.sh" | tail -n1)"
    [[ -x "$bin" ]] || die "no nats-server binary available (see the messages above)"

    mkdir -p "$STORE_DIR" "$RUN_DIR"
    rm -f "$PID_FILE"
    local log_offset=0
    [[ -f "$LOG_FILE" ]] && log_offset="$(wc -c <"$LOG_FILE")"
    # setsid + nohup: the server gets its own session, so it keeps running after
    # `make` returns and a Ctrl-C in this terminal does not reach it.
    # -js turns on JetStream; -sd is where JetStream keeps its data.
    local launcher=(nohup)
    if command -v setsid >/dev/null 2>&1; then launcher=(setsid nohup); fi
    # shellcheck disable=SC2094 # stdout/stderr (rare early errors) go to the log too
    "${launcher[@]}" "$bin" -js -a "$NATS_HOST" -p "$NATS_PORT" -m "$NATS_MONITOR_PORT" \
        -sd "$STORE_DIR" -l "$LOG_FILE" -P "$PID_FILE" \
        </dev/null >>"$LOG_FILE" 2>&1 &
    local launched_pid=$!
    disown "$launched_pid" 2>/dev/null || true # no "Killed"/"Done" job notices from bash

    # Wait until the server accepts connections, checking every 0.1 s.
    deadline=$((SECONDS + START_TIMEOUT_SECS))
    until port_in_use "$NATS_PORT"; do
        if ! kill -0 "$launched_pid" 2>/dev/null; then
            show_log_tail "$log_offset"
            die "nats-server exited right after starting (log: $LOG_FILE_REL)"
        fi
        if ((SECONDS >= deadline)); then
            kill -KILL "$launched_pid" 2>/dev/null || true
            rm -f "$PID_FILE"
            show_log_tail "$log_offset"
            die "nats-server did not accept connections on port $NATS_PORT within ${START_TIMEOUT_SECS}s (log: $LOG_FILE_REL)"
        fi
        sleep 0.1
    done
    # nats-server writes its own pid file; fall back to the pid we launched.
    [[ -s "$PID_FILE" ]] || echo "$launched_pid" >"$PID_FILE"
    local version
    version="$("$bin" --version 2>/dev/null | grep -o 'v[0-9][0-9.]*' | head -n1)" || true
    printf 'monitor=%s\nby=%s\nbin=%s\nversion=%s\n' "$NATS_MONITOR_PORT" \
        "${NATS_STARTED_BY:-make server}" "$bin" "$version" >"$INFO_FILE"

    echo "nats-server started on $CLIENT_URL by $(started_words)" \
        "(monitoring http://localhost:$NATS_MONITOR_PORT, store $STORE_DIR_REL, log $LOG_FILE_REL)"
}

cmd_stop() {
    local pid deadline
    pid="$(running_pid)"
    if [[ -z "$pid" ]]; then
        echo "nats-server is not running on $CLIENT_URL (nothing to stop)"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + STOP_TIMEOUT_SECS))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            echo "nats-server (pid $pid) did not stop within ${STOP_TIMEOUT_SECS}s; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
    rm -f "$PID_FILE" "$INFO_FILE"
    echo "nats-server stopped (was pid $pid on $CLIENT_URL)"
}

cmd_status() {
    local pid
    pid="$(running_pid)"
    if [[ -n "$pid" ]]; then
        local monitor
        monitor="$(info monitor)"
        echo "nats-server running on $CLIENT_URL, started by $(started_words)" \
            "(pid $pid, monitoring http://localhost:${monitor:-$NATS_MONITOR_PORT}, log $LOG_FILE_REL)"
        return 0
    fi
    if port_in_use "$NATS_PORT"; then
        echo "nats-server (started by this script) is not running, but another program listens on port $NATS_PORT"
    else
        echo "nats-server is not running on $CLIENT_URL"
    fi
    return 3
}

# True if URL $1 names this local server: host localhost or 127.0.0.1 and
# port NATS_PORT (4222 when the URL has no port). Accepts nats://, http:// or
# no scheme, with or without user:password@.
is_local_default_url() {
    local url="$1" scheme="" hostport host port
    [[ "$url" == *,* ]] && return 1 # a list of servers: not ours to manage
    if [[ "$url" == *://* ]]; then
        scheme="${url%%://*}"
        url="${url#*://}"
    fi
    case "$scheme" in "" | nats | http) ;; *) return 1 ;; esac
    hostport="${url%%/*}"       # drop any path
    hostport="${hostport##*@}"  # drop user:password@
    if [[ "$hostport" == *:* ]]; then
        host="${hostport%%:*}"
        port="${hostport#*:}"
    else
        host="$hostport"
        port=4222
    fi
    [[ "$host" == localhost || "$host" == 127.0.0.1 ]] || return 1
    [[ "$port" == "$NATS_PORT" ]]
}

# Notes of `ensure` go to stderr, so that they never mix with what the
# tools print on stdout.
note() { echo "$*" >&2; }

# The ports of URL list $1 when every server in it is on this machine
# (localhost, 127.0.0.1 or [::1]); nothing if any is elsewhere.
local_ports_of() {
    local entry hostport host port ports=()
    IFS=, read -r -a entries <<<"$1"
    for entry in "${entries[@]}"; do
        entry="${entry#*://}"
        hostport="${entry%%/*}"
        hostport="${hostport##*@}"
        case "$hostport" in
        \[*\]:*) host="${hostport%%]:*}]" port="${hostport##*]:}" ;;
        \[*\]) host="$hostport" port=4222 ;;
        *:*) host="${hostport%%:*}" port="${hostport#*:}" ;;
        *) host="$hostport" port=4222 ;;
        esac
        case "$host" in localhost | 127.0.0.1 | "[::1]") ;; *) return 0 ;; esac
        [[ "$port" =~ ^[0-9]+$ ]] || return 0
        ports+=("$port")
    done
    echo "${ports[*]}"
}

# Something listens on NATS_PORT, and it is not the server from `make server`:
# say what it is, as far as this machine can tell, and whether it has JetStream.
describe_foreign() {
    local shown="$1" name pid info version
    read -r name pid <<<"$(port_owner "$NATS_PORT")"
    case "$name" in
    kubectl*)
        note "Using the NATS server already running at $shown (not started by this toolkit's scripts;" \
            "kubectl, pid $pid, forwards it: your port-forward to the NATS server in your Kubernetes cluster)."
        ;;
    "") note "Using the NATS server already running at $shown (not started by this toolkit's scripts)." ;;
    *) note "Using the NATS server already running at $shown (not started by this toolkit's scripts; $name, pid $pid)." ;;
    esac
    info="$(server_info "$NATS_PORT")"
    if [[ -z "$info" ]]; then
        note "  But nothing greeted us there as a NATS server does, so the tools will fail to connect."
        if [[ "$name" == kubectl* ]]; then
            note "  A port-forward whose pod is gone still listens: stop it (Ctrl-C) and run \`make port-forward\` again."
        fi
    elif [[ "$info" == *'"jetstream":true'* ]]; then
        version=""
        if [[ "$info" =~ \"version\":\"([^\"]*)\" ]]; then version=" ${BASH_REMATCH[1]}"; fi
        note "  It answers as nats-server$version with JetStream."
    else
        note "  It does not announce JetStream, which the tools need to store events, so they will stop"
        note "  with an error (the course's nats-streaming server has no JetStream; see docs/kubernetes.md)."
        note "  Stop that server, or run this toolkit's own on other ports and point the tools at it:"
        note "    NATS_PORT=4333 NATS_MONITOR_PORT=8333 make server"
        note "    export NATS_URL=nats://localhost:4333"
    fi
}

cmd_ensure() {
    local url="${1:-${NATS_URL:-nats://localhost:4222}}" shown pid ports port answered=""
    shown="$(mask_url "$url")"
    # A local URL on another port: the local server started there, if one runs.
    ports="$(local_ports_of "$url")"
    if [[ "$ports" =~ ^[0-9]+$ && "$ports" != "$NATS_PORT" && -f "$RUN_DIR/nats-$ports.pid" ]]; then
        local default_port="$NATS_PORT"
        use_port "$ports"
        if [[ -n "$(running_pid)" ]] && is_local_default_url "$url"; then
            :
        else
            use_port "$default_port"
        fi
    fi
    if ! is_local_default_url "$url"; then
        # Another server: never start a local one in its place.
        note "Using NATS_URL=$shown as it is: it does not name the local server ($CLIENT_URL), so no local server is started."
        ports="$(local_ports_of "$url")"
        if [[ -n "$ports" ]]; then
            for port in $ports; do
                if port_in_use "$port"; then answered=yes; fi
            done
            if [[ -z "$answered" ]]; then
                note "  Nothing answers at $shown yet. Start that server first: \`make port-forward\`"
                note "  in another terminal for your cluster's server (LOCAL_PORT=<port> make port-forward for"
                note "  another local port), \`make cluster\` for the 3-node cluster; or unset NATS_URL to use"
                note "  the local server."
            fi
        fi
        return 0
    fi
    pid="$(running_pid)"
    if [[ -n "$pid" ]] && port_in_use "$NATS_PORT"; then
        note "Using the local NATS server at $shown, started by $(started_words) (pid $pid, store $STORE_DIR_REL)."
        return 0
    fi
    if port_in_use "$NATS_PORT"; then
        describe_foreign "$shown"
        return 0
    fi
    note ""
    note "*** Nothing answered at $shown."
    note "*** Starting a LOCAL nats-server in $NATS_DIR_REL/ on this machine (store $STORE_DIR_REL); the tools will use it."
    note "*** It is not the NATS server in your Kubernetes cluster. To use that one instead: stop this one"
    note "*** ($(make_cmd server-stop)), start \`make port-forward\` in another terminal and leave it running,"
    note "*** then run this again."
    cmd_start
}

[[ $# -ge 1 ]] || usage
command="$1"
shift
case "$command" in
start | stop | status | restart) [[ $# -eq 0 ]] || usage ;;
ensure) [[ $# -le 1 ]] || usage ;;
*) usage ;;
esac

case "$command" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
restart)
    cmd_stop
    cmd_start
    ;;
ensure) cmd_ensure "$@" ;;
esac
