#!/usr/bin/env bash
# nats-cluster.sh — a 3-node NATS JetStream cluster on this machine, to watch
# failover happen (run it with `make cluster`).
#
# Usage: scripts/nats-cluster.sh start|stop|status
#        scripts/nats-cluster.sh kill|restart NODE      (NODE: n1, n2 or n3)
#        scripts/nats-cluster.sh kill leader [CHANNEL]
#
#   start         start the three servers n1, n2 and n3 in the background (the
#                 ones already running are left alone), wait until they form
#                 a cluster with a JetStream leader, and print the NATS_URL to use
#   stop          stop all three (SIGTERM: a clean shutdown)
#   status        each node: running or not, its ports, who leads JetStream,
#                 and the streams and events it holds; then, per channel, the
#                 command that kills its stream's leader; exit 0 if all three
#                 run, 3 otherwise
#   kill NODE     kill one node at once (SIGKILL), as a crashed pod dies; its
#                 store stays on disk
#   kill leader [CHANNEL]
#                 kill the node that leads the stream storing CHANNEL (default
#                 ticket:created): the stream whose subjects hold the channel,
#                 and the leader the running nodes agree on (it waits while
#                 they elect one)
#   restart NODE  start that node again with the same store (stopping it
#                 first if it runs); it rejoins and catches up on what it missed
#   kill-mid-replay [EVENTS]
#                 the lesson of docs/kubernetes.md ("delete one pod while a
#                 durable listener replays: nothing is lost") on this machine:
#                 starts the cluster if needed, publishes EVENTS (default
#                 3000) with 3 replicas on a channel of its own, starts a
#                 durable listener replaying them (--deliver-all, --delay 1ms
#                 per event, so the replay takes a few seconds), kills
#                 (SIGKILL) the node that serves the durable once a third is
#                 printed, and checks that the listener printed every event
#                 exactly once. Exit 0 if so, 1 if not. The node stays down:
#                 `restart NODE` brings it back. Needs the built tools
#                 (`make build`; or PUBLISH_BIN and LISTEN_BIN)
#
# What to try (a fresh cluster; `make cluster` runs `start`):
#
#   scripts/nats-cluster.sh start
#   export NATS_URL=nats://127.0.0.1:4231,nats://127.0.0.1:4232,nats://127.0.0.1:4233
#   make publish ARGS="--replicas 3 --count 3"     # a stream kept on all 3 nodes
#   scripts/nats-cluster.sh status                 # which node leads the stream?
#   make publish ARGS="--replicas 3 --count 200000" &   # while it runs...
#   scripts/nats-cluster.sh kill leader ticket:created  # ...kill that leader
#   ./target/debug/listen --deliver-all --no-queue-group --count 200003 --json > events.json
#   wc -l events.json                              # 200003: each event once
#   scripts/nats-cluster.sh start                  # the killed node is back, catches up
#   scripts/nats-cluster.sh status                 # it holds every event again
#   scripts/nats-cluster.sh stop
#
# How it works: each server runs JetStream (-js) with a store of its own and
# a unique server name (-n n1), listens for the other servers on a route port
# (--cluster) and connects to theirs (--routes); servers with the same
# --cluster_name form one cluster. The JetStream servers elect a *meta leader*,
# which decides where streams live. A stream created with `--replicas 3` keeps
# a copy on every node; one copy is the stream's *leader*, which stores each
# event and confirms it once a majority (2 of 3) has it. Kill the leader and
# the other two elect a new one within seconds; the tools, given all three
# URLs, reconnect to a live node and send again what was not confirmed (with
# the same Nats-Msg-Id, so nothing is stored twice). With two of three nodes
# down there is no majority: the cluster stops accepting events until one is
# back.
#
# Settings (environment variables; use the same ones for every command):
#   NATS_CLUSTER_PORT          client port of n1, default 4231 (n2: +1, n3: +2)
#   NATS_CLUSTER_ROUTE_PORT    route port of n1, default 6231 (n2: +1, n3: +2)
#   NATS_CLUSTER_MONITOR_PORT  monitoring port of n1, default 8231 (n2: +1, n3: +2)
#   NATS_CLUSTER_NAME          the cluster's name, default course
#   NATS_CLUSTER_DIR           where the nodes keep their files, default .nats/cluster
#
# The servers listen on 127.0.0.1 only. Their files live in .nats/cluster/
# (git-ignored), one folder per node:
#   .nats/cluster/<node>/store/     JetStream data (survives kill and restart)
#   .nats/cluster/<node>/nats.log   server log
#   .nats/cluster/<node>/nats.pid   process id of the running server
# Delete .nats/cluster (after `stop`) to start from scratch.
#
# python3 reads the monitoring pages (/jsz), so curl and jq are not needed.
set -euo pipefail

