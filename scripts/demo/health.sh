#!/usr/bin/env bash
# health.sh — lesson 7: what the server tells about itself.
#
# In the course you opened http://localhost:8222/streaming/channelsz?subs=1
# (after `kubectl port-forward <nats pod> 8222:8222`) to see each channel's
# events and subscriptions. JetStream answers the same over the client port,
# and `status` (`make status`) prints it as a table: no monitoring port
# needed. The monitoring port (-m 8222) still serves the health check that
# Kubernetes probes ask: /healthz.
#
# This demo sets up two subscriptions on one channel, a queue group that acks
# and a durable one that never acks, and runs `status`. It checks that the
# table lists the channel, both subscriptions, and the durable's 3 unacked
# events, then asks the monitoring port's /healthz, and exits 1 if anything
# is off.

# shellcheck source=scripts/demo/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHANNEL=lesson.health
GROUP=orders-microservice-queue-group
DURABLE=audit-service

# field NAME KEY: KEY of subscription NAME, as `status --json` has it.
field() { subscription_field "$CHANNEL" "$1" "$2"; }

# healthz: the monitoring port's /healthz page, read with bash's /dev/tcp
# (no curl needed). MONITOR_URL is http://HOST:PORT.
healthz() {
    local hostport="${MONITOR_URL#http://}"
    hostport="${hostport%%/*}"
    exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}" || return 1
    printf 'GET /healthz HTTP/1.0\r\nHost: %s\r\n\r\n' "$hostport" >&3
    sed -n '$p' <&3
    exec 3<&-
}

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

step "2. Ask the server: status $CHANNEL (make status ARGS=$CHANNEL)"
notice "the channel's stored events; one row per subscription: the durable has 3 events waiting for an ack (ACK PENDING) and some REDELIVERED; the group acked all of its (its ACK FLOOR is the last event)"
show_status "$CHANNEL"
[[ "$(field "$GROUP" queue_group)" == "\"$GROUP\"" && "$(field "$GROUP" durable)" == false ]] ||
    fail "status should list the queue group $GROUP as a non-durable subscription"
[[ "$(field "$DURABLE" durable)" == true && "$(field "$DURABLE" ack_wait_ms)" == 2000 ]] ||
    fail "status should list $DURABLE as durable with a 2s ack wait"
[[ "$(field "$DURABLE" ack_pending)" == 3 && "$(field "$DURABLE" redelivered)" -ge 1 ]] ||
    fail "status should show 3 ack-pending and some redelivered events for $DURABLE"
ok "the table shows both subscriptions, and the durable's 3 unacked events"
save_picture "$CHANNEL"

step "3. Ask the monitoring port for the server's health: $MONITOR_URL/healthz"
notice "what a Kubernetes liveness probe asks; 'ok' once the server, JetStream included, is ready"
health="$(healthz)" || fail "no answer from $MONITOR_URL/healthz: is the monitoring port (-m 8222) open?"
quoted <<<"$health"
[[ "$health" == *'"status":"ok"'* ]] || fail "/healthz should say ok, said: $health"
ok "the server says it is healthy"
notice "the same port has /varz (the server), /connz (connections by client id) and /jsz (JetStream)"

stop_listener orders
stop_listener audit

lesson_shown "status shows each channel's events and each subscription's state; the monitoring port says whether the server is healthy"
