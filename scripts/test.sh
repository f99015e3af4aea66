#!/usr/bin/env bash
# test.sh — everything CI checks (run it with `make test`).
#
# 1. installs (or finds) a nats-server and exports its path as NATS_SERVER_BIN,
#    so the integration tests can start their own throw-away servers;
# 2. checks formatting (cargo fmt), lints (cargo clippy, warnings are errors)
#    and runs the tests (cargo test).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

NATS_SERVER_BIN="$(scripts/install-nats-server.sh | tail -n1)"
export NATS_SERVER_BIN
echo "==> using nats-server $NATS_SERVER_BIN ($("$NATS_SERVER_BIN" --version))"

echo "==> cargo fmt --check"
cargo fmt --check

echo "==> cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

echo "==> cargo test"
cargo test
