#!/usr/bin/env bash
# status.sh — what the NATS server holds: channels, events and subscriptions
# (run it with `make status`).
#
# In the course you opened http://localhost:8222/streaming/channelsz?subs=1 to
# see the NATS Streaming server's channels and their subscriptions. JetStream
# has no /streaming pages; the same facts are on the monitoring port's
# /jsz page instead:
#
#     http://localhost:8222/jsz?consumers=true&config=true
#
# (`consumers=true` adds each stream's consumers, `config=true` adds their
# settings such as the ack wait.) This script reads that page and prints, for
# each channel (a JetStream stream), its subjects and event count, and one row
# per subscription (a JetStream consumer):
#
#   NAME         the consumer's name: the queue group, the durable name, or a
#                random name for a listener of its own
#   QUEUE GROUP  the queue group it serves ("-" for none)
#   DURABLE      "yes" if the server keeps it when no listener is left
#   ACK WAIT     how long the server waits for an ack before delivering again
#   PENDING      events in the channel it has not been sent yet
#   ACK PENDING  events sent to a listener and not acked yet
#   REDELIVERED  events the server had to send again
#
# Usage: scripts/status.sh [CHANNEL]     (only that channel, e.g. ticket:created)
#
# Settings (environment variables):
#   NATS_MONITOR_URL   monitoring address, default http://localhost:8222
#                      (or http://localhost:$NATS_MONITOR_PORT if that is set)
#
# The local server from `make server` opens the monitoring port (-m 8222). For
# the server in your cluster, forward it first: `make port-forward`.
#
# python3 does the HTTP request and the JSON, so curl and jq are not needed.
set -euo pipefail

MONITOR_URL="${NATS_MONITOR_URL:-http://localhost:${NATS_MONITOR_PORT:-8222}}"

if [[ $# -gt 1 || "${1:-}" == -* ]]; then
    echo "usage: $0 [CHANNEL]" >&2
    exit 2
fi

exec python3 - "$MONITOR_URL" "${1:-}" <<'PYTHON'
import json
import sys
import urllib.request

monitor_url, only_channel = sys.argv[1].rstrip("/"), sys.argv[2]


def get(path):
    with urllib.request.urlopen(monitor_url + path, timeout=3) as response:
        return json.load(response)


try:
    jsz = get("/jsz?consumers=true&config=true")
    varz = get("/varz")
except Exception as err:  # refused, timed out, not JSON: all mean "no monitoring page"
    print(
        f"status.sh: no NATS monitoring page answered at {monitor_url} ({err}). "
        "Start the local server with 'make server' (it enables -m 8222), "
        "or forward your cluster's port 8222 with 'make port-forward'.",
        file=sys.stderr,
    )
    sys.exit(1)


def duration(nanos):
    """30000000000 -> '30s', 90 s -> '1m30s', 0.5 s -> '500ms'."""
    millis = nanos // 1_000_000
    if millis < 1000:
        return f"{millis}ms"
    seconds, millis = divmod(millis, 1000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    parts = [(hours, "h"), (minutes, "m"), (seconds, "s"), (millis, "ms")]
    return "".join(f"{n}{unit}" for n, unit in parts if n)


print(
    f"NATS server {varz.get('version', '?')} at {monitor_url} "
    f"(connections: {varz.get('connections', 0)}, up {varz.get('uptime', '?')})"
)
if jsz.get("disabled"):
    print(
        "JetStream is not enabled on this server, so it stores no channels. "
        "Start nats-server with --jetstream (see infra/k8s/nats-depl.yaml)."
    )
    sys.exit(1)

# /jsz nests: account_details[] -> stream_detail[] -> consumer_detail[].
streams = [
    stream
    for account in jsz.get("account_details") or []
    for stream in account.get("stream_detail") or []
]
if only_channel:
    streams = [
        s
        for s in streams
        if only_channel in s.get("config", {}).get("subjects", []) or s["name"] == only_channel
    ]
if not streams:
    what = f"channel {only_channel}" if only_channel else "channels"
    print(f"No {what} yet: publish an event first (make publish).")
    sys.exit(0)

HEADERS = ["NAME", "QUEUE GROUP", "DURABLE", "ACK WAIT", "PENDING", "ACK PENDING", "REDELIVERED"]

for stream in sorted(streams, key=lambda s: s["name"]):
    state = stream.get("state", {})
    subjects = stream.get("config", {}).get("subjects", [])
    events = state.get("messages", 0)
    span = f" (#{state.get('first_seq')} to #{state.get('last_seq')})" if events else ""
    print()
    print(f"Channel {', '.join(subjects) or '?'}  (stream {stream['name']})")
    print(f"  events: {events}{span}")
    consumers = stream.get("consumer_detail") or []
    if not consumers:
        print("  subscriptions: none")
        continue
    rows = []
    for consumer in sorted(consumers, key=lambda c: c["name"]):
        config = consumer.get("config", {})
        rows.append([
            consumer["name"],
            (config.get("metadata") or {}).get("queue_group", "-"),
            "yes" if config.get("durable_name") else "no",
            duration(config.get("ack_wait", 0)),
            str(consumer.get("num_pending", 0)),
            str(consumer.get("num_ack_pending", 0)),
            str(consumer.get("num_redelivered", 0)),
        ])
    widths = [max(len(row[i]) for row in rows + [HEADERS]) for i in range(len(HEADERS))]
    print(f"  subscriptions: {len(rows)}")
    for row in [HEADERS] + rows:
        print("    " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
PYTHON
