#!/usr/bin/env bash
# port-forward.sh — reach the NATS server in your Kubernetes cluster from this
# machine (run it with `make port-forward`, and leave it running).
#
# In the course you ran `kubectl get pods`, copied the name of the nats-depl
# pod, then ran `kubectl port-forward <that pod> 4222:4222`. This script does
# both steps. It finds the NATS pod, in this order among the running pods:
#   1. a pod of a 3-node JetStream cluster: the StatefulSet of
#      infra/k8s/nats-js-cluster.yaml (pods nats-js-0..2, labelled
#      app=nats-js-cluster), else a release of the official Helm chart with
#      infra/helm/nats-values.yaml (labelled app.kubernetes.io/name=nats and
#      app.kubernetes.io/component=nats). Any pod of a cluster serves all of
#      it, so it takes the one with the lowest number (nats-js-0), and says so;
#   2. the pod labelled app=nats-js (the JetStream server that
#      infra/k8s/nats-js-depl.yaml runs next to the course's NATS Streaming one);
#   3. the one labelled app=nats (the label of the course's nats-depl, and of
#      infra/k8s/nats-depl.yaml);
#   4. a pod whose name starts with nats-js-depl or nats-depl;
# and forwards two ports until you press Ctrl-C:
#
#   localhost:4222 -> pod:4222   the client port: publish, listen, make listen
#   localhost:8222 -> pod:8222   the monitoring port: make status, /jsz, /connz
#
# It first checks that both local ports are free, and says what holds one
# that is not (the local server from `make server`, say: `make server-stop`).
#
# Settings (environment variables):
#   POD                 the pod to forward, if the search finds none or several
#                       (e.g. POD=nats-depl-6d8f9c7b5-x2k4q make port-forward)
#   LOCAL_PORT          local client port, default 4222 (pick another, e.g.
#                       4333, if a server from `make server` holds 4222)
#   LOCAL_MONITOR_PORT  local monitoring port, default 8222
#   NATS_DIR            where `make server` keeps its pid files, default .nats
#
# kubectl works on its current context and namespace
# (`kubectl config current-context`, `kubectl config set-context --current --namespace=...`).
set -euo pipefail

LOCAL_PORT="${LOCAL_PORT:-4222}"
LOCAL_MONITOR_PORT="${LOCAL_MONITOR_PORT:-8222}"
# Where nats-depl.yaml has the server listen inside the pod.
POD_PORT=4222
POD_MONITOR_PORT=8222
# Pod names to look for when no pod has the labels, in this order.
NAME_PREFIXES=(nats-js-depl nats-depl)
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Found without dirname: the script must work with a bare PATH.
PORTS_LIB="${BASH_SOURCE[0]%/*}/lib/ports.sh"
[[ "$PORTS_LIB" != "${BASH_SOURCE[0]}/lib/ports.sh" ]] || PORTS_LIB=lib/ports.sh
# shellcheck source=scripts/lib/ports.sh
source "$PORTS_LIB"
NATS_DIR="${NATS_DIR:-$REPO_ROOT/.nats}"

die() {
    echo "port-forward.sh: $*" >&2
    exit 1
}

# The client port of the server from `make server` whose pid is $1 (its pid
# file is $NATS_DIR/run/nats-<port>.pid); nothing if it is not one of them.
make_server_port() {
    local file
    for file in "$NATS_DIR"/run/nats-*.pid; do
        [[ -f "$file" ]] || continue
        if [[ "$(tr -dc '0-9' <"$file")" == "$1" ]]; then
            file="${file##*/nats-}"
            echo "${file%.pid}"
            return 0
        fi
    done
}

