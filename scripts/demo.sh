#!/usr/bin/env bash
# demo.sh — a two-minute tour of the toolkit (run it with `make demo`).
#
# 1. makes sure a nats-server is installed and builds the two tools (the
#    first build takes about a minute);
# 2. starts a local JetStream server if nothing listens on the default URL
#    (nats://localhost:4222); if you set NATS_URL to another server, that
#    server is used and nothing is started (scripts/nats-server.sh ensure
#    says which server it uses);
# 3. publishes 3 course events with `publish`;
# 4. starts a fresh `listen` that asks for the whole history (--deliver-all)
#    without joining a queue group, so it replays every stored event from #1
#    (run the demo twice and the second replay shows #1 to #6).
#
# Settings (environment variables):
#   NATS_URL                 the server (default nats://localhost:4222)
#   PUBLISH_BIN, LISTEN_BIN  the tools to run; when both are given nothing is
#                            built (the tests pass the binaries they built)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-nats-server.sh >/dev/null
if [[ -z "${PUBLISH_BIN:-}" || -z "${LISTEN_BIN:-}" ]]; then
    if [[ ! -x target/debug/publish || ! -x target/debug/listen ]]; then
        echo "==> Building the tools (cargo build --bins; the first build takes about a minute):"
    fi
    cargo build --bins
fi
PUBLISH_BIN="${PUBLISH_BIN:-./target/debug/publish}"
LISTEN_BIN="${LISTEN_BIN:-./target/debug/listen}"
NATS_STARTED_BY="${NATS_STARTED_BY:-make demo}" scripts/nats-server.sh ensure

# The URL as the tools show it: a password or token in it hidden.
url="$(sed -E -e 's#(://[^:@/,]*):[^@/,]*@#\1:***@#g' -e 's#://[^:@/,]+@#://***@#g' <<<"${NATS_URL:-nats://localhost:4222}")"

echo
echo "==> Publishing 3 events to $url (JetStream stores them in a stream):"
published=$("$PUBLISH_BIN" --count 3)
echo "$published"
# The last line names the newest event's number: the size of the history.
history=$(echo "$published" | sed -n 's/.*as event #\([0-9]*\)$/\1/p' | tail -n1)

echo
echo "==> Now a new listener with --deliver-all and no queue group replays the channel's whole event history, all $history events from #1:"
"$LISTEN_BIN" --deliver-all --no-queue-group --count "$history"

echo
echo "==> Demo done. Try 'make listen' in one terminal and 'make publish' in another."
