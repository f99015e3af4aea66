#!/usr/bin/env bash
# publish-listen.sh — lesson 1: a publisher sends an event, a listener prints it.
#
# In the course, `listener.ts` subscribes to ticket:created and logs each
# event, and `publisher.ts` connects and publishes one. Here `listen` runs in
# the background and `publish` in the foreground. The server gives every event
# a number in its channel (its sequence), which both sides print. Ctrl-C then
# closes the listener cleanly.
#
# Run it with `make demo-publish-listen`. It checks that the listener received
# exactly what was published, and exits 1 if not.

# shellcheck source=scripts/demo/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHANNEL=lesson.publish-listen

demo_start

step "1. Start a listener on channel $CHANNEL (the course's 'node listener.ts')"
notice "it prints 'Listener connected to NATS' once it is subscribed; from then on it gets every new event"
start_listener listener --channel "$CHANNEL"

step "2. Publish the course's ticket:created data (the course's 'node publisher.ts')"
notice "the server confirms the event with its number in the channel ('as event #N'), and the listener prints the same number"
publish --channel "$CHANNEL"
course_event="${PUBLISHED[0]}"
wait_for_events listener 1
show_output listener
grep -qF "Received event #$course_event, with data: {\"id\":\"123\",\"title\":\"concert\",\"price\":20}" \
    "$(log_of listener)" || fail "the listener did not print event #$course_event with the course's data"
ok "the listener received event #$course_event with the course's data"
notice "the server stored the event, and the listener's subscription has it delivered and acked (status, in a second terminal: make status)"
show_status "$CHANNEL"

step "3. Publish data of your own with --data"
notice "any JSON object goes; the listener prints it exactly as it was sent, as event #$((course_event + 1))"
publish --channel "$CHANNEL" --data '{"id":"456","title":"opera","price":55}'
own_event="${PUBLISHED[0]}"
wait_for_events listener 2
show_output listener
grep -qF "Received event #$own_event, with data: {\"id\":\"456\",\"title\":\"opera\",\"price\":55}" \
    "$(log_of listener)" || fail "the listener did not print event #$own_event with the data given to --data"
[[ "$(events_of listener | tr '\n' ' ')" == "$course_event $own_event " ]] ||
    fail "the listener should have received exactly events #$course_event and #$own_event"
ok "the listener received event #$own_event with the new data, and nothing else"
save_picture "$CHANNEL"

step "4. Press Ctrl-C in the listener's terminal"
notice "the listener closes its connection and says so (the course's stan.on('close'))"
stop_listener listener

lesson_shown "publish sends, the server numbers and stores, listen receives and prints"
