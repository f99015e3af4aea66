#!/usr/bin/env bash
# deliver-all.sh — lesson 4: a late listener can replay the channel's history.
#
# The server keeps every event of a channel. A new listener normally starts
# with the events published after it subscribed. In the course,
# setDeliverAllAvailable() makes it start with event #1 instead, so a service
# that starts late (or is new) can catch up on everything it missed.
#
# Run it with `make demo-deliver-all`. It checks that a listener without the
# flag gets only the new event, and that one with --deliver-all gets the whole
# history from #1, in order.
#
# --no-queue-group matters here: a queue group's start position is fixed when
# the group is first formed, so a member joining an existing group gets no
# replay (the README explains why).

# shellcheck source=scripts/demo/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHANNEL=lesson.deliver-all

demo_start

step "1. Publish 3 events while nobody listens"
notice "the server stores them; they are the channel's history (it grows each time you run this demo)"
publish --channel "$CHANNEL" --count 3
notice "status --events lists the history as the server keeps it, without subscribing: here its last 3 events"
show_command status "$CHANNEL" --events --last 3
"$STATUS_BIN" "$CHANNEL" --events --last 3 | quoted

step "2. A late listener without a start flag"
notice "it gets nothing of the history, only the event published after it started"
start_listener late --channel "$CHANNEL" --no-queue-group
publish --channel "$CHANNEL"
newest="${PUBLISHED[0]}"
wait_for_events late 1
show_output late
[[ "$(events_of late)" == "$newest" ]] || fail "the listener without --deliver-all should have received only event #$newest"
ok "it received only the new event #$newest"
stop_listener late

step "3. A late listener with --deliver-all (setDeliverAllAvailable())"
notice "it starts at event #1 and replays the whole history, in order, up to #$newest"
start_listener replay --channel "$CHANNEL" --no-queue-group --deliver-all
wait_for_events replay "$newest"
show_output replay
[[ "$(events_of replay)" == "$(seq 1 "$newest")" ]] ||
    fail "the listener with --deliver-all should have received events #1 to #$newest, in order"
ok "it replayed events #1 to #$newest"
save_picture "$CHANNEL"
stop_listener replay

lesson_shown "--deliver-all replays the channel's stored history to a late listener"
