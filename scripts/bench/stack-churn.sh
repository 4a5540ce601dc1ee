#!/usr/bin/env bash
# Stack churn under load, as a real client sees it: the load runs in its own network namespace and
# reaches the node through a veth pair (node address 10.213.0.1), so its packets go through the
# iptables DNAT of the published port, not through docker-proxy on loopback. While two wrk clients
# load an anchor app (one keep-alive, one with a new connection per request), N app stacks are
# deployed and removed, each with its own network (every `docker stack deploy` creates <stack>_default),
# and one proxy task is killed. Prints errors by kind per client, time to route each new stack (from its
# task running to its first 200), proxy task replacements and published configs (= reloads per proxy task).
#
# Run ./scripts/up.sh first. Usage: ./scripts/bench/stack-churn.sh [STACKS=5]
# Creates only sbx-churn-* objects, netns sbx-churn and veth sbxch0/sbxch1; removes them on exit.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib/stack.sh
source "$(dirname "$(readlink -f "$0")")/../lib/stack.sh"
need_root
have wrk || apt_install wrk

STACKS="${1:-5}"
NS=sbx-churn
NODE_ADDR=10.213.0.1
CLIENT_ADDR=10.213.0.2
ANCHOR=sbx-churn-anchor
ANCHOR_NET=sbx-churn-anchor-net
ANCHOR_HOST=anchor.churn.test
PROXY=${SIGNALBOX_PROXY_SERVICE:-signalbox-proxy}
DURATION=$((STACKS * 30 + 40))
WORK="$(mktemp -d)"