HOST=127.0.0.1
NODES=(n1 n2 n3)
CLIENT_BASE="${NATS_CLUSTER_PORT:-4231}"
ROUTE_BASE="${NATS_CLUSTER_ROUTE_PORT:-6231}"
MONITOR_BASE="${NATS_CLUSTER_MONITOR_PORT:-8231}"
CLUSTER_NAME="${NATS_CLUSTER_NAME:-course}"
START_TIMEOUT_SECS=30
STOP_TIMEOUT_SECS=10

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/ports.sh
source "$SCRIPT_DIR"/lib/ports.sh
REPO_ROOT="$(dirname "$SCRIPT_DIR")"
CLUSTER_DIR="${NATS_CLUSTER_DIR:-$REPO_ROOT/.nats/cluster}"

usage() {
    echo "usage: $0 start|stop|status" >&2
    echo "       $0 kill|restart n1|n2|n3" >&2
    echo "       $0 kill leader [CHANNEL]     (the node leading CHANNEL's stream; default ticket:created)" >&2
    echo "       $0 kill-mid-replay [EVENTS]  (kill a node while a durable replays; default 3000 events)" >&2
    echo "  (env: NATS_CLUSTER_PORT=$CLIENT_BASE NATS_CLUSTER_ROUTE_PORT=$ROUTE_BASE" \
        "NATS_CLUSTER_MONITOR_PORT=$MONITOR_BASE NATS_CLUSTER_NAME=$CLUSTER_NAME)" >&2
    exit 2
}

die() {
    echo "nats-cluster.sh: $*" >&2
    exit 1
}

# A setting that cannot work: exit 2, like a bad argument.
bad_setting() {
    echo "nats-cluster.sh: $*" >&2
    exit 2
}

