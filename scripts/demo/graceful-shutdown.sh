#!/usr/bin/env bash
# graceful-shutdown.sh — lesson 6: close the connection on Ctrl-C.
#
# In the course the listener ends with
#     process.on('SIGINT', () => stan.close());
#     process.on('SIGTERM', () => stan.close());
# so that, when it stops, the server forgets its subscription at once instead
# of waiting to notice it is gone (the course's server checked clients with
# heartbeats: -hbi 5s -hbt 5s -hbf 2). `listen` does the same: on Ctrl-C or
# SIGTERM it deletes its subscription (a JetStream consumer) and closes.
# A listener killed with kill -9 cannot; the server keeps its subscription
# until it has been inactive for 5 s (the consumer's inactive_threshold).
#
# Run it with `make demo-graceful-shutdown`. It reads the subscriptions with
# `status` (make status), and checks that the Ctrl-C'd
# listener's subscription is gone at once, and that the killed one's is still
# listed and goes away on its own a few seconds later.

# shellcheck source=scripts/demo/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHANNEL=lesson.graceful-shutdown

# start_own_listener NAME: starts a listener of its own and sets CONSUMER to
# the name of the subscription it got: the one that was not there before.
start_own_listener() {
    local before after
    before="$(consumer_names "$CHANNEL")"
    start_listener "$1" --channel "$CHANNEL" --no-queue-group
    after="$(consumer_names "$CHANNEL")"
    CONSUMER="$(comm -13 <(sort <<<"$before") <(sort <<<"$after"))"
    [[ -n "$CONSUMER" && "$CONSUMER" != *$'\n'* ]] ||
        fail "expected one new subscription for listener '$1', found: '$CONSUMER'"
}

# is_listed CONSUMER: true while the server lists that subscription.
is_listed() { consumer_names "$CHANNEL" | grep -qxF -- "$1"; }
is_gone() { ! is_listed "$1"; }

demo_start

step "1. Start a listener of its own"
notice "the server now lists a subscription for it, with a random name (see the table)"
start_own_listener polite
polite="$CONSUMER"
show_status "$CHANNEL"
ok "the listener's subscription is $polite"

step "2. Stop it with Ctrl-C"
notice "it closes cleanly (stan.close()): its subscription is gone the moment it has exited"
stop_listener polite
is_gone "$polite" || fail "subscription $polite should be gone right after Ctrl-C"
show_status "$CHANNEL"
ok "subscription $polite is gone"

step "3. Start another listener and kill it with kill -9 (as a crash would)"
notice "it gets no chance to close: the server still lists its subscription after it died"
start_own_listener crashed
crashed="$CONSUMER"
kill_listener crashed
is_listed "$crashed" || fail "subscription $crashed should still be listed right after kill -9"
show_status "$CHANNEL"
ok "subscription $crashed outlives its listener"
save_picture "$CHANNEL"

step "4. Wait for the server to notice"
notice "after about 5 s without anyone pulling events from it, the server removes it on its own"
killed_at=$SECONDS
wait_until "subscription $crashed to expire" is_gone "$crashed"
ok "subscription $crashed expired after about $((SECONDS - killed_at)) s"

lesson_shown "Ctrl-C removes a listener's subscription at once; a killed listener's lingers until it expires"
