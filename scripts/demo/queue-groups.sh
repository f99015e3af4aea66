#!/usr/bin/env bash
# queue-groups.sh — lesson 2: listeners in a queue group share the events.
#
# In the course, two copies of the listener subscribe with the queue group
# 'orders-microservice-queue-group', and each event goes to only one of them.
# Without a queue group, each listener gets every event. JetStream does the
# same with one consumer shared by all the group's members.
#
# Run it with `make demo-queue-groups`. It checks that the two members'
# events do not overlap and together make up everything published, and that
# two listeners without a group each got everything.

# shellcheck source=scripts/demo/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHANNEL=lesson.queue-groups
GROUP=orders-microservice-queue-group

demo_start

step "1. Start two listeners in the same queue group '$GROUP'"
notice "two copies of the same service, like running listener.ts twice." \
    "--reset on the first one forgets the group a previous run left behind (a group lingers 5 s after its last member leaves)"
start_listener member-a --channel "$CHANNEL" --queue-group "$GROUP" --reset
start_listener member-b --channel "$CHANNEL" --queue-group "$GROUP"

step "2. Publish 10 events"
notice "each event appears in only one member's output"
publish --channel "$CHANNEL" --count 10
wait_until "the two members to receive 10 events between them" events_at_least 10 member-a member-b
show_output member-a
show_output member-b
shared="$(events_of member-a; events_of member-b)"
[[ "$(sort -n <<<"$shared")" == "$(printf '%s\n' "${PUBLISHED[@]}" | sort -n)" ]] ||
    fail "the members together should have received each event exactly once"
count_a="$(events_of member-a | wc -l | tr -d ' ')"
count_b="$(events_of member-b | wc -l | tr -d ' ')"
((count_a > 0 && count_b > 0)) || fail "both members should have got a share (member-a got $count_a, member-b $count_b)"
ok "the members' events are disjoint and cover all 10: member-a got $count_a, member-b got $count_b"
notice "the two members share one subscription, named after the queue group"
show_status "$CHANNEL"
save_picture "$CHANNEL"
stop_listener member-a
stop_listener member-b

step "3. Now two listeners without a queue group (--no-queue-group)"
notice "each listener has a subscription of its own, so both print every event"
start_listener alone-c --channel "$CHANNEL" --no-queue-group
start_listener alone-d --channel "$CHANNEL" --no-queue-group
publish --channel "$CHANNEL" --count 5
wait_for_events alone-c 5
wait_for_events alone-d 5
show_output alone-c
show_output alone-d
expected="$(printf '%s\n' "${PUBLISHED[@]}")"
[[ "$(events_of alone-c)" == "$expected" && "$(events_of alone-d)" == "$expected" ]] ||
    fail "each listener without a group should have received all 5 events, in order"
ok "both listeners got all 5 events"
stop_listener alone-c
stop_listener alone-d

lesson_shown "a queue group shares the events among its members; without one, every listener gets them all"
