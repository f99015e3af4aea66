#!/usr/bin/env bash
# port-forward.sh — reach the NATS server in your Kubernetes cluster from this
# machine (run it with `make port-forward`, and leave it running).
#
# In the course you ran `kubectl get pods`, copied the name of the nats-depl
# pod, then ran `kubectl port-forward <that pod> 4222:4222`. This script does
# both steps. It finds the NATS pod, the running pod labelled app=nats (the
# label infra/k8s/nats-depl.yaml gives it), or else a running pod whose name
# starts with nats-depl, and forwards two ports until you press Ctrl-C:
#
#   localhost:4222 -> pod:4222   the client port: publish, listen, make listen
#   localhost:8222 -> pod:8222   the monitoring port: make status, /jsz, /connz
#
# Settings (environment variables):
#   POD                 the pod to forward, if the search finds none or several
#                       (e.g. POD=nats-depl-6d8f9c7b5-x2k4q make port-forward)
#   LOCAL_PORT          local client port, default 4222 (pick another, e.g.
#                       4333, if a server from `make server` holds 4222)
#   LOCAL_MONITOR_PORT  local monitoring port, default 8222
#
# kubectl works on its current context and namespace
# (`kubectl config current-context`, `kubectl config set-context --current --namespace=...`).
set -euo pipefail

LOCAL_PORT="${LOCAL_PORT:-4222}"
LOCAL_MONITOR_PORT="${LOCAL_MONITOR_PORT:-8222}"
# Where nats-depl.yaml has the server listen inside the pod.
POD_PORT=4222
POD_MONITOR_PORT=8222
NAME_PREFIX=nats-depl

die() {
    echo "port-forward.sh: $*" >&2
    exit 1
}

for port in "$LOCAL_PORT" "$LOCAL_MONITOR_PORT"; do
    if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
        die "'$port' is not a port number (LOCAL_PORT, LOCAL_MONITOR_PORT)"
    fi
done

command -v kubectl >/dev/null 2>&1 ||
    die "kubectl not found on your PATH. Install it (https://kubernetes.io/docs/tasks/tools/), make sure 'kubectl get pods' shows your cluster's pods, then run this again."

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

if [[ -n "${POD:-}" ]]; then
    pod="${POD#pod/}"
else
    # 1. By label, as the course's Deployment labels its pods.
    find_pods -l app=nats
    pods=(${PODS[@]+"${PODS[@]}"})
    # 2. Else by name: the course's Deployment is called nats-depl.
    if [[ ${#pods[@]} -eq 0 ]]; then
        find_pods
        for name in ${PODS[@]+"${PODS[@]}"}; do
            if [[ "$name" == "$NAME_PREFIX"* ]]; then pods+=("$name"); fi
        done
    fi
    if [[ ${#pods[@]} -eq 0 ]]; then
        die "no running NATS pod found: no pod labelled app=nats and none named $NAME_PREFIX-*.
  Check with 'kubectl get pods'. Deploy the server with 'kubectl apply -f infra/k8s/nats-depl.yaml',
  or name the pod yourself: POD=<pod name> make port-forward"
    fi
    if [[ ${#pods[@]} -gt 1 ]]; then
        {
            echo "port-forward.sh: found ${#pods[@]} NATS pods, so it is not clear which one to forward:"
            printf '  %s\n' "${pods[@]}"
            echo "  Choose one: POD=${pods[0]} make port-forward"
        } >&2
        exit 1
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
