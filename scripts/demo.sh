#!/usr/bin/env bash
# demo.sh — a two-minute tour of the toolkit (run it with `make demo`).
#
# 1. makes sure a nats-server is installed and builds the two tools;
# 2. starts a local JetStream server if nothing listens on the default URL
#    (nats://localhost:4222); if you set NATS_URL to another server, that
#    server is used and nothing is started;
# 3. publishes 3 course events with `publish`;
# 4. starts a fresh `listen` that asks for the whole history (--deliver-all)
#    without joining a queue group, so it replays every stored event from #1
#    (run the demo twice and the second replay shows #1 to #6).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-nats-server.sh >/dev/null
cargo build --bins
scripts/nats-server.sh ensure

echo
echo "==> Publishing 3 events to ${NATS_URL:-nats://localhost:4222} (JetStream stores them in a stream):"
published=$(./target/debug/publish --count 3)
echo "$published"
# The last line names the newest event's number: the size of the history.
history=$(echo "$published" | sed -n 's/.*as event #\([0-9]*\)$/\1/p' | tail -n1)

echo
echo "==> Now a new listener with --deliver-all and no queue group replays the channel's whole event history, all $history events from #1:"
./target/debug/listen --deliver-all --no-queue-group --count "$history"

echo
echo "==> Demo done. Try 'make listen' in one terminal and 'make publish' in another."
