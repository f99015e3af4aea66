#!/usr/bin/env bash
# manual-ack.sh — lesson 3: an event that is not acked is delivered again.
#
# In the course the listener sets setManualAckMode(true) and calls msg.ack()
# after handling an event. If it never acks (say it crashed half-way), the
# server waits the ack wait (setAckWait(), 30 s by default) and then delivers
# the event again. `listen` always acks after printing; --skip-ack makes it
# "forget", and --ack-wait 2s makes the wait short enough to watch.
#
# How many unacked events a listener may hold at once is setMaxInFlight()
# (`listen --max-in-flight N`, JetStream's max_ack_pending): with
# `--skip-ack --max-in-flight 1` the server sends event #1, then nothing
# else until #1's ack wait is over, then #1 again, never #2. Lesson 9
# (`make demo-nak-term`) shows the other answers: nak and term.
#
# Run it with `make demo-manual-ack`. It checks that the events come back,
# marked "(redelivered, delivery #2)", that `status` counts them as waiting
# for their acks and redelivered, and exits 1 if not. To watch it live, run
# `make status ARGS="--live lesson.manual-ack"` in a second terminal.

# shellcheck source=scripts/demo/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHANNEL=lesson.manual-ack
DURABLE=manual-ack-lesson

demo_start

step "1. Start a listener that never acks, with a 2 s ack wait"
notice "--skip-ack is a listener that forgets msg.ack(); --ack-wait 2s is setAckWait(2 * 1000)." \
    "--durable keeps its place for step 4; --reset forgets what a previous run left"
start_listener forgetful --channel "$CHANNEL" --no-queue-group --durable "$DURABLE" --reset \
    --skip-ack --ack-wait 2s

step "2. Publish 3 events"
notice "the listener receives each once, right away"
publish --channel "$CHANNEL" --count 3
event="${PUBLISHED[0]}"
wait_for_events forgetful 3
show_output forgetful

step "3. Wait for the ack wait to run out, twice"
notice "about 2 s later the server delivers event #$event again, because nobody acked it; 2 s later, again"
wait_for_line forgetful "(redelivered, delivery #2)"
show_output forgetful
grep -qF "Received event #$event, with data: {\"id\":\"123\",\"title\":\"concert\",\"price\":20} (redelivered, delivery #2)" \
    "$(log_of forgetful)" || fail "the redelivered event should be event #$event"
wait_for_line forgetful "(redelivered, delivery #3)"
show_output forgetful
ok "event #$event was delivered a second and a third time"
notice "it keeps coming back every 2 s until someone acks it"
notice "status: the 3 events wait for their acks (ACK PENDING 3), and the server counts the ones it sent again (REDELIVERED)"
show_status "$CHANNEL"
[[ "$(ack_pending "$CHANNEL" "$DURABLE")" == 3 && "$(subscription_field "$CHANNEL" "$DURABLE" redelivered)" -ge 1 ]] ||
    fail "status should show 3 events waiting for their acks, and some redelivered, for '$DURABLE'"
ok "the server holds 3 events unacked for '$DURABLE', and sends them again"
save_picture "$CHANNEL"
stop_listener forgetful

step "4. The same subscription again, with a listener that acks"
notice "without --skip-ack, listen acks each event after printing it: the events come once more, and then never again"
start_listener acking --channel "$CHANNEL" --no-queue-group --durable "$DURABLE" --ack-wait 2s
wait_for_line acking "Received event #$event"
show_output acking
# shellcheck disable=SC2317,SC2329 # called by wait_until
acked() { [[ "$(ack_pending "$CHANNEL" "$DURABLE")" == 0 ]]; }
wait_until "the server to have the events acked" acked
ok "the server holds nothing unacked for '$DURABLE': the loop is over"
stop_listener acking

lesson_shown "an event that is not acked within the ack wait is delivered again, until it is acked"
