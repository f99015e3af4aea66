#!/usr/bin/env bash
# poison-event.sh — lesson 10: an event that can never be handled.
#
# Lesson 3 ended with "an event that is not acked comes back after the ack
# wait". Then every real service meets the next question: what if it can
# never be handled (a poison event)? NATS Streaming would send it forever.
# JetStream has three answers, and this lesson shows them together:
#   --backoff 1s,2s   redelivery with backoff: each redelivery waits the
#                     next step (the consumer's `backoff`), not one ack wait;
#   --max-deliver 3   after the third delivery the server gives it up and
#                     announces it (the MAX_DELIVERIES advisory);
#   --dead-letter C   the listener sends each given-up event to channel C,
#                     once, with headers naming where it came from, for
#                     another listener to handle or inspect.
#
# A service listener fails on one of three events (--fail-on: it prints it
# and does not ack it). A dead-letter listener waits on the other channel.
#
# Run it with `make demo-poison-event`. It checks that the other events were
# handled once, the poison one was delivered 3 times and given up, that it
# arrived on the dead-letter channel with its origin in the headers, and that
# status counts it; it exits 1 if not.

# shellcheck source=scripts/demo/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHANNEL=lesson.poison-event
DEAD=lesson.poison-event.dead

demo_start

step "1. Publish three events"
publish --channel "$CHANNEL" --count 3
first="${PUBLISHED[0]}"
poison="${PUBLISHED[1]}"
last="${PUBLISHED[2]}"

step "2. A dead-letter listener waits on $DEAD (--json shows the headers)"
start_listener dead-letters --channel "$DEAD" --no-queue-group --json

step "3. The service gets the three; it cannot handle event #$poison (--fail-on $poison)"
notice "#$first and #$last are acked once; #$poison is printed as failed and not acked"
start_listener service --channel "$CHANNEL" --no-queue-group --start-seq "$first" \
    --fail-on "$poison" --backoff 1s,2s --max-deliver 3 --dead-letter "$DEAD"
wait_for_line service "Received event #$last,"
started=$(date +%s%N)

step "4. Redelivery with backoff: #$poison comes back after 1 s, then after 2 s"
notice "the times below are when each delivery arrived: the gaps are the backoff's steps"
echo "    $(date +%T.%3N)  delivery #1 of event #$poison (failed)"
for delivery in 2 3; do
    wait_for_line service "(redelivered, delivery #$delivery,"
    echo "    $(date +%T.%3N)  delivery #$delivery of event #$poison"
done
took_ms=$((($(date +%s%N) - started) / 1000000))
# Seen by polling, so up to a poll late at either end: 2.5 s is well past one step.
((took_ms >= 2500)) || fail "the two redeliveries came ${took_ms} ms after the first; the backoff's steps add up to 3 s"
ok "the redeliveries waited 1 s and 2 s (${took_ms} ms in all)"

step "5. After its third delivery (--max-deliver 3) the server gives #$poison up"
notice "the service says so, and where it sent the event: the dead-letter channel"
wait_for_line service "Event #$poison was given up after 3 deliveries"
show_output service
[[ "$(events_of service | grep -cx "$poison")" == 3 ]] || fail "the service should have seen event #$poison 3 times"
[[ "$(events_of service | grep -cx "$first")" == 1 && "$(events_of service | grep -cx "$last")" == 1 ]] ||
    fail "the service should have handled #$first and #$last once each"
grep -qF "sent to the dead-letter channel $DEAD as event #" "$(log_of service)" ||
    fail "the service should say it sent #$poison to $DEAD"
ok "handled #$first and #$last once; #$poison three times, then given up and sent on"

step "6. The dead-letter listener gets it, with where it came from in its headers"
notice "Dead-Letter-Channel, -Sequence, -Deliveries and -Subscription name the original"
wait_for_line dead-letters "\"Dead-Letter-Sequence\":\"$poison\""
show_output dead-letters
grep -qF "\"Dead-Letter-Channel\":\"$CHANNEL\"" "$(log_of dead-letters)" ||
    fail "the dead letter should name $CHANNEL"
ok "event #$poison of $CHANNEL is on $DEAD, for another listener to handle or inspect"

step "7. What the server keeps: status $CHANNEL"
notice "the service's subscription has one event given up, counted from the stream that keeps the server's notices"
show_status "$CHANNEL"
service_name="$(sed -n 's/^Listener connected to NATS as \([^ ]*\).*/\1/p' "$(log_of service)")"
[[ "$(subscription_field "$CHANNEL" "$service_name" given_up)" == 1 ]] ||
    fail "status should count one event given up by the service"
ok "status counts the event given up"
save_picture "$CHANNEL"
stop_listener service
stop_listener dead-letters

lesson_shown "a poison event comes back with backoff, is given up after --max-deliver deliveries, and lands once on the dead-letter channel"
