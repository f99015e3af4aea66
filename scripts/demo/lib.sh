# shellcheck shell=bash
# lib.sh — what every lesson demo in scripts/demo/ shares. Sourced, not run.
#
# A demo script does, in order:
#
#     source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#     demo_start                       # tools, server, temp folder, cleanup
#     step "..." ; notice "..."        # say what comes and what to look at
#     start_listener a --no-queue-group --channel lesson.x   # in the background
#     publish --count 3 --channel lesson.x                   # in the foreground
#     wait_for_events a 3 ; show_output a
#     [[ ... ]] || fail "the lesson did not show"            # check the outcome
#     save_picture lesson.x            # its key moment as a picture
#     lesson_shown "..."               # exit 0
#
# Listeners run in the background and write to log files in a temp folder.
# The helpers wait for lines in those logs by polling every 0.1 s up to a
# deadline (never a fixed sleep), and every listener still running is stopped
# when the demo ends, even when it fails or you press Ctrl-C.
#
# Settings (environment variables):
#   PUBLISH_BIN, LISTEN_BIN, STATUS_BIN
#                            the tools to run (default: target/debug/publish,
#                            listen and status, built with cargo if missing)
#   NATS_URL                 the server (default nats://localhost:4222; a local
#                            server is started there if nothing listens)
#   NATS_MONITOR_URL         its monitoring page (default http://localhost:8222),
#                            for the health lesson
#   DEMO_DEADLINE_SECS       how long to wait for anything (default 20)
#   DEMO_PICTURES_DIR        where save_picture writes the lesson's picture
#                            (default target/lessons; `make pictures` gives docs/img)

set -euo pipefail

DEMO_NAME="$(basename "$0" .sh)"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck disable=SC2034 # the health lesson asks the monitoring port
MONITOR_URL="${NATS_MONITOR_URL:-http://localhost:${NATS_MONITOR_PORT:-8222}}"
DEADLINE_SECS="${DEMO_DEADLINE_SECS:-20}"
DEMO_TMP=""

cd "$REPO_ROOT"

# ---------------------------------------------------------------- output

# A numbered step of the lesson.
step() {
    echo
    echo "==> $*"
}

# What the learner should look at in the step that follows.
notice() {
    echo "    What to notice: $*"
}

# Prints its input as a block set off from the demo's own lines.
quoted() {
    sed 's/^/    | /'
}

# A check passed.
ok() {
    echo "    ok: $*"
}

