#!/usr/bin/env bash
# interactive.sh — lesson 11: decide each event's fate by key.
#
# `listen --interactive` shows each event and waits for a key: a ack,
# n nak (sent again at once), N nak after a delay, t term (never again),
# p in progress (its ack wait starts over), s skip (no answer: it comes
# back once the ack wait has passed). One event at a time.
#
# Three events go to a durable of its own (a 3 s ack wait), and the keys are:
#   #1  a           acked;
#   #2  n, then t   nak'd, back at once as delivery #2, then terminated;
#   #3  p, s, a     in progress, skipped, back after the 3 s ack wait, acked.
# Then Ctrl-C. `status --json` must show the durable's ack floor at #3 with
# nothing waiting for an ack.
#
# Run it with `make demo-interactive` on a terminal: it tells you the keys
# and you press them (watch `make status-live` in a second terminal to see
# each answer on the tape). Without a terminal, or with DEMO_DRIVE=tmux (as
# `make demos` and the tests run it), it presses them itself, in a tmux
# pseudo-terminal (scripts/install-tmux.sh finds or installs tmux).

# shellcheck source=scripts/demo/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHANNEL=lesson.interactive
DURABLE=interactive-lesson
ACK_WAIT=3s
PROMPT_END="Ctrl-C stops >"

# ---------------------------------------------------------------- tmux
# Without a learner, tmux presses the keys in a pseudo-terminal of its own.

tmux_do() { "$TMUX_BIN" -L "$TMUX_SOCKET" -f /dev/null "$@"; }

# The pane's whole history, wrapped lines joined, blank lines left out.
screen() { tmux_do capture-pane -p -J -S - -t lesson | grep -v '^ *$' || true; }

# shellcheck disable=SC2317,SC2329 # called by wait_until
# prompt_for PATTERN: the prompt is up, under the event line that matches
# PATTERN (grep -E).
prompt_for() {
    local shown
    shown="$(screen)"
    [[ "$(tail -n1 <<<"$shown")" == *"$PROMPT_END"* ]] &&
        grep 'Received event' <<<"$shown" | tail -n1 | grep -qE -- "$1"
}

# press KEY PATTERN WHY: waits for the prompt under the event line that
# matches PATTERN, presses KEY.
press() {
    wait_until "the prompt for '$2'" prompt_for "$2"
    echo "    (pressing $1: $3)"
    tmux_do send-keys -t lesson "$1"
}

# said TEXT: the pane shows TEXT.
said() { screen | grep -qF -- "$1"; }

# shellcheck disable=SC2317,SC2329 # called by wait_until
# acked_twice: two events acked on the pane.
acked_twice() { [[ "$(screen | grep -cF "→ acked")" -ge 2 ]]; }

demo_start

# Who presses the keys: the learner on a terminal, else tmux.
DRIVE="${DEMO_DRIVE:-}"
if [[ -z "$DRIVE" ]]; then
    if [[ -t 0 && -t 1 ]]; then DRIVE=learner; else DRIVE=tmux; fi
fi

step "1. Publish three events"
publish --channel "$CHANNEL" --count 3

listen_args=(--channel "$CHANNEL" --durable "$DURABLE" --no-queue-group --deliver-all --ack-wait "$ACK_WAIT" --interactive)

step "2. A listener that asks you about each event"
show_command listen "${listen_args[@]}"
notice "each event waits for your key; the line under it says what the server was told"
echo "    The keys, in order:"
echo "      event #1: a        (ack: never sent again)"
echo "      event #2: n, then t (nak: back at once as delivery #2; then term: never again)"
echo "      event #3: p, s, a   (in progress; skip: back after the $ACK_WAIT ack wait; ack)"
echo "      then Ctrl-C        (the listener closes cleanly)"

if [[ "$DRIVE" == learner ]]; then
    echo "    Your turn (in a second terminal, make status-live shows each answer on the tape):"
    "$LISTEN_BIN" "${listen_args[@]}" || fail "listen --interactive exited with status $?"
else
    TMUX_BIN="$(scripts/install-tmux.sh | tail -n1)" || fail "tmux is needed to press the keys (see scripts/install-tmux.sh)"
    TMUX_SOCKET="nats-demo-interactive-$$"
    trap 'tmux_do kill-server >/dev/null 2>&1 || true; demo_cleanup' EXIT
    listen_line="$(printf '%q ' "$LISTEN_BIN" "${listen_args[@]}")"
    tmux_do new-session -d -s lesson -x 120 -y 40 \
        "env -u NATS_CLIENT_ID NATS_URL=${NATS_URL:-nats://localhost:4222} $listen_line; echo EXIT=\$?; sleep 60"
    press a '#1,' 'ack'
    press n '#2,' 'nak'
    wait_until "#2 nak'd" said "→ nak'd"
    press t '#2,.*delivery #2\)' 'term, #2 back at once as delivery #2'
    wait_until "#2 terminated" said "→ terminated"
    press p '#3,' 'in progress'
    wait_until "#3 in progress" said "→ in progress"
    press s '#3,' 'skip'
    wait_until "#3 skipped" said "→ skipped"
    press a '#3,.*delivery #2\)' "ack, #3 back after the $ACK_WAIT ack wait"
    wait_until "two acks" acked_twice
    echo "    (Ctrl-C)"
    tmux_do send-keys -t lesson C-c
    wait_until "the listener to exit" said "EXIT="
    screen | grep -v '^EXIT=' | sed 's/^/    [interactive] /'
    said "EXIT=0" || fail "listen --interactive did not exit 0 after Ctrl-C"
fi

step "3. What the server kept: status --json, the subscription $DURABLE"
show_status "$CHANNEL"
floor="$(subscription_field "$CHANNEL" "$DURABLE" ack_floor)"
pending="$(subscription_field "$CHANNEL" "$DURABLE" ack_pending)"
[[ "$floor" == 3 && "$pending" == 0 ]] ||
    fail "the ack floor should be #3 with nothing waiting for an ack (it is ${floor:-none}, ${pending:-none} waiting): were the keys a; n, t; p, s, a?"
ok "ack floor #3, nothing waiting: #1 and #3 acked, #2 terminated (a terminated event counts as settled)"
save_picture "$CHANNEL"

"$LISTEN_BIN" --channel "$CHANNEL" --delete-durable "$DURABLE" --yes >/dev/null ||
    fail "could not delete the lesson's durable"
lesson_shown "each key tells the server one thing: ack, nak (now or later), term, in progress, or nothing"
