#!/usr/bin/env bash
# durable.sh — lesson 5: a durable subscription remembers what was acked.
#
# In the course, setDurableName('accounting-service') makes the server keep
# track of the events a subscription acked, even while its listener is down.
# When the listener comes back with the same durable name it gets exactly the
# events it missed: none twice, none lost. Without a durable name, a restarted
# listener would start afresh and miss them.
#
# Run it with `make demo-durable`. It checks that the restarted listener gets
# only the events published while it was down, and exits 1 if not.

# shellcheck source=scripts/demo/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHANNEL=lesson.durable
DURABLE=accounting-service

demo_start

step "1. Start a listener with the durable name '$DURABLE'"
notice "--reset deletes what a previous run of this demo left on the server, so every run starts the same"
start_listener accounting --channel "$CHANNEL" --durable "$DURABLE" --no-queue-group --reset

step "2. Publish 2 events: the listener receives and acks them"
notice "each ack is recorded on the server under the durable name, not in the listener"
publish --channel "$CHANNEL" --count 2
seen=("${PUBLISHED[@]}")
wait_for_events accounting 2
show_output accounting

step "3. Stop the listener (Ctrl-C), then publish 3 events while it is down"
notice "the durable subscription stays on the server and remembers that #${seen[0]} and #${seen[1]} were acked"
stop_listener accounting
publish --channel "$CHANNEL" --count 3
missed=("${PUBLISHED[@]}")
notice "status shows the durable's place in the history: its ack floor at #${seen[1]}, and 3 events pending"
show_status "$CHANNEL"
[[ "$(subscription_field "$CHANNEL" "$DURABLE" ack_floor)" == "${seen[1]}" &&
    "$(subscription_field "$CHANNEL" "$DURABLE" pending)" == 3 ]] ||
    fail "status should show the durable's ack floor at #${seen[1]} and 3 events pending"
ok "the server remembers the durable's ack floor, #${seen[1]}, while no listener runs"
save_picture "$CHANNEL"

step "4. Restart the listener with the same durable name"
notice "it is a new process with a new client id, yet it gets only the 3 events it missed (#${missed[0]} to #${missed[2]}), not #${seen[0]} and #${seen[1]} again"
start_listener accounting-again --channel "$CHANNEL" --durable "$DURABLE" --no-queue-group
wait_for_events accounting-again 3
show_output accounting-again
[[ "$(events_of accounting-again)" == "$(printf '%s\n' "${missed[@]}")" ]] ||
    fail "the restarted durable listener should have received exactly the missed events #${missed[0]} to #${missed[2]}"
ok "the restarted listener got only the events it missed"
stop_listener accounting-again

lesson_shown "a durable subscription resumes where it left off: a restarted listener gets only what it missed"