# The lesson did not show: say why, show what the listeners printed, exit 1.
fail() {
    echo >&2
    echo "FAILED ($DEMO_NAME): $*" >&2
    local log
    if [[ -n "$DEMO_TMP" ]]; then
        for log in "$DEMO_TMP"/*.log; do
            [[ -f "$log" ]] || continue
            echo "--- output of listener '$(basename "$log" .log)' ---" >&2
            cat "$log" >&2
        done
    fi
    exit 1
}

# The end of a demo that showed its lesson.
lesson_shown() {
    echo
    echo "==> Lesson shown: $*"
    exit 0
}

# ---------------------------------------------------------------- set-up

# Finds the tools, makes sure a server answers, and arranges the clean-up.
demo_start() {
    # Build only what is missing and was not given: `make demo-...` builds
    # first anyway, and the tests pass the binaries they built.
    if [[ -z "${PUBLISH_BIN:-}" && ! -x target/debug/publish ]] ||
        [[ -z "${LISTEN_BIN:-}" && ! -x target/debug/listen ]] ||
        [[ -z "${STATUS_BIN:-}" && ! -x target/debug/status ]]; then
        echo "==> Building the tools (cargo build --bins)"
        cargo build --bins
    fi
    PUBLISH_BIN="${PUBLISH_BIN:-$REPO_ROOT/target/debug/publish}"
    LISTEN_BIN="${LISTEN_BIN:-$REPO_ROOT/target/debug/listen}"
    STATUS_BIN="${STATUS_BIN:-$REPO_ROOT/target/debug/status}"
    [[ -x "$PUBLISH_BIN" ]] || fail "PUBLISH_BIN=$PUBLISH_BIN is not an executable file"
    [[ -x "$LISTEN_BIN" ]] || fail "LISTEN_BIN=$LISTEN_BIN is not an executable file"
    [[ -x "$STATUS_BIN" ]] || fail "STATUS_BIN=$STATUS_BIN is not an executable file"

    # Starts the local server only if NATS_URL names it and nothing listens.
    NATS_STARTED_BY="${NATS_STARTED_BY:-make demo-$DEMO_NAME}" scripts/nats-server.sh ensure

    DEMO_TMP="$(mktemp -d "${TMPDIR:-/tmp}/nats-demo-$DEMO_NAME.XXXXXX")"
    trap demo_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    echo "==> Lesson '$DEMO_NAME' on ${NATS_URL:-nats://localhost:4222}"
}

# Stops every listener still running (Ctrl-C first, so each closes cleanly
# and deletes its subscription; kill -9 if it takes too long).
demo_cleanup() {
    local pid_file pid deadline
    local pids=()
    for pid_file in "$DEMO_TMP"/*.pid; do
        [[ -f "$pid_file" ]] || continue
        pid="$(<"$pid_file")"
        if kill -0 "$pid" 2>/dev/null; then
            kill -INT "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
    done
    deadline=$((SECONDS + 5))
    for pid in ${pids[@]+"${pids[@]}"}; do
        while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$DEMO_TMP"
}

# ---------------------------------------------------------------- publishing

# Prints a command line as you would type it, quoting what needs quotes.
show_command() {
    local arg line="    \$"
    for arg in "$@"; do
        if [[ "$arg" =~ ^[A-Za-z0-9_./:=,-]+$ ]]; then line+=" $arg"; else line+=" '$arg'"; fi
    done
    echo "$line"
}

# Runs `publish` with the given flags in the foreground and shows its output.
# The event numbers it got are then in the array PUBLISHED.
PUBLISHED=()
publish() {
    show_command publish "$@"
    local output line
    output="$("$PUBLISH_BIN" "$@")" || fail "publish $* failed"
    PUBLISHED=()
    while IFS= read -r line; do
        echo "    $line"
        if [[ "$line" =~ as\ event\ \#([0-9]+)$ ]]; then PUBLISHED+=("${BASH_REMATCH[1]}"); fi
    done <<<"$output"
    [[ ${#PUBLISHED[@]} -gt 0 ]] || fail "publish printed no 'as event #N' line"
}

# ---------------------------------------------------------------- listeners

# numbered N...: "#1 #2 #3", the event numbers given, one space between.
numbered() {
    local out
    out="$(printf '#%s ' "$@")"
    echo "${out% }"
}

log_of() { echo "$DEMO_TMP/$1.log"; }
pid_of() { cat "$DEMO_TMP/$1.pid"; }

# start_listener NAME [listen flags...]: runs `listen` in the background,
# its output going to NAME's log, and waits until it is subscribed.
start_listener() {
    local name="$1"
    shift
    show_command listen "$@"
    echo "      (in the background: listener '$name')"
    : >"$(log_of "$name")"
    echo 0 >"$DEMO_TMP/$name.shown"
    "$LISTEN_BIN" "$@" >"$(log_of "$name")" 2>&1 &
    echo "$!" >"$DEMO_TMP/$name.pid"
    wait_for_line "$name" "Listener connected to NATS"
    show_output "$name"
}

# wait_for_line NAME TEXT: polls NAME's log until a line contains TEXT.
wait_for_line() {
    local name="$1" text="$2" log pid deadline
    log="$(log_of "$name")"
    pid="$(pid_of "$name")"
    deadline=$((SECONDS + DEADLINE_SECS))
    until grep -qF -- "$text" "$log"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            grep -qF -- "$text" "$log" && return 0
            fail "listener '$name' exited before printing '$text'"
        fi
        ((SECONDS < deadline)) || fail "listener '$name' did not print '$text' within ${DEADLINE_SECS}s"
        sleep 0.1
    done
}

# wait_until DESCRIPTION COMMAND...: polls COMMAND until it succeeds.
wait_until() {
    local what="$1" deadline
    shift
    deadline=$((SECONDS + DEADLINE_SECS))
    until "$@"; do
        ((SECONDS < deadline)) || fail "timed out after ${DEADLINE_SECS}s waiting for $what"
        sleep 0.1
    done
}

# The event numbers NAME received, one per line, in the order it printed them.
events_of() {
    sed -n 's/^Received event #\([0-9]*\),.*/\1/p' "$(log_of "$1")"
}