# Says what holds local port $1 (setting $2, $3 port), for a port that is taken.
explain_taken() {
    local port="$1" setting="$2" what="$3" name="" pid="" server_port="" file
    read -r name pid <<<"$(port_owner "$port")"
    if [[ -n "$pid" ]]; then
        server_port="$(make_server_port "$pid")"
    else
        # No ss or lsof: a live server from `make server` on this client port?
        file="$NATS_DIR/run/nats-$port.pid"
        if [[ -f "$file" ]] && kill -0 "$(tr -dc '0-9' <"$file")" 2>/dev/null; then
            pid="$(tr -dc '0-9' <"$file")" server_port="$port"
        fi
    fi
    echo "port-forward.sh: localhost:$port ($setting, the $what port) is already in use, so kubectl cannot forward it." >&2
    if [[ -n "$server_port" ]]; then
        local stop="make server-stop"
        [[ "$server_port" == 4222 ]] || stop="NATS_PORT=$server_port make server-stop"
        echo "  It is held by the local NATS server from \`make server\` (pid $pid). Stop it: $stop" >&2
    elif [[ "$name" == kubectl* ]]; then
        echo "  It is held by kubectl (pid $pid): is \`make port-forward\` already running in another terminal?" \
            "Use that one, or stop it (Ctrl-C)." >&2
    elif [[ -n "$name" ]]; then
        echo "  It is held by $name (pid $pid). Stop that program." >&2
    else
        echo "  Another program holds it. Stop that program." >&2
    fi
}

for port in "$LOCAL_PORT" "$LOCAL_MONITOR_PORT"; do
    if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
        die "'$port' is not a port number (LOCAL_PORT, LOCAL_MONITOR_PORT)"
    fi
done

command -v kubectl >/dev/null 2>&1 ||
    die "kubectl not found on your PATH. Install it (https://kubernetes.io/docs/tasks/tools/), make sure 'kubectl get pods' shows your cluster's pods, then run this again."

# Both local ports must be free, or kubectl fails with a bare "address already
# in use". Say what holds them instead.
taken=0
if port_in_use "$LOCAL_PORT"; then
    explain_taken "$LOCAL_PORT" LOCAL_PORT client
    taken=1
fi
if port_in_use "$LOCAL_MONITOR_PORT"; then
    explain_taken "$LOCAL_MONITOR_PORT" LOCAL_MONITOR_PORT monitoring
    taken=1
fi
if ((taken)); then
    echo "  Or forward to other local ports, e.g.: LOCAL_PORT=4333 LOCAL_MONITOR_PORT=8333 make port-forward" >&2
    echo "  (and then: export NATS_URL=nats://localhost:4333 NATS_MONITOR_URL=http://localhost:8333)" >&2
    exit 1
fi

# find_pods [kubectl get pods flags...]: sets PODS to the names of the running
# pods that match, without kubectl's "pod/" prefix.
find_pods() {
    local output line
    output="$(kubectl get pods --field-selector=status.phase=Running -o name "$@")" ||
        die "kubectl could not list the pods (see its message above). Is the cluster running, and is kubectl's context the right one? (kubectl config current-context)"
    PODS=()
    while IFS= read -r line; do
        if [[ -n "$line" ]]; then PODS+=("${line#pod/}"); fi
    done <<<"$output"
}

# The labels of a 3-node cluster's pods, in the order they are looked for:
# infra/k8s/nats-js-cluster.yaml's StatefulSet, then the official Helm chart's.
CLUSTER_LABELS=(app=nats-js-cluster "app.kubernetes.io/name=nats,app.kubernetes.io/component=nats")
CLUSTER_KINDS=("the StatefulSet of infra/k8s/nats-js-cluster.yaml" "a release of the NATS Helm chart")

# too_many POD...: exit 1, listing the pods found and how to choose one.
too_many() {
    {
        echo "port-forward.sh: found $# NATS pods, so it is not clear which one to forward:"
        printf '  %s\n' "$@"
        echo "  Choose one: POD=$1 make port-forward"
    } >&2
    exit 1
}

