#!/usr/bin/env bash
# crash-redelivery.sh — lesson 8: a member that crashes while it holds
# events does not lose them; the other member gets them after the ack wait.
#
# This is why the course uses manual ack. A service acks an event only once
# it has handled it. If it crashes half-way, it never acks, and the server
# hands the event to another member of its queue group once the ack wait
# (setAckWait()) is over. Here member A is a slow service: `--delay 1h` makes
# it wait before acking each event, as if it took that long to handle it.
# A slow service that is alive says so: within each ack wait it tells the
# server that its events are still in progress (JetStream's in-progress ack,
# +WPI), so B gets none of them while A lives, however many ack waits pass.
# Only when A is killed with kill -9 while it still holds them do they go
# to member B, one ack wait later, each marked as redelivered.
#
# Run it with `make demo-crash-redelivery`. It checks both halves: B gets
# nothing while A lives, and then exactly the events A held; exits 1 if not.

# shellcheck source=scripts/demo/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHANNEL=lesson.crash-redelivery
GROUP=crash-lesson-group
ACK_WAIT=2s
# While A lives, B is watched for this many seconds: three ack waits.
WATCH_SECONDS=6

demo_start

step "1. Start member A of queue group '$GROUP': a slow service"
notice "--delay 1h: A waits an hour before acking each event, as if handling it took that long." \
    "Meanwhile it tells the server its events are in progress (+WPI) within each ack wait." \
    "--reset forgets the group a previous run left behind"
start_listener member-a --channel "$CHANNEL" --queue-group "$GROUP" --reset \
    --ack-wait "$ACK_WAIT" --delay 1h

step "2. Publish 3 events while A is the group's only member"
notice "A prints the first one and starts on it; the other two wait in A's buffer. A holds all 3, none acked"
publish --channel "$CHANNEL" --count 3
held=("${PUBLISHED[@]}")
wait_for_events member-a 1
show_output member-a
# shellcheck disable=SC2317,SC2329 # called by wait_until
held_by_a() { [[ "$(ack_pending "$CHANNEL" "$GROUP")" == "${#held[@]}" ]]; }
wait_until "the server to count ${#held[@]} events unacked by the group" held_by_a
ok "the server counts ${#held[@]} events delivered to the group and not acked: $(numbered "${held[@]}")"
show_status "$CHANNEL"

step "3. Start member B of the same group, and watch it for $WATCH_SECONDS s (three ack waits)"
notice "B gets nothing while A lives: every event was handed to A, and A keeps saying it is at work on them"
start_listener member-b --channel "$CHANNEL" --queue-group "$GROUP" --ack-wait "$ACK_WAIT"
# Watching for something that must not happen: a bounded window, checked
# twice a second.
for ((i = 0; i < WATCH_SECONDS * 2; i++)); do
    redelivered="$(subscription_field "$CHANNEL" "$GROUP" redelivered)"
    [[ "${redelivered:-0}" == 0 ]] ||
        fail "the server sent A's events again while A was alive ($redelivered redelivered)"
    [[ -z "$(events_of member-b)" ]] || fail "B got events while A was alive: $(events_of member-b | tr '\n' ' ')"
    sleep 0.5
done
ok "after $WATCH_SECONDS s (three ack waits) B has nothing and the server sent nothing again: A is alive and at work"

step "4. Kill A with kill -9, as a crash would"
notice "A cannot ack, say goodbye or say it is at work. About $ACK_WAIT later (the ack wait) the server gives A's events to B"
kill_listener member-a
save_picture "$CHANNEL"
wait_until "B to receive the ${#held[@]} events A held" events_at_least "${#held[@]}" member-b
show_output member-b
got="$(events_of member-b | sort -n | tr '\n' ' ')"
want="$(printf '%s\n' "${held[@]}" | sort -n | tr '\n' ' ')"
[[ "$got" == "$want" ]] || fail "B should have got exactly the events A held (#$want), got #$got"
redelivered="$(grep -c '(redelivered, delivery #2)' "$(log_of member-b)" || true)"
[[ "$redelivered" == "${#held[@]}" ]] ||
    fail "each of B's ${#held[@]} events should be marked '(redelivered, delivery #2)'; $redelivered are"
ok "B got exactly the events A held ($(numbered "${held[@]}")), each marked redelivered"
notice "nothing was lost: an event leaves the group only when someone acks it"
stop_listener member-b

lesson_shown "a live member keeps its events; a crashed member's go to another member after the ack wait"
