# shellcheck shell=bash
# install.sh — what the install-*.sh scripts share: an explicit choice or a
# tool on PATH, a pinned PyPI package installed into a folder, Debian's
# package installed as root, and the one line they print. Sourced, after the
# script has defined log().

# found PATH: prints PATH made absolute (the script's only line on stdout),
# and exits 0.
found() {
    local dir
    dir="$(cd "$(dirname "$1")" && pwd)"
    echo "$dir/$(basename "$1")"
    exit 0
}

# explicit_or_on_path VAR COMMAND: found the file that the variable VAR
# names, when it is an executable (else says it is ignored), or COMMAND from
# PATH; returns when there is neither.
explicit_or_on_path() {
    local var="$1" command="$2" given path_bin
    given="${!var:-}"
    if [[ -n "$given" ]]; then
        if [[ -f "$given" && -x "$given" ]]; then
            found "$given"
        fi
        log "$var=$given is not an executable file; ignoring it"
    fi
    if path_bin="$(command -v "$command" 2>/dev/null)"; then
        found "$path_bin"
    fi
}

# apt_install PACKAGE: apt-get install PACKAGE, as root, its messages on
# stderr. A fresh container has no package lists yet: read them once, then
# try again.
apt_install() {
    local install=(apt-get install -y -qq --no-install-recommends "$1")
    DEBIAN_FRONTEND=noninteractive "${install[@]}" >&2 ||
        { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive "${install[@]}" >&2; }
}

# pip_install_into DIR REQUIREMENT: installs REQUIREMENT (name==version) from
# PyPI into the plain folder DIR, its messages on stderr. --target needs no
# virtualenv and no root, and leaves your Python environment alone; the
# variables silence pip's "running as root" warning and allow installs
# outside a virtualenv.
pip_install_into() {
    PIP_ROOT_USER_ACTION=ignore PIP_REQUIRE_VIRTUALENV=false \
        python3 -m pip install --disable-pip-version-check --no-warn-script-location --quiet \
        --target "$1" "$2" >&2
}