# cluster_member KIND POD...: sets pod to the pod with the lowest number of
# one cluster's pods (nats-js-0 of nats-js-0 nats-js-1 nats-js-2), and says
# so; pods of several clusters (names other than <one name>-<number>) are
# listed, and it exits 1.
cluster_member() {
    local kind="$1" name set="" best="" number best_number=""
    shift
    for name in "$@"; do
        if ! [[ "$name" =~ ^(.+)-([0-9]+)$ ]] || [[ -n "$set" && "${BASH_REMATCH[1]}" != "$set" ]]; then
            too_many "$@"
        fi
        set="${BASH_REMATCH[1]}" number="${BASH_REMATCH[2]}"
        if [[ -z "$best" ]] || ((10#$number < 10#$best_number)); then
            best="$name" best_number="$number"
        fi
    done
    pod="$best"
    echo "Found $# running pods of a JetStream cluster ($kind, $set): $*"
    echo "Any of them serves the whole cluster; forwarding $pod. To choose another: POD=<name> make port-forward"
}

pod=""
if [[ -n "${POD:-}" ]]; then
    pod="${POD#pod/}"
else
    # 1. A pod of a 3-node cluster: the StatefulSet's, then a Helm release's.
    for i in "${!CLUSTER_LABELS[@]}"; do
        find_pods -l "${CLUSTER_LABELS[$i]}"
        if [[ ${#PODS[@]} -gt 0 ]]; then
            cluster_member "${CLUSTER_KINDS[$i]}" "${PODS[@]}"
            break
        fi
    done
fi
if [[ -z "$pod" ]]; then
    # 2. By label: first the JetStream server next to the course's
    # (nats-js-depl.yaml), then the course's Deployment's label.
    find_pods -l app=nats-js
    pods=(${PODS[@]+"${PODS[@]}"})
    if [[ ${#pods[@]} -eq 0 ]]; then
        find_pods -l app=nats
        pods=(${PODS[@]+"${PODS[@]}"})
    fi
    # 3. Else by name: nats-js-depl-..., or the course's nats-depl-...
    if [[ ${#pods[@]} -eq 0 ]]; then
        find_pods
        for prefix in "${NAME_PREFIXES[@]}"; do
            for name in ${PODS[@]+"${PODS[@]}"}; do
                if [[ "$name" == "$prefix-"* ]]; then pods+=("$name"); fi
            done
            [[ ${#pods[@]} -eq 0 ]] || break
        done
    fi
    if [[ ${#pods[@]} -eq 0 ]]; then
        die "no running NATS pod found: no pod labelled app=nats-js-cluster (a 3-node cluster), app.kubernetes.io/name=nats
  (the NATS Helm chart), app=nats-js or app=nats, and none named nats-js-depl-* or nats-depl-*.
  Check with 'kubectl get pods'. Deploy a 3-node JetStream cluster with
  'kubectl apply -f infra/k8s/nats-js-cluster.yaml' (or with Helm: docs/kubernetes.md), a single JetStream server
  next to the course's NATS Streaming one with 'kubectl apply -f infra/k8s/nats-js-depl.yaml', or one in its place
  with 'kubectl apply -f infra/k8s/nats-depl.yaml' (see docs/kubernetes.md first), or name the pod yourself:
  POD=<pod name> make port-forward"
    fi
    if [[ ${#pods[@]} -gt 1 ]]; then
        too_many "${pods[@]}"
    fi
    pod="${pods[0]}"
fi

echo "Forwarding the NATS pod $pod (Ctrl-C to stop):"
echo "  client port      localhost:$LOCAL_PORT -> $POD_PORT"
echo "  monitoring port  localhost:$LOCAL_MONITOR_PORT -> $POD_MONITOR_PORT"
echo "In another terminal, use:"
echo "  NATS_URL=nats://localhost:$LOCAL_PORT"
echo "  e.g. NATS_URL=nats://localhost:$LOCAL_PORT make listen"
echo "       NATS_MONITOR_URL=http://localhost:$LOCAL_MONITOR_PORT make status"
exec kubectl port-forward "$pod" "$LOCAL_PORT:$POD_PORT" "$LOCAL_MONITOR_PORT:$POD_MONITOR_PORT"
