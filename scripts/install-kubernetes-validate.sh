#!/usr/bin/env bash
# install-kubernetes-validate.sh — make kubernetes-validate available, for
# `make test` to check every manifest in infra/k8s/ against the Kubernetes
# schemas (tests/kubernetes.rs), offline.
#
# Like install-shellcheck.sh, it finds one or installs one, and prints the
# absolute path of a command to run as the LAST line of standard output
# (every other message goes to standard error):
#
#     KUBERNETES_VALIDATE_BIN="$(scripts/install-kubernetes-validate.sh | tail -n1)"
#
# Where it looks, in order:
#   1. $KUBERNETES_VALIDATE_BIN, if you set it and it points to an executable
#      file (it must accept `--strict -k 1.37.0`, the schemas of 1.37);
#   2. the copy it installed before into .tools/kubernetes-validate/;
#   3. otherwise it installs the pinned release from PyPI (the package
#      "kubernetes-validate", which bundles the Kubernetes JSON schemas, so
#      validating needs no network) into .tools/kubernetes-validate/, as
#      install-nats-server.sh does nats-server: no root, and your Python
#      environment is left alone. pip --target makes no command that runs on
#      its own, so it writes one: .tools/kubernetes-validate/kubernetes-validate,
#      which runs the package with the python3 that installed it.
#
# One on PATH is not used: another version may lack the schemas of the
# Kubernetes version the test names.
#
# When none of these works it says why and exits 1, printing no path.
set -euo pipefail

log() { echo "install-kubernetes-validate: $*" >&2; }

# shellcheck source=scripts/lib/install.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/install.sh"

KUBERNETES_VALIDATE_VERSION="1.37.0"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOL_DIR="$REPO_ROOT/.tools/kubernetes-validate"
LOCAL_BIN="$TOOL_DIR/kubernetes-validate"

# 1. An explicit choice wins.
given="${KUBERNETES_VALIDATE_BIN:-}"
if [[ -n "$given" ]]; then
    if [[ -f "$given" && -x "$given" ]]; then
        found "$given"
    fi
    log "KUBERNETES_VALIDATE_BIN=$given is not an executable file; ignoring it"
fi

# 2. The copy installed before.
if [[ -x "$LOCAL_BIN" && -f "$TOOL_DIR/version-$KUBERNETES_VALIDATE_VERSION" ]]; then
    found "$LOCAL_BIN"
fi

# 3. The pinned one from PyPI, without root.
cannot() {
    log "could not install kubernetes-validate $KUBERNETES_VALIDATE_VERSION ($*): install it yourself" \
        "(python3 -m pip install kubernetes-validate==$KUBERNETES_VALIDATE_VERSION) and set" \
        "KUBERNETES_VALIDATE_BIN=/path/to/kubernetes-validate, or run this script again once pip works"
    exit 1
}
command -v python3 >/dev/null 2>&1 || cannot "python3 not found"
python3 -m pip --version >/dev/null 2>&1 || cannot "python3 has no pip module"
# The interpreter itself, not a launcher (a pyenv shim): the package's
# compiled parts are built for this one.
python="$(python3 -c 'import sys; print(sys.executable)')"

log "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION from PyPI into .tools/kubernetes-validate/ ..."
rm -rf "$TOOL_DIR"
if ! pip_install_into "$TOOL_DIR/lib" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"; then
    rm -rf "$TOOL_DIR"
    cannot "pip install failed; see the messages above"
fi
cat >"$LOCAL_BIN" <<EOF
#!/usr/bin/env bash
# Written by scripts/install-kubernetes-validate.sh: runs kubernetes-validate
# $KUBERNETES_VALIDATE_VERSION from the folder lib/ next to this file.
lib="\$(cd "\$(dirname "\${BASH_SOURCE[0]}")" && pwd)/lib"
PYTHONPATH="\$lib\${PYTHONPATH:+:\$PYTHONPATH}" exec "$python" -m kubernetes_validate "\$@"
EOF
chmod +x "$LOCAL_BIN"
if [[ "$("$LOCAL_BIN" --version 2>/dev/null)" != "$KUBERNETES_VALIDATE_VERSION" ]]; then
    rm -rf "$TOOL_DIR"
    cannot "the installed package does not run, or is not version $KUBERNETES_VALIDATE_VERSION"
fi
touch "$TOOL_DIR/version-$KUBERNETES_VALIDATE_VERSION"
log "installed $LOCAL_BIN ($KUBERNETES_VALIDATE_VERSION)"
found "$LOCAL_BIN"