# Node n1 is index 0, n2 is 1, n3 is 2.
index_of() { echo $((${1#n} - 1)); }
client_port() { echo $((CLIENT_BASE + $(index_of "$1"))); }
route_port() { echo $((ROUTE_BASE + $(index_of "$1"))); }
monitor_port() { echo $((MONITOR_BASE + $(index_of "$1"))); }
node_dir() { echo "$CLUSTER_DIR/$1"; }
pid_file() { echo "$CLUSTER_DIR/$1/nats.pid"; }
log_file() { echo "$CLUSTER_DIR/$1/nats.log"; }
client_url() { echo "nats://$HOST:$(client_port "$1")"; }

# NATS_URL for the tools: every node, so they can fail over.
all_urls() {
    local node urls=()
    for node in "${NODES[@]}"; do urls+=("$(client_url "$node")"); done
    (
        IFS=,
        echo "${urls[*]}"
    )
}

# A path relative to the repository, for messages.
show_path() { echo "${1#"$REPO_ROOT"/}"; }

check_ports() {
    local base name all=() port
    for name in NATS_CLUSTER_PORT:$CLIENT_BASE NATS_CLUSTER_ROUTE_PORT:$ROUTE_BASE \
        NATS_CLUSTER_MONITOR_PORT:$MONITOR_BASE; do
        base="${name#*:}"
        if ! [[ "$base" =~ ^[0-9]+$ ]] || ((base < 1 || base + 2 > 65535)); then
            bad_setting "${name%%:*}='$base' is not a port number (it and the next two are used)"
        fi
        all+=("$base" $((base + 1)) $((base + 2)))
    done
    port="$(printf '%s\n' "${all[@]}" | sort | uniq -d | head -n1)"
    [[ -z "$port" ]] || bad_setting "port $port is set for two uses; client, route and monitoring ports must differ"
}

# Prints the pid of the node's server if it runs; nothing otherwise (and
# removes a stale pid file, which a killed server leaves behind).
running_pid() {
    local pid file
    file="$(pid_file "$1")"
    [[ -f "$file" ]] || return 0
    pid="$(tr -dc '0-9' <"$file")"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        # Guard against the pid having been reused by an unrelated program.
        if [[ ! -r "/proc/$pid/cmdline" ]] || tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q nats-server; then
            echo "$pid"
            return 0
        fi
    fi
    rm -f "$file"
}

# Facts from the monitoring page /jsz of each node in $@, one per line, each
# line starting with the node's name:
#   <node> leader <meta leader, or empty>
#   <node> held <streams> <events>        (what this node stores)
#   <node> stream <name> <replicas> <stream leader or -> <events this node holds> <subjects>
# <replicas> is the stream's configured number (config.num_replicas): the
# list of peers a node reports is longer while it has no leader. <subjects>
# are the stream's channels, comma-separated ("-" if none). A node whose page
# does not answer prints nothing. One python3 for all nodes: it takes a
# moment to start.
jsz() {
    local node args=()
    for node in "$@"; do args+=("$node" "$(monitor_port "$node")"); done
    python3 - "$HOST" "${args[@]}" <<'PYTHON'
import json
import sys
import urllib.request

host, nodes = sys.argv[1], sys.argv[2:]
for node, port in zip(nodes[::2], nodes[1::2]):
    try:
        url = f"http://{host}:{port}/jsz?streams=true&config=true"
        with urllib.request.urlopen(url, timeout=2) as response:
            jsz = json.load(response)
    except Exception:
        continue
    print(node, "leader", (jsz.get("meta_cluster") or {}).get("leader") or "")
    print(node, "held", jsz.get("streams", 0), jsz.get("messages", 0))
    for account in jsz.get("account_details") or []:
        for stream in account.get("stream_detail") or []:
            cluster = stream.get("cluster") or {}
            config = stream.get("config") or {}
            replicas = config.get("num_replicas") or 1 + len(cluster.get("replicas") or [])
            leader = cluster.get("leader") or "-"
            messages = (stream.get("state") or {}).get("messages", 0)
            subjects = ",".join(config.get("subjects") or []) or "-"
            print(node, "stream", stream.get("name"), replicas, leader, messages, subjects)
PYTHON
}

# The JetStream meta leader as node $1 sees it (empty if none).
meta_leader() { jsz "$1" | sed -n "s/^$1 leader //p"; }

# The nodes among $@ that see a meta leader.
with_leader() { jsz "$@" | awk '$2 == "leader" && $3 != "" { print $1 }'; }

# The nodes that run, one per line.
running_nodes() {
    local node
    for node in "${NODES[@]}"; do
        if [[ -n "$(running_pid "$node")" ]]; then echo "$node"; fi
    done
}

# Reads the facts of `jsz` on stdin and prints, per stream, sorted by name:
#   <stream> <leader> <subjects>
# <leader> is the stream leader that the running nodes $@ agree on: named by
# the most of them, by two at least (one for a stream with one replica), and
# running itself. While they elect one, or name a node that just died, it is -.
stream_leaders() {
    awk -v running=" $* " '
        $2 == "stream" {
            s = $3
            seen[s] = 1
            subjects[s] = $7
            if ($4 + 0 > replicas[s]) replicas[s] = $4 + 0
            if ($5 != "-") votes[s SUBSEP $5]++
        }
        END {
            for (s in seen) {
                need = replicas[s] >= 2 ? 2 : 1
                best = "-"
                most = 0
                for (k in votes) {
                    split(k, key, SUBSEP)
                    if (key[1] == s && votes[k] > most) { most = votes[k]; best = key[2] }
                }
                if (most < need || index(running, " " best " ") == 0) best = "-"
                print s, best, subjects[s]
            }
        }' | sort
}

# The stream name the toolkit used for a channel before it added hash
# suffixes: uppercase, every character outside A-Z 0-9 _ - replaced by _.
# Only a fallback: streams are found by their subjects first.
mapped_stream_name() {
    tr '[:lower:]' '[:upper:]' <<<"$1" | sed 's/[^A-Z0-9_-]/_/g'
}

# Prints "<stream> <leader>" for the stream that stores channel $1 (the one
# whose subjects hold it, else the one named after it), with leader - while
# the running nodes agree on none; prints nothing if there is no such stream.
channel_stream_leader() {
    local channel="$1" mapped running stream leader subjects by_name=""
    mapfile -t running < <(running_nodes)
    ((${#running[@]} > 0)) || return 0
    mapped="$(mapped_stream_name "$channel")"
    while read -r stream leader subjects; do
        [[ -n "$stream" ]] || continue
        if [[ ",$subjects," == *",$channel,"* ]]; then
            echo "$stream $leader"
            return 0
        fi
        if [[ "$stream" == "$mapped" ]]; then by_name="$stream $leader"; fi
    done < <(jsz "${running[@]}" | stream_leaders "${running[@]}")
    if [[ -n "$by_name" ]]; then echo "$by_name"; fi
    return 0
}

# Shows the end of what node $1 logged since byte offset $2.
show_log_tail() {
    local file
    file="$(log_file "$1")"
    if [[ -s "$file" ]]; then
        echo "--- last lines of $(show_path "$file") ---" >&2
        tail -c +"$((${2:-0} + 1))" "$file" | tail -n 15 >&2
        echo "---" >&2
    fi
}

NATS_BIN=""
server_bin() {
    if [[ -z "$NATS_BIN" ]]; then
        NATS_BIN="$("$SCRIPT_DIR/install-nats-server.sh" | tail -n1)"
        [[ -x "$NATS_BIN" ]] || die "no nats-server binary available (see the messages above)"
    fi
    echo "$NATS_BIN"
}

# Pids and log offsets of the nodes launched by this run, by node.
declare -A LAUNCHED=() LOG_OFFSET=()

# Starts node $1 in the background, with its store, routed to the other two.
launch() {
    local node="$1" bin other routes=() port
    bin="$(server_bin)"
    for port in "$(client_port "$node")" "$(route_port "$node")" "$(monitor_port "$node")"; do
        if port_in_use "$port"; then
            die "port $port, needed by $node, is already in use by another program.
  Stop that program, or move the cluster to other ports (and use the same
  settings for every command), e.g.:
    export NATS_CLUSTER_PORT=4331 NATS_CLUSTER_ROUTE_PORT=6331 NATS_CLUSTER_MONITOR_PORT=8331"
        fi
    done
    for other in "${NODES[@]}"; do
        [[ "$other" == "$node" ]] || routes+=("nats://$HOST:$(route_port "$other")")
    done
    mkdir -p "$(node_dir "$node")/store"
    rm -f "$(pid_file "$node")"
    local log offset=0
    log="$(log_file "$node")"
    [[ -f "$log" ]] && offset="$(wc -c <"$log")"
    # setsid + nohup: the server gets its own session, so it keeps running
    # after this script returns and a Ctrl-C in this terminal does not reach it.
    local launcher=(nohup)
    if command -v setsid >/dev/null 2>&1; then launcher=(setsid nohup); fi
    # shellcheck disable=SC2094 # stdout/stderr (rare early errors) go to the log too
    "${launcher[@]}" "$bin" -js -sd "$(node_dir "$node")/store" -n "$node" \
        -a "$HOST" -p "$(client_port "$node")" -m "$(monitor_port "$node")" \
        --cluster_name "$CLUSTER_NAME" --cluster "nats://$HOST:$(route_port "$node")" \
        --routes "$(
            IFS=,
            echo "${routes[*]}"
        )" \
        -l "$log" -P "$(pid_file "$node")" </dev/null >>"$log" 2>&1 &
    LAUNCHED[$node]=$!
    LOG_OFFSET[$node]=$offset
    disown "$!" 2>/dev/null || true # no "Killed"/"Done" job notices from bash
}

# Waits until every node in $@ accepts connections and sees a JetStream meta
# leader; fails with the logs of the nodes that are not ready.
wait_ready() {
    local deadline=$((SECONDS + START_TIMEOUT_SECS)) node pending ready
    while :; do
        pending=()
        ready=" $(with_leader "$@" | tr '\n' ' ')"
        for node in "$@"; do
            if [[ -n "${LAUNCHED[$node]:-}" ]] && ! kill -0 "${LAUNCHED[$node]}" 2>/dev/null; then
                show_log_tail "$node" "${LOG_OFFSET[$node]:-0}"
                die "$node exited right after starting (log: $(show_path "$(log_file "$node")"))"
            fi
            if [[ "$ready" != *" $node "* ]] || ! port_in_use "$(client_port "$node")"; then
                pending+=("$node")
            fi
        done
        ((${#pending[@]} == 0)) && break
        if ((SECONDS >= deadline)); then
            for node in "${pending[@]}"; do show_log_tail "$node" "${LOG_OFFSET[$node]:-0}"; done
            die "${pending[*]} did not join a cluster with a JetStream leader within ${START_TIMEOUT_SECS}s"
        fi
        sleep 0.2
    done
    # nats-server writes its own pid file; fall back to the pid we launched.
    for node in "$@"; do
        if [[ -n "${LAUNCHED[$node]:-}" && ! -s "$(pid_file "$node")" ]]; then
            echo "${LAUNCHED[$node]}" >"$(pid_file "$node")"
        fi
    done
}

describe() {
    echo "$1: $(client_url "$1") (route $(route_port "$1"), monitoring http://$HOST:$(monitor_port "$1"), store $(show_path "$(node_dir "$1")")/store)"
}

cmd_start() {
    local node pid started=()
    for node in "${NODES[@]}"; do
        pid="$(running_pid "$node")"
        if [[ -n "$pid" ]]; then
            echo "$node already running (pid $pid)"
        else
            launch "$node"
            started+=("$node")
        fi
    done
    wait_ready "${NODES[@]}"
    for node in "${started[@]}"; do echo "started $(describe "$node")"; done
    echo "cluster '$CLUSTER_NAME' is up; JetStream meta leader: $(meta_leader n1)"
    echo "Use all three servers, so the tools fail over between them:"
    echo "  export NATS_URL=$(all_urls)"
}

# Stops node $1 with SIGTERM (SIGKILL after a while); quiet if not running.
stop_node() {
    local node="$1" pid deadline
    pid="$(running_pid "$node")"
    if [[ -z "$pid" ]]; then
        echo "$node is not running (nothing to stop)"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + STOP_TIMEOUT_SECS))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            echo "$node (pid $pid) did not stop within ${STOP_TIMEOUT_SECS}s; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
    rm -f "$(pid_file "$node")"
    echo "$node stopped (was pid $pid)"
}

cmd_stop() {
    local node
    for node in "${NODES[@]}"; do stop_node "$node"; done
}

cmd_kill() {
    local node="$1" pid
    pid="$(running_pid "$node")"
    if [[ -z "$pid" ]]; then
        echo "$node is not running (nothing to kill)"
        return 0
    fi
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    rm -f "$(pid_file "$node")"
    echo "$node killed (SIGKILL, was pid $pid); its store $(show_path "$(node_dir "$node")")/store is kept"
    echo "Bring it back with: $0 restart $node"
}

# Kills the node that leads the stream of channel $1, once the running nodes
# agree on which one it is.
cmd_kill_leader() {
    local channel="$1" found stream leader running waited="" deadline=$((SECONDS + START_TIMEOUT_SECS))
    while :; do
        running="$(running_nodes | wc -l)"
        ((running > 0)) || die "no node of the cluster is running (start them with: $0 start)"
        found="$(channel_stream_leader "$channel")"
        if [[ -z "$found" ]]; then
            die "no stream stores channel $channel on this cluster (see \`$0 status\`). Publish to it first, e.g.:
  make publish ARGS=\"--replicas 3 --channel $channel\""
        fi
        read -r stream leader <<<"$found"
        [[ "$leader" == - ]] || break
        if ((running < 2)); then
            die "only one node runs, so the stream of channel $channel ($stream) has no majority and no leader to kill"
        fi
        if ((SECONDS >= deadline)); then
            die "the running nodes did not agree on a leader for the stream of channel $channel ($stream) within ${START_TIMEOUT_SECS}s (see \`$0 status\`)"
        fi
        if [[ -z "$waited" ]]; then
            echo "The stream of channel $channel ($stream) has no leader right now (an election is under way): waiting for one..."
            waited=yes
        fi
        sleep 0.2
    done
    echo "$leader leads the stream of channel $channel ($stream): killing it."
    cmd_kill "$leader"
}

cmd_restart() {
    local node="$1" other running=0
    stop_node "$node" >/dev/null
    launch "$node"
    for other in "${NODES[@]}"; do
        if [[ "$other" == "$node" || -n "$(running_pid "$other")" ]]; then running=$((running + 1)); fi
    done
    if ((running < 2)); then
        # Alone, a node cannot elect a JetStream leader: only wait until it listens.
        local deadline=$((SECONDS + START_TIMEOUT_SECS))
        until port_in_use "$(client_port "$node")"; do
            kill -0 "${LAUNCHED[$node]}" 2>/dev/null || {
                show_log_tail "$node" "${LOG_OFFSET[$node]}"
                die "$node exited right after starting"
            }
            ((SECONDS < deadline)) || die "$node did not accept connections within ${START_TIMEOUT_SECS}s"
            sleep 0.1
        done
        echo "restarted $(describe "$node")"
        echo "Note: the other nodes are down, so JetStream has no majority and no leader;" \
            "start them with \`$0 restart n?\` or \`$0 start\`"
        return 0
    fi
    wait_ready "$node"
    echo "restarted $(describe "$node")"
    echo "$node rejoined the cluster (JetStream meta leader: $(meta_leader "$node")); it catches up" \
        "on the events it missed: watch with \`$0 status\`"
}

cmd_status() {
    local node pid rc=0 facts running=() who kind rest answered streams events name replicas sleader
    for node in "${NODES[@]}"; do
        if [[ -n "$(running_pid "$node")" ]]; then running+=("$node"); fi
    done
    facts=""
    if ((${#running[@]} > 0)); then facts="$(jsz "${running[@]}")"; fi
    for node in "${NODES[@]}"; do
        pid="$(running_pid "$node")"
        if [[ -z "$pid" ]]; then
            rc=3
            if port_in_use "$(client_port "$node")"; then
                echo "$node: not running (but another program listens on port $(client_port "$node"))"
            else
                echo "$node: not running"
            fi
            continue
        fi
        echo "$node: running, pid $pid, $(client_url "$node"), monitoring http://$HOST:$(monitor_port "$node")"
        answered=""
        while read -r who kind rest; do
            [[ "$who" == "$node" ]] || continue
            answered=yes
            case "$kind" in
            leader)
                echo "    JetStream meta leader: ${rest:-none (no majority yet)}"
                ;;
            held)
                read -r streams events <<<"$rest"
                echo "    holds $streams streams, $events events"
                ;;
            stream)
                read -r name replicas sleader events subjects <<<"$rest"
                if [[ "$sleader" == - ]]; then sleader="no leader"; else sleader="leader $sleader"; fi
                if [[ "$subjects" == - ]]; then subjects=""; else subjects="channel ${subjects//,/, }, "; fi
                echo "    stream $name ($subjects$replicas replicas, $sleader): $events events here"
                ;;
            esac
        done <<<"$facts"
        if [[ -z "$answered" ]]; then
            echo "    (monitoring port $(monitor_port "$node") does not answer)"
        fi
    done
    if ((rc == 0)); then echo "NATS_URL=$(all_urls)"; fi
    # Per channel, the exact command that kills its stream's leader (with two
    # nodes running at least: one alone has no majority, so no leaders).
    local commands=() comments=() channel width=0 i
    if ((${#running[@]} >= 2)); then
        while read -r name sleader subjects; do
            [[ -n "$name" && "$subjects" != - ]] || continue
            channel="${subjects%%,*}"
            commands+=("$0 kill leader $(printf '%q' "$channel")")
            if [[ "$sleader" == - ]]; then comments+=("no leader right now"); else comments+=("now $sleader"); fi
            ((${#commands[-1]} <= width)) || width=${#commands[-1]}
        done < <(stream_leaders "${running[@]}" <<<"$facts")
    fi
    if ((${#commands[@]} > 0)); then
        echo "To kill the node that leads a channel's stream (the others elect a new leader):"
        for i in "${!commands[@]}"; do
            printf '  %-*s  # %s\n' "$width" "${commands[$i]}" "${comments[$i]}"
        done
    fi
    return "$rc"
}

# The node that leads consumer $2 of stream $1, as most running nodes that
# hold a copy of it report (empty while they name none).
consumer_leader() {
    local stream="$1" consumer="$2" node args=()
    while read -r node; do args+=("$(monitor_port "$node")"); done < <(running_nodes)
    python3 - "$HOST" "$stream" "$consumer" "${args[@]}" <<'PYTHON'
import collections
import json
import sys
import urllib.request

host, stream, consumer, ports = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
votes = collections.Counter()
for port in ports:
    try:
        url = f"http://{host}:{port}/jsz?consumers=true"
        with urllib.request.urlopen(url, timeout=2) as response:
            jsz = json.load(response)
    except Exception:
        continue
    for account in jsz.get("account_details") or []:
        for detail in account.get("stream_detail") or []:
            if detail.get("name") != stream:
                continue
            for info in detail.get("consumer_detail") or []:
                leader = (info.get("cluster") or {}).get("leader")
                if info.get("name") == consumer and leader:
                    votes[leader] += 1
if votes:
    print(votes.most_common(1)[0][0])
PYTHON
}

# wait_printed PID DIR N EVENTS DEADLINE: waits until the listener PID has
# printed N lines into DIR/events.json; dies if it exits first (before it
# printed all EVENTS) or at DEADLINE (in $SECONDS).
wait_printed() {
    local pid="$1" dir="$2" want="$3" events="$4" deadline="$5" printed
    while :; do
        printed="$(wc -l <"$dir/events.json")"
        ((printed < want)) || return 0
        kill -0 "$pid" 2>/dev/null || {
            cat "$dir/listen.log" >&2
            die "the listener exited after $printed of $events events, before the kill (its messages are above)"
        }
        ((SECONDS < deadline)) || {
            kill "$pid" 2>/dev/null || true
            die "the listener printed only $printed events within ${START_TIMEOUT_SECS}s (log: $(show_path "$dir")/listen.log)"
        }
        sleep 0.05
    done
}

# The lesson: a durable listener replays EVENTS events while the node that
# serves it is killed; it prints every event once.
cmd_kill_mid_replay() {
    local events="$1" publish_bin listen_bin channel durable=replayer dir found stream leader
    local listener deadline killed_at rc=0 seqs count distinct first last twice
    publish_bin="${PUBLISH_BIN:-$REPO_ROOT/target/debug/publish}"
    listen_bin="${LISTEN_BIN:-$REPO_ROOT/target/debug/listen}"
    [[ -x "$publish_bin" && -x "$listen_bin" ]] ||
        die "the tools are not built ($(show_path "$publish_bin"), $(show_path "$listen_bin")): run \`make build\` first (or set PUBLISH_BIN and LISTEN_BIN)"
    cmd_start
    # A channel of its own, so the replay holds exactly these events.
    channel="lesson:kill-mid-replay-$(date +%s)-$$"
    dir="$CLUSTER_DIR/kill-mid-replay"
    mkdir -p "$dir"
    echo
    echo "1. Publishing $events events on $channel, each kept on all 3 nodes (--replicas 3)..."
    "$publish_bin" --server "$(all_urls)" --channel "$channel" --replicas 3 --count "$events" --quiet ||
        die "publish failed (see its message above)"
    echo "2. A durable listener ($durable) replays them (--deliver-all), 1 ms per event;"
    echo "   its lines go to $(show_path "$dir")/events.json"
    : >"$dir/events.json" # before the listener starts, for the polls below
    "$listen_bin" --server "$(all_urls)" --channel "$channel" --durable "$durable" --no-queue-group \
        --deliver-all --replicas 3 --delay 1ms --ack-wait 2s --count "$events" --json \
        >"$dir/events.json" 2>"$dir/listen.log" </dev/null &
    listener=$!
    # Which node leads the durable's consumer, once it is printing; then wait
    # for a third of the events to be printed, and kill that node at once.
    deadline=$((SECONDS + START_TIMEOUT_SECS))
    wait_printed "$listener" "$dir" 1 "$events" "$deadline"
    leader=""
    while [[ -z "$leader" ]]; do
        found="$(channel_stream_leader "$channel")"
        stream="${found%% *}"
        [[ -z "$stream" ]] || leader="$(consumer_leader "$stream" "$durable")"
        [[ -n "$leader" ]] || ((SECONDS < deadline)) || die "no node reports a leader for the durable $durable of $channel (see \`$0 status\`)"
        [[ -n "$leader" ]] || sleep 0.1
    done
    wait_printed "$listener" "$dir" $(((events + 2) / 3)) "$events" "$deadline"
    cmd_kill "$leader" >"$dir/kill.txt"
    killed_at="$(wc -l <"$dir/events.json")"
    if ((killed_at >= events)); then
        die "the replay had ended when $leader was killed, so nothing was shown: try more events, e.g. $0 kill-mid-replay $((events * 3))"
    fi
    echo "3. $killed_at of $events events printed; $leader serves the durable (leads its consumer): killing it."
    sed 's/^/   /' "$dir/kill.txt"
    echo "4. The other two elect a new leader for the durable, and the replay goes on..."
    deadline=$((SECONDS + 4 * START_TIMEOUT_SECS))
    while kill -0 "$listener" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            kill "$listener" 2>/dev/null || true
            die "the listener did not finish within $((4 * START_TIMEOUT_SECS))s after the kill ($(wc -l <"$dir/events.json") of $events printed; log: $(show_path "$dir")/listen.log)"
        fi
        sleep 0.1
    done
    wait "$listener" || rc=$?
    ((rc == 0)) || {
        cat "$dir/listen.log" >&2
        die "the listener exited with $rc (its messages are above)"
    }
    seqs="$(sed -n 's/^{"seq":\([0-9]*\),.*/\1/p' "$dir/events.json" | sort -n)"
    count="$(grep -c . <<<"$seqs" || true)"
    distinct="$(uniq <<<"$seqs" | grep -c . || true)"
    first="$(head -n1 <<<"$seqs")" last="$(tail -n1 <<<"$seqs")"
    twice="$(uniq -d <<<"$seqs" | head -n 5 | tr '\n' ' ')"
    # What the listener said meanwhile (reconnects, events that came back).
    sed -e '/^Listener connected/d' -e '/^Working on each event/d' -e 's/^/   listen: /' "$dir/listen.log"
    if ((count == events && distinct == events)) && [[ "$first" == 1 && "$last" == "$events" ]]; then
        echo "5. Every event printed exactly once: $count lines, events #1 to #$events, none missing, none twice."
        echo "   Nothing was lost when $leader died (it is still down: $0 restart $leader)."
        return 0
    fi
    echo "5. NOT every event printed exactly once: $count lines, $distinct different events (#${first:-none} to #${last:-none}) of $events${twice:+; printed twice: $twice}" >&2
    return 1
}

check_node() {
    case "$1" in
    n1 | n2 | n3) ;;
    *)
        echo "nats-cluster.sh: unknown node '$1': use n1, n2 or n3 (or, to kill, leader [CHANNEL])" >&2
        usage
        ;;
    esac
}

[[ $# -ge 1 ]] || usage
command="$1"
shift
case "$command" in
start | stop | status) [[ $# -eq 0 ]] || usage ;;
kill)
    [[ $# -ge 1 ]] || usage
    if [[ "$1" == leader ]]; then
        [[ $# -le 2 ]] || usage
    else
        [[ $# -eq 1 ]] || usage
        check_node "$1"
    fi
    ;;
restart)
    [[ $# -eq 1 ]] || usage
    check_node "$1"
    ;;
kill-mid-replay)
    [[ $# -le 1 ]] || usage
    if ! [[ "${1:-3000}" =~ ^[1-9][0-9]*$ ]]; then
        echo "nats-cluster.sh: kill-mid-replay takes a number of events (e.g. 3000), not '$1'" >&2
        usage
    fi
    ;;
-h | --help | help)
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
    exit 0
    ;;
*) usage ;;
esac
check_ports

case "$command" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
kill)
    if [[ "$1" == leader ]]; then cmd_kill_leader "${2:-ticket:created}"; else cmd_kill "$1"; fi
    ;;
restart) cmd_restart "$1" ;;
kill-mid-replay) cmd_kill_mid_replay "${1:-3000}" ;;
esac