# events_at_least N NAME...: true once the listeners received N events together.
events_at_least() {
    local want="$1" name total=0
    shift
    for name in "$@"; do
        total=$((total + $(events_of "$name" | wc -l)))
    done
    ((total >= want))
}

# wait_for_events NAME N: waits until NAME received N events.
wait_for_events() {
    wait_until "listener '$1' to receive $2 events" events_at_least "$2" "$1"
}

# Prints what NAME printed since the last call, each line marked with its name.
show_output() {
    local name="$1" log shown total
    log="$(log_of "$name")"
    shown="$(<"$DEMO_TMP/$name.shown")"
    total="$(wc -l <"$log" | tr -d ' ')" # count once: the log may still grow
    if ((total > shown)); then
        sed -n "$((shown + 1)),${total}p" "$log" | sed "s/^/    [$name] /"
    fi
    echo "$total" >"$DEMO_TMP/$name.shown"
}

# Waits for NAME's process to end (with the deadline); returns its exit status.
wait_exit() {
    local pid status=0
    pid="$(pid_of "$1")"
    wait_until "listener '$1' to exit" not_running "$pid"
    wait "$pid" 2>/dev/null || status=$?
    return "$status"
}
not_running() { ! kill -0 "$1" 2>/dev/null; }

# Stops NAME the way Ctrl-C does (SIGINT) and checks it closed cleanly.
stop_listener() {
    echo "    (Ctrl-C to listener '$1')"
    kill -INT "$(pid_of "$1")"
    wait_exit "$1" || fail "listener '$1' exited with status $? after Ctrl-C"
    wait_for_line "$1" "NATS connection closed!"
    show_output "$1"
}

# Kills NAME with kill -9, as a crash would: it gets no chance to clean up.
kill_listener() {
    echo "    (kill -9 to listener '$1')"
    kill -KILL "$(pid_of "$1")"
    wait_exit "$1" || true
    show_output "$1"
}

# ---------------------------------------------------------------- status

# The demos look at the server with `status` (make status), over the client
# port: no monitoring port is needed.

# show_status CHANNEL: runs `status CHANNEL` and shows its table.
show_status() {
    show_command status "$1"
    "$STATUS_BIN" "$1" | quoted || fail "status $1 failed"
}

# subscriptions CHANNEL: the channel's subscriptions from `status --json`, one
# JSON object per line (they hold no nested objects or lists, so each is a
# '{...}', and the channel's list ends at the first ']'). None when the
# channel has no stream yet.
subscriptions() {
    local json channel
    json="$("$STATUS_BIN" --json)" || fail "status --json failed"
    channel="$(sed 's/[][\.*^$/]/\\&/g' <<<"$1")"
    grep -o "{\"channel\":\"$channel\",[^]]*]" <<<"$json" | grep -o '{"name":[^}]*}' || true
}

# subscription_field CHANNEL NAME KEY: KEY of the subscription NAME as
# `status --json` has it (a number, true/false, or a quoted string); empty
# when there is no such subscription.
subscription_field() {
    subscriptions "$1" | grep -F "{\"name\":\"$2\"," |
        sed -n "s/.*\"$3\":\(\"[^\"]*\"\|[^,}]*\).*/\1/p"
}

# consumer_names CHANNEL: the names of the channel's subscriptions, one per line.
consumer_names() {
    subscriptions "$1" | sed -n 's/^{"name":"\([^"]*\)".*/\1/p'
}

# ack_pending CHANNEL NAME: how many events the channel's subscription NAME
# has delivered and not had acked yet (0 when there is no such subscription).
ack_pending() {
    local n
    n="$(subscription_field "$1" "$2" ack_pending)"
    echo "${n:-0}"
}

# save_picture CHANNEL: the lesson's key moment as a picture, the channel's
# tape as `status CHANNEL --live` draws it, written by `status CHANNEL --svg`
# to DEMO_PICTURES_DIR/<lesson>.svg (target/lessons/ unless set); says where.
save_picture() {
    local dir="${DEMO_PICTURES_DIR:-$REPO_ROOT/target/lessons}" file
    mkdir -p "$dir" || fail "could not make the folder $dir for the lesson's picture"
    file="$(cd "$dir" && pwd)/$DEMO_NAME.svg"
    "$STATUS_BIN" "$1" --svg "$file" || fail "status $1 --svg $file failed"
    echo "    Picture of this moment: ${file#"$REPO_ROOT"/}"
}
