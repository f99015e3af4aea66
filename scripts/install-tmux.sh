#!/usr/bin/env bash
# install-tmux.sh — make tmux available, for tests/status_live.rs, which runs
# `status --live` in a real pseudo-terminal (tmux send-keys, capture-pane).
#
# Like install-shellcheck.sh, it finds one or installs one, and prints its
# absolute path as the LAST line of standard output (every other message goes
# to standard error):
#
#     TMUX_BIN="$(scripts/install-tmux.sh | tail -n1)"
#
# Where it looks, in order:
#   1. $TMUX_BIN, if you set it and it points to an executable file;
#   2. a tmux on your PATH;
#   3. one this script unpacked before, in .tools/tmux/ (git-ignored);
#   4. otherwise Debian's tmux package: installed with apt-get when it runs as
#      root (a CI container, say); else downloaded with `apt-get download`
#      (no root needed) with the libraries it needs, and unpacked with
#      `dpkg -x` into .tools/tmux/, with a wrapper bin/tmux that finds them.
#
# When none of these works it says why and exits 1, printing no path.
set -euo pipefail

log() { echo "install-tmux: $*" >&2; }

# shellcheck source=scripts/lib/install.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/install.sh"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools/tmux"

# 1. An explicit choice wins; 2. one already on PATH.
explicit_or_on_path TMUX_BIN tmux

# 3. One unpacked before.
if [[ -x "$tools/bin/tmux" ]] && "$tools/bin/tmux" -V >/dev/null 2>&1; then
    found "$tools/bin/tmux"
fi

# 4. Debian's package.
cannot() {
    log "tmux not found, and $*: install it yourself (Debian and Ubuntu: sudo apt-get install tmux; macOS: brew install tmux), or set TMUX_BIN=/path/to/tmux"
    exit 1
}

command -v apt-get >/dev/null 2>&1 || cannot "this system has no apt-get"

if [[ "$(id -u)" -eq 0 ]]; then
    log "installing Debian's tmux package (apt-get install tmux) ..."
    if ! apt_install tmux; then
        cannot "apt-get could not install it (see the messages above)"
    fi
    path_bin="$(command -v tmux 2>/dev/null)" || cannot "apt-get installed no tmux on PATH"
    log "installed $path_bin ($("$path_bin" -V))"
    found "$path_bin"
fi

# Not root: the package and the libraries it links, unpacked by hand.
command -v dpkg >/dev/null 2>&1 || cannot "this system has no dpkg to unpack Debian's package"
log "downloading Debian's tmux package and its libraries into $tools (apt-get download, dpkg -x) ..."
rm -rf "$tools"
mkdir -p "$tools/debs" "$tools/root"
# The folder ignores itself, so nothing in it is ever committed.
echo '*' > "$root/.tools/.gitignore"
(
    cd "$tools/debs"
    apt-get download tmux libevent-core-2.1-7 libutempter0 >&2
) || cannot "apt-get download failed (no package lists? run apt-get update as root once)"
for deb in "$tools"/debs/*.deb; do
    dpkg -x "$deb" "$tools/root"
done
mkdir -p "$tools/bin"
libs="$tools/root/usr/lib/$(uname -m)-linux-gnu:$tools/root/lib/$(uname -m)-linux-gnu"
cat > "$tools/bin/tmux" <<WRAPPER
#!/bin/sh
LD_LIBRARY_PATH="$libs\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$tools/root/usr/bin/tmux" "\$@"
WRAPPER
chmod +x "$tools/bin/tmux"
"$tools/bin/tmux" -V >/dev/null 2>&1 || cannot "the unpacked tmux does not run"
log "unpacked $tools/bin/tmux ($("$tools/bin/tmux" -V))"
found "$tools/bin/tmux"