cleanup() {
  set +e
  for i in $(seq 1 "$STACKS"); do docker stack rm "sbx-churn-$i" >/dev/null 2>&1; done
  docker service rm "$ANCHOR" >/dev/null 2>&1
  ip link del sbxch0 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  for _ in $(seq 1 90); do docker network rm "$ANCHOR_NET" >/dev/null 2>&1 && break; sleep 1; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---- client namespace: veth pair to the node.
ip netns add "$NS"
ip link add sbxch0 type veth peer name sbxch1
ip link set sbxch1 netns "$NS"
ip addr add "$NODE_ADDR/30" dev sbxch0
ip link set sbxch0 up
ip netns exec "$NS" ip addr add "$CLIENT_ADDR/30" dev sbxch1
ip netns exec "$NS" ip link set sbxch1 up
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" ip route add default via "$NODE_ADDR"

# ---- anchor app.
docker network create --driver overlay --attachable "$ANCHOR_NET" >/dev/null
docker service create --detach --name "$ANCHOR" --network "$ANCHOR_NET" --replicas 2 --endpoint-mode dnsrr \
  --label com.docker.lb.hosts="$ANCHOR_HOST" --label com.docker.lb.port=80 --label com.docker.lb.network="$ANCHOR_NET" \
  "${SIGNALBOX_DEMO_IMAGE:-signalbox-demo:local}" >/dev/null
wait_for "ip netns exec $NS curl -s -o /dev/null -w '%{http_code}' -H 'Host: $ANCHOR_HOST' http://$NODE_ADDR:$HTTP_PORT/ | grep -q 200" 180 1 \
  || die "anchor not reachable from the client namespace at $NODE_ADDR:$HTTP_PORT"
wait_for "[[ \$(docker service inspect -f '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' $PROXY) != updating ]]" 180 1 || true
sleep 3
log "anchor answers from the client namespace through $NODE_ADDR:$HTTP_PORT (DNAT)"

metric() { # metric NAME: sum over core's /metrics
  local c; c=$(docker ps -q --filter label=com.docker.swarm.service.name="${STACK_NAME}_core" | head -1)
  docker exec "$c" node -e "fetch('http://127.0.0.1:8080/metrics').then(r=>r.text()).then(t=>{let s=0;for(const l of t.split('\n')){const m=/^$1(?:\{[^}]*\})?\s+(\S+)/.exec(l);if(m)s+=Number(m[1])}console.log(s)})"
}
proxy_tasks() { docker service ps -q "$PROXY" | wc -l; }
updates0=$(metric signalbox_model_updates_total)
tasks0=$(proxy_tasks)

# ---- load: keep-alive and connection per request, both for the whole churn.
ip netns exec "$NS" wrk -t1 -c8 -d"${DURATION}s" --timeout 5s -H "Host: $ANCHOR_HOST" "http://$NODE_ADDR:$HTTP_PORT/" > "$WORK/keepalive.txt" 2>&1 &
KA=$!
ip netns exec "$NS" wrk -t1 -c4 -d"${DURATION}s" --timeout 5s -H "Host: $ANCHOR_HOST" -H "Connection: close" "http://$NODE_ADDR:$HTTP_PORT/" > "$WORK/close.txt" 2>&1 &
CL=$!
start=$(now_s)

# ---- churn: deploy a stack, time its route, remove it; kill a proxy task once, half way.
routes=()
for i in $(seq 1 "$STACKS"); do
  stack="sbx-churn-$i"; h="s$i.churn.test"
  cat > "$WORK/$stack.yml" <<YML
version: "3.8"
services:
  web:
    image: ${SIGNALBOX_DEMO_IMAGE:-signalbox-demo:local}
    deploy:
      endpoint_mode: dnsrr
      labels:
        com.docker.lb.hosts: $h
        com.docker.lb.port: "80"
        com.docker.lb.network: ${stack}_default
YML
  docker stack deploy -c "$WORK/$stack.yml" "$stack" >/dev/null
  wait_for "docker service ps --filter desired-state=running --format '{{.CurrentState}}' ${stack}_web 2>/dev/null | grep -q '^Running'" 120 0.1 || die "$stack did not start"
  t_run=$(date +%s.%N)
  wait_for "curl -s -o /dev/null -w '%{http_code}' -H 'Host: $h' http://127.0.0.1:$HTTP_PORT/ | grep -q 200" 120 0.1 || die "$stack not routed"
  t_routed=$(date +%s.%N)
  routes+=("$(echo "$t_routed - $t_run" | bc)")
  log "$stack routed $(printf '%.2f' "${routes[-1]}") s after its task ran"
  sleep 5
  if [[ "$i" -eq $(( (STACKS + 1) / 2 )) ]]; then
    c=$(docker ps -q --filter label=com.docker.swarm.service.name="$PROXY" | head -1)
    log "killing proxy container $c"
    docker kill "$c" >/dev/null
    sleep 10
  fi
  docker stack rm "$stack" >/dev/null
  wait_for "curl -s -o /dev/null -w '%{http_code}' -H 'Host: $h' http://127.0.0.1:$HTTP_PORT/ | grep -q 503" 60 0.2 || true
  sleep 5
done
log "churn done after $(elapsed "$start") s; waiting for the load to finish"
wait "$KA" "$CL" || true

# ---- figures.
updates=$(( $(metric signalbox_model_updates_total) - updates0 ))
replaced=$(( $(proxy_tasks) - tasks0 ))
summary() { # summary NAME FILE
  local f="$2" req non2xx sock
  req=$(awk '/requests in/ {print $1}' "$f")
  non2xx=$(awk -F': ' '/Non-2xx/ {print $2}' "$f"); non2xx=${non2xx:-0}
  sock=$(grep -o 'Socket errors:.*' "$f" || echo 'Socket errors: none')
  printf '  %-26s %9s requests, non-2xx %s, %s\n' "$1" "$req" "$non2xx" "$sock"
}
sorted=$(printf '%s\n' "${routes[@]}" | sort -n)
median=$(echo "$sorted" | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
echo
echo "stack-churn: $STACKS stacks (own network each), 1 proxy kill, ${DURATION} s of load from netns $NS via $NODE_ADDR:$HTTP_PORT"
echo "machine: $(nproc) CPU, load $(cut -d' ' -f1-3 /proc/loadavg), $(docker version -f '{{.Server.Version}}' 2>/dev/null)"
summary "wrk keep-alive (8 conn)" "$WORK/keepalive.txt"
summary "wrk conn-per-request (4)" "$WORK/close.txt"
echo "  time to route (task running → 200): median $(printf '%.2f' "$median") s, all: $(printf '%.2f ' "${routes[@]}")"
echo "  proxy task replacements: $replaced (includes the kill)"
echo "  configs published (= reloads per proxy task): $updates"
