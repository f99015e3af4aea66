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
#   3. otherwise it installs Debian's shellcheck package with apt-get, when it
#      runs as root on a system that has apt-get (a CI container, say).
#
# When none of these works it says why and exits 1, printing no path:
# scripts/test.sh then skips the check with a notice instead of failing.
set -euo pipefail

log() { echo "install-shellcheck: $*" >&2; }

# shellcheck source=scripts/lib/install.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/install.sh"

# 1. An explicit choice wins; 2. one already on PATH.
explicit_or_on_path SHELLCHECK_BIN shellcheck

# 3. Debian's package, installed as root.
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
