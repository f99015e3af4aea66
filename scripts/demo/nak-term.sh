#!/usr/bin/env bash
# nak-term.sh — lesson 9: four answers to one event, side by side.
#
# A listener with manual ack can answer an event in four ways:
#   ack       (msg.ack())   handled: the server never sends it again;
#   nothing   (--skip-ack)  the server sends it again once the ack wait is
#                           over, as NATS Streaming always did;
#   nak       (--nak DELAY) "not now": the server sends it again after DELAY
#                           (or at once), without waiting out the ack wait;
#   term      (--term)      "never": the server never sends it again, to
#                           anyone, as for an event nobody can handle.
# NATS Streaming had only the first two; nak and term are JetStream's.
#
# Four listeners of their own get the same event, each with a 4 s ack wait
# and --max-deliver 3 to bound the loops. They start at the event just
# published (--start-seq, which is --deliver-all without the events earlier
# runs left on the channel).
#
# Run it with `make demo-nak-term`. It checks that the ack'er and the
# term'er saw the event once, the nak'er three times at once-ish, and the
# skip-ack'er a second time after its ack wait; it exits 1 if not.

# shellcheck source=scripts/demo/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHANNEL=lesson.nak-term
ACK_WAIT=4s

demo_start

step "1. Publish one event"
publish --channel "$CHANNEL"
event="${PUBLISHED[0]}"

step "2. Four listeners of their own get it, each answering in its own way"
notice "each prints the event once; the nak'er and the term'er say what they told the server"
own=(--channel "$CHANNEL" --no-queue-group --start-seq "$event" --ack-wait "$ACK_WAIT" --max-deliver 3)
start_listener acker "${own[@]}"
start_listener naker "${own[@]}" --nak 300ms
start_listener termer "${own[@]}" --term
start_listener skipper "${own[@]}" --skip-ack
for name in acker naker termer skipper; do wait_for_events "$name" 1; done

step "3. The nak'er: the server sends the event again after 300 ms, not after the $ACK_WAIT ack wait"
notice "each delivery shows its count; after the third, --max-deliver 3 makes the server give it up"
wait_for_line naker "Event #$event was given up after 3 deliveries"
show_output naker
[[ "$(events_of naker | grep -cx "$event")" == 3 ]] || fail "the nak'er should have seen event #$event 3 times"
[[ "$(events_of skipper | wc -l)" == 1 ]] ||
    fail "the nak'er should be done before the skip-ack'er's $ACK_WAIT ack wait is over"
ok "three deliveries to the nak'er while the skip-ack'er still waits out its ack wait"

step "4. The skip-ack'er: the server sends the event again once the $ACK_WAIT ack wait is over"
notice "the same redelivery as lesson 3: nobody said anything, so the server tries again"
wait_for_line skipper "(redelivered, delivery #2)"
show_output skipper
ok "the skip-ack'er got event #$event a second time, after the ack wait"

step "5. The ack'er and the term'er: their ack wait is over too, and nothing came back"
show_output acker
show_output termer
[[ "$(events_of acker)" == "$event" ]] || fail "the ack'er should have seen event #$event once"
[[ "$(events_of termer)" == "$event" ]] || fail "the term'er should have seen event #$event once"
grep -qF "(terminated: the server never sends it again)" "$(log_of termer)" ||
    fail "the term'er's line should say the event is terminated"
ok "ack and term both end the event's deliveries; only term says it was not handled"

step "6. What the server keeps of the four: status $CHANNEL"
notice "each listener's subscription is named after its client id; the skip-ack'er's holds the event, waiting for its ack and redelivered; the others hold nothing"
show_status "$CHANNEL"
name_of() { sed -n 's/^Listener connected to NATS as \([^ ]*\).*/\1/p' "$(log_of "$1")"; }
[[ "$(ack_pending "$CHANNEL" "$(name_of skipper)")" == 1 &&
    "$(subscription_field "$CHANNEL" "$(name_of skipper)" redelivered)" -ge 1 ]] ||
    fail "status should show the skip-ack'er's event waiting for its ack, and redelivered"
for name in acker termer naker; do
    [[ "$(ack_pending "$CHANNEL" "$(name_of "$name")")" == 0 ]] ||
        fail "status should show nothing waiting for the $name's ack"
done
ok "status shows the skip-ack'er's event waiting, and nothing for the ack'er, the term'er and the nak'er"
save_picture "$CHANNEL"
for name in acker naker termer skipper; do stop_listener "$name"; done

lesson_shown "ack ends an event, silence brings it back after the ack wait, nak brings it back at once or after a delay, term ends it unhandled"
