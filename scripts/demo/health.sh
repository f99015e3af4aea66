#!/usr/bin/env bash
# health.sh — lesson 7: what the server's monitoring port shows.
#
# In the course you opened http://localhost:8222/streaming/channelsz?subs=1
# (after `kubectl port-forward <nats pod> 8222:8222`) to see each channel's
# events and subscriptions. JetStream shows the same on its /jsz page;
# scripts/status.sh (`make status`) prints it as a table.
#
# This demo sets up two subscriptions on one channel, a queue group that acks
# and a durable one that never acks, and runs scripts/status.sh. It checks
# that the table lists the channel, both subscriptions, and the durable's 3
# unacked events, and exits 1 if not.

# shellcheck source=scripts/demo/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHANNEL=lesson.health
STREAM=LESSON_HEALTH
GROUP=orders-microservice-queue-group
DURABLE=audit-service

# column SUBSCRIPTION N: column N of the subscription's row in status.sh's table
# (1 NAME, 2 QUEUE GROUP, 3 DURABLE, 4 ACK WAIT, 5 PENDING, 6 ACK PENDING, 7 REDELIVERED).
column() { awk -v name="$1" -v n="$2" '$1 == name { print $n }' <<<"$status"; }

demo_start

step "1. Set up two subscriptions on $CHANNEL"
notice "one in the queue group '$GROUP' that acks, and the durable '$DURABLE' that never acks (--skip-ack, 2 s ack wait)"
start_listener orders --channel "$CHANNEL" --queue-group "$GROUP"
start_listener audit --channel "$CHANNEL" --durable "$DURABLE" --no-queue-group --reset --skip-ack --ack-wait 2s
publish --channel "$CHANNEL" --count 3
wait_for_events orders 3
wait_for_events audit 3
show_output orders
notice "2 s later the durable gets its unacked events again"
wait_for_line audit "(redelivered, delivery #2)"
show_output audit

step "2. Ask the monitoring port: scripts/status.sh $CHANNEL (make status ARGS=$CHANNEL)"
notice "the channel's event count; one row per subscription: the durable has 3 events waiting for an ack (ACK PENDING) and some REDELIVERED; the group acked all of its"
status="$(scripts/status.sh "$CHANNEL")" || fail "scripts/status.sh failed: $status"
quoted <<<"$status"
grep -q "stream $STREAM" <<<"$status" || fail "status.sh should list the stream $STREAM"
[[ "$(column "$GROUP" 2)" == "$GROUP" && "$(column "$GROUP" 3)" == no ]] ||
    fail "status.sh should list the queue group $GROUP as a non-durable subscription"
[[ "$(column "$DURABLE" 3)" == yes && "$(column "$DURABLE" 4)" == 2s ]] ||
    fail "status.sh should list $DURABLE as durable with a 2s ack wait"
[[ "$(column "$DURABLE" 6)" == 3 && "$(column "$DURABLE" 7)" -ge 1 ]] ||
    fail "status.sh should show 3 ack-pending and some redelivered events for $DURABLE"
ok "the table shows both subscriptions, and the durable's 3 unacked events"
notice "the raw page is $MONITOR_URL/jsz?consumers=true&config=true; /connz lists the connections by client id, /healthz says ok"

stop_listener orders
stop_listener audit

lesson_shown "the monitoring port tells you each channel's events and each subscription's state"
