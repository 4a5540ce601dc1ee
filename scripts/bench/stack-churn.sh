#!/usr/bin/env bash
# Stack churn under load, as a real client sees it: the load runs in its own network namespace and
# reaches the node through a veth pair (node address 10.213.0.1), so its packets go through the
# iptables DNAT of the published port, not through docker-proxy on loopback. While wrk clients load two
# anchor apps — HTTP, HTTPS terminated by the proxy, and HTTPS passed through to the app; each with one
# keep-alive client and one with a new connection per request — N app stacks are deployed and removed,
# each with its own network (every `docker stack deploy` creates <stack>_default) and its own
# certificate (two new secrets the proxy must mount; SBX_CHURN_CERTS=0: networks only), and one proxy
# task is killed (SBX_CHURN_KILL=0: not).
# Two passthrough apps: one that never ends a keep-alive connection (Node's default) and one that ends it
# after 1000 requests (`Connection: close`, nginx's keepalive_requests default). A passthrough session is
# the app's own TLS connection: no proxy can end it cleanly, so a replaced routing task holds it until the
# app ends it or its stop grace period does (ProxySessionGracePeriod, while another routing task serves).
# Prints errors by kind per client, time to route each new stack (from its task running to its first
# 200), proxy task replacements with where a new routing task's time goes (created → started: the engine;
# started → healthy: the agent), reloads of running routing tasks (config installs, less the one each new
# task makes at its start) and core's model updates.
#
# Run ./scripts/up.sh first. Usage: ./scripts/bench/stack-churn.sh [STACKS=5]
# Creates only sbx-churn-* objects, netns sbx-churn (with /etc/netns/sbx-churn/hosts) and veth
# sbxch0/sbxch1; removes them on exit.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib/stack.sh
source "$(dirname "$(readlink -f "$0")")/../lib/stack.sh"
# shellcheck source=SCRIPTDIR/../lib/app-stack.sh
source "$(dirname "$(readlink -f "$0")")/../lib/app-stack.sh"
need_root
have wrk || apt_install wrk
have openssl || apt_install openssl

STACKS="${1:-5}"
NS=sbx-churn
NODE_ADDR=10.213.0.1
CLIENT_ADDR=10.213.0.2
ANCHOR=sbx-churn-anchor
ANCHOR_NET=sbx-churn-anchor-net
ANCHOR_HOST=anchor.churn.test
PASS=sbx-churn-pass
PASS_HOST=pass.churn.test
PASS_BOUNDED=sbx-churn-pass-bounded
PASS_BOUNDED_HOST=pass-bounded.churn.test
HTTPS_PORT="${SIGNALBOX_HTTPS_PORT:-8443}"
KILL="${SBX_CHURN_KILL:-1}"
CERTS="${SBX_CHURN_CERTS:-1}"   # 0: the stacks bring no certificate (networks only)
PROXY=${SIGNALBOX_PROXY_SERVICE:-signalbox-proxy}
DURATION=$((STACKS * 30 + 40))
WORK="$(mktemp -d)"

cleanup() {
  set +e
  [[ -n "${proxy_events:-}" ]] && kill "$proxy_events" 2>/dev/null
  for i in $(seq 1 "$STACKS"); do docker stack rm "sbx-churn-$i" >/dev/null 2>&1; done
  docker service rm "$ANCHOR" "$PASS" "$PASS_BOUNDED" >/dev/null 2>&1
  ip link del sbxch0 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  rm -rf "/etc/netns/$NS"
  # The proxy lets go of the anchors' network after ProxyNetworkDetachDelay, of secrets at its next roll.
  for _ in $(seq 1 150); do
    docker network inspect "$ANCHOR_NET" >/dev/null 2>&1 || break
    docker network rm "$ANCHOR_NET" >/dev/null 2>&1 && break; sleep 1
  done
  remove_secrets sbx-churn-
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
# wrk sends the URL's host as SNI: the client namespace resolves the test names to the node.
mkdir -p "/etc/netns/$NS"
printf '127.0.0.1 localhost\n%s %s %s %s\n' "$NODE_ADDR" "$ANCHOR_HOST" "$PASS_HOST" "$PASS_BOUNDED_HOST" > "/etc/netns/$NS/hosts"


# ---- anchor app (a previous run's network may still be held by the proxy for its detach delay).
wait_for "! docker network inspect $ANCHOR_NET" 180 2 || die "$ANCHOR_NET still exists (a previous run's?); remove it first"
docker network create --driver overlay --attachable "$ANCHOR_NET" >/dev/null
new_cert "$WORK" sbx-churn-anchor "$ANCHOR_HOST"
new_cert "$WORK" sbx-churn-pass "$PASS_HOST"
docker service create --detach --name "$ANCHOR" --network "$ANCHOR_NET" --replicas 2 --endpoint-mode dnsrr \
  --label com.docker.lb.hosts="$ANCHOR_HOST" --label com.docker.lb.port=80 --label com.docker.lb.network="$ANCHOR_NET" \
  --label com.docker.lb.ssl_cert=sbx-churn-anchor.crt --label com.docker.lb.ssl_key=sbx-churn-anchor.key \
  "${SIGNALBOX_DEMO_IMAGE:-signalbox-demo:local}" >/dev/null
# TLS passthrough: the app terminates TLS itself on 443. pass_app NAME HOST MAX_REQUESTS_PER_SOCKET (0: never).
pass_app() {
  docker service create --detach --name "$1" --network "$ANCHOR_NET" --replicas 2 --endpoint-mode dnsrr \
    --secret sbx-churn-pass.crt --secret sbx-churn-pass.key \
    --env PORT=443 --env TLS_CERT_FILE=/run/secrets/sbx-churn-pass.crt --env TLS_KEY_FILE=/run/secrets/sbx-churn-pass.key \
    --env MAX_REQUESTS_PER_SOCKET="$3" \
    --label com.docker.lb.hosts="$2" --label com.docker.lb.port=443 --label com.docker.lb.network="$ANCHOR_NET" \
    --label com.docker.lb.ssl_passthrough=true \
    "${SIGNALBOX_DEMO_IMAGE:-signalbox-demo:local}" >/dev/null
}
pass_app "$PASS" "$PASS_HOST" 0
# The same app ending each keep-alive connection after 1000 requests, as nginx does.
pass_app "$PASS_BOUNDED" "$PASS_BOUNDED_HOST" 1000
# wait_for runs its condition in a new bash: the curl is spelled out, not a function.
ns_code="ip netns exec $NS curl -sk -o /dev/null -m 3 -w '%{http_code}'"
wait_for "[[ \$($ns_code -H 'Host: $ANCHOR_HOST' http://$NODE_ADDR:$HTTP_PORT/) == 200 ]]" 180 1 \
  || die "anchor not reachable from the client namespace at $NODE_ADDR:$HTTP_PORT"
wait_for "[[ \$($ns_code https://$ANCHOR_HOST:$HTTPS_PORT/) == 200 ]]" 180 1 || die "anchor not reachable over HTTPS from the client namespace"
wait_for "[[ \$($ns_code https://$PASS_HOST:$HTTPS_PORT/) == 200 ]]" 180 1 || die "passthrough anchor not reachable from the client namespace"
wait_for "[[ \$($ns_code https://$PASS_BOUNDED_HOST:$HTTPS_PORT/) == 200 ]]" 180 1 || die "bounded passthrough anchor not reachable from the client namespace"
wait_for "[[ \$(docker service inspect -f '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' $PROXY) != updating ]]" 180 1 || true
sleep 3
log "anchor answers from the client namespace through $NODE_ADDR:$HTTP_PORT (DNAT)"

metric() { # metric NAME: sum over core's /metrics
  local c; c=$(docker ps -q --filter label=com.docker.swarm.service.name="${STACK_NAME}_core" | head -1)
  # /metrics needs the API token (docs/security.md), which core's task has mounted.
  docker exec "$c" node -e "const h={authorization:'Bearer '+require('fs').readFileSync('/run/secrets/signalbox-api-token','utf8').trim()};fetch('http://127.0.0.1:8080/metrics',{headers:h}).then(r=>r.text()).then(t=>{let s=0;for(const l of t.split('\n')){const m=/^$1(?:\{[^}]*\})?\s+(\S+)/.exec(l);if(m)s+=Number(m[1])}console.log(s)})"
}
# Proxy containers started during the churn, from the engine's event stream, followed live: swarm keeps
# only a few old tasks per slot (TaskHistoryRetentionLimit) and dockerd only its last few hundred events,
# so counting `docker service ps` rows or asking for past events afterwards misses replacements.
updates0=$(metric signalbox_model_updates_total)
# Creates and health events too: where a route's time goes (the engine's container start, then the agent).
docker events --filter type=container --filter event=create --filter event=start --filter event=health_status \
  --filter "label=com.docker.swarm.service.name=$PROXY" --format '{{.TimeNano}} {{.Action}} {{.ID}}' > "$WORK/proxy-events.txt" &
proxy_events=$!
# Every config a routing task installs (followed live, for the same reason: old tasks' logs go with them).
docker service logs --follow --raw --since "$(date -u +%Y-%m-%dT%H:%M:%S)" "$PROXY" > "$WORK/proxy-log.txt" 2>&1 &
proxy_logs=$!

# ---- load: keep-alive and connection per request on each path, all for the whole churn.
ns_wrk() { # ns_wrk OUT CONNECTIONS URL [wrk args]: wrk never retries, every error counts
  local out="$1" c="$2" url="$3"; shift 3
  ip netns exec "$NS" wrk -t1 -c"$c" -d"${DURATION}s" --timeout 5s "$@" "$url" > "$WORK/$out.txt" 2>&1 &
  loads+=($!)
}
loads=()
ns_wrk http-keepalive 6 "http://$NODE_ADDR:$HTTP_PORT/" -H "Host: $ANCHOR_HOST"
ns_wrk http-close 3 "http://$NODE_ADDR:$HTTP_PORT/" -H "Host: $ANCHOR_HOST" -H "Connection: close"
ns_wrk https-keepalive 3 "https://$ANCHOR_HOST:$HTTPS_PORT/"
ns_wrk https-close 2 "https://$ANCHOR_HOST:$HTTPS_PORT/" -H "Connection: close"
ns_wrk passthrough-keepalive 2 "https://$PASS_HOST:$HTTPS_PORT/"
ns_wrk passthrough-close 2 "https://$PASS_HOST:$HTTPS_PORT/" -H "Connection: close"
ns_wrk passthrough-bounded 2 "https://$PASS_BOUNDED_HOST:$HTTPS_PORT/"
start=$(now_s)

# When HOST first answered 200 (epoch s.ns), within TIMEOUT s. A probe starts every 50 ms without
# waiting for the ones in flight: the edge holds a request for a host no routing task serves yet up to
# 0.8 s before its 503 (it asks the tasks again, edge.ts AGAIN_PAUSES), so one probe at a time would see
# the route up to that late; a probe sent just after the route arrived answers at once.
first_200_at() {
  local host="$1" timeout="$2" mark; mark=$(mktemp -u "$WORK/routed.XXXX")
  local deadline=$(( $(date +%s) + timeout )) probes=()
  while [[ ! -s "$mark" ]] && (( $(date +%s) < deadline )); do
    ( [[ "$(curl -s -m 3 -o /dev/null -w '%{http_code}' -H "Host: $host" "http://127.0.0.1:$HTTP_PORT/")" == 200 ]] \
        && [[ ! -s "$mark" ]] && date +%s.%N >> "$mark" ) &
    probes+=("$!")
    sleep 0.05
  done
  wait "${probes[@]}" 2>/dev/null || true   # the probes only: the load clients run in the background too
  [[ -s "$mark" ]] && head -1 "$mark"
}

# ---- churn: deploy a stack, time its route, remove it; kill a proxy task once, half way.
routes=()
for i in $(seq 1 "$STACKS"); do
  stack="sbx-churn-$i"; h="s$i.churn.test"
  if [[ "$CERTS" == 1 ]]; then
    new_cert "$WORK" "$stack" "$h"
    write_app_stack "$WORK/$stack.yml" "$stack" "$h" "$stack"
  else
    write_app_stack "$WORK/$stack.yml" "$stack" "$h"
  fi
  docker stack deploy -c "$WORK/$stack.yml" "$stack" >/dev/null
  wait_for "docker service ps --filter desired-state=running --format '{{.CurrentState}}' ${stack}_web 2>/dev/null | grep -q '^Running'" 120 0.1 || die "$stack did not start"
  t_run=$(date +%s.%N)
  t_routed=$(first_200_at "$h" 120) || die "$stack not routed"
  routes+=("$(echo "$t_routed - $t_run" | bc)")
  log "$stack routed $(printf '%.2f' "${routes[-1]}") s after its task ran"
  sleep 5
  if [[ "$KILL" == 1 && "$i" -eq $(( (STACKS + 1) / 2 )) ]]; then
    c=$(docker ps -q --filter label=com.docker.swarm.service.name="$PROXY" | head -1)
    log "killing proxy container $c"
    docker kill "$c" >/dev/null
    sleep 10
  fi
  # Exits 1 when the proxy still joins the stack network at that instant; core removes it (docs/operations.md).
  docker stack rm "$stack" >/dev/null 2>&1 || true
  wait_for "curl -s -o /dev/null -w '%{http_code}' -H 'Host: $h' http://127.0.0.1:$HTTP_PORT/ | grep -q 503" 60 0.2 || true
  sleep 5
  # Its certificate: removable once the proxy that mounted it has rolled (the next stack's roll at the latest).
  docker secret rm "$stack.crt" "$stack.key" >/dev/null 2>&1 || true
done
log "churn done after $(elapsed "$start") s; waiting for the load to finish"
wait "${loads[@]}" || true

# ---- figures.
updates=$(( $(metric signalbox_model_updates_total) - updates0 ))
kill "$proxy_events" "$proxy_logs" 2>/dev/null || true
replaced=$(awk '$2 == "start"' "$WORK/proxy-events.txt" | wc -l)
# Per routing task: created → started (dockerd: network sandbox, overlay joins, mounts) and started →
# healthy (node loads the agent, nginx starts, the first check passes); medians and ranges.
phases=$(awk '
  $2 == "create" { c[$NF] = $1 } $2 == "start" { s[$NF] = $1 } $2 == "health_status:" && $3 == "healthy" && !($NF in h) { h[$NF] = $1 }
  END { for (id in s) if ((id in c) && (id in h)) printf "%.2f %.2f\n", (s[id] - c[id]) / 1e9, (h[id] - s[id]) / 1e9 }' "$WORK/proxy-events.txt")
# median_range: numbers on stdin → "MEDIAN MIN MAX" (nothing for none).
median_range() { sort -n | awk 'NF {a[++n]=$1} END { if (n) print (n%2 ? a[(n+1)/2] : (a[n/2]+a[n/2+1])/2), a[1], a[n] }'; }
phase_stats() { # phase_stats COLUMN: "median M s (MIN–MAX)" over the routing tasks
  local m; m=$(echo "$phases" | awk -v k="$1" 'NF { print $k }' | median_range)
  [[ -n "$m" ]] || { echo none; return; }
  # shellcheck disable=SC2086  # "MEDIAN MIN MAX" splits into printf's three arguments
  printf 'median %.2f s (%.2f–%.2f)' $m
}
installed=$(grep -F '"msg":"config installed"' "$WORK/proxy-log.txt" || true)
installs=$(grep -c . <<< "$installed" || true)
# An install is a reload unless nginx was not running yet (a task's start: "reloaded":false).
reloads=$(grep -cF '"reloaded":true' <<< "$installed" || true)
# A roll's new task on its own config (the routes held for the old task): booted into it, or reloaded into it.
own_boot=$(grep -F '+new-tasks"' <<< "$installed" | grep -cF '"reloaded":false' || true)
own_reload=$(grep -F '+new-tasks"' <<< "$installed" | grep -cF '"reloaded":true' || true)
summary() { # summary NAME FILE
  local f="$2" req non2xx sock
  req=$(awk '/requests in/ {print $1}' "$f")
  non2xx=$(awk -F': ' '/Non-2xx/ {print $2}' "$f"); non2xx=${non2xx:-0}
  sock=$(grep -o 'Socket errors:.*' "$f" || echo 'Socket errors: none')
  printf '  %-28s %9s requests, non-2xx %s, %s\n' "$1" "$req" "$non2xx" "$sock"
}
median=$(printf '%s\n' "${routes[@]}" | median_range | cut -d' ' -f1)
echo
echo "stack-churn: $STACKS stacks (own network$([[ $CERTS == 1 ]] && echo ' and certificate') each), $([[ $KILL == 1 ]] && echo 1 || echo no) proxy kill, ${DURATION} s of load from netns $NS via $NODE_ADDR:$HTTP_PORT"
echo "machine: $(nproc) CPU, load $(cut -d' ' -f1-3 /proc/loadavg), $(docker version -f '{{.Server.Version}}' 2>/dev/null)"
echo "  errors by client (wrk: non-2xx; socket errors connect/read/write/timeout):"
summary "HTTP keep-alive (6 conn)" "$WORK/http-keepalive.txt"
summary "HTTP conn-per-request (3)" "$WORK/http-close.txt"
summary "HTTPS keep-alive (3)" "$WORK/https-keepalive.txt"
summary "HTTPS conn-per-request (2)" "$WORK/https-close.txt"
summary "passthrough keep-alive (2)" "$WORK/passthrough-keepalive.txt"
summary "passthrough conn-per-req (2)" "$WORK/passthrough-close.txt"
summary "passthrough keep-alive, app ends after 1000 (2)" "$WORK/passthrough-bounded.txt"
echo "  time to route (task running → 200): median $(printf '%.2f' "$median") s, all: $(printf '%.2f ' "${routes[@]}")"
echo "  proxy task replacements: $replaced$([[ $KILL == 1 ]] && echo ' (includes the kill)')"
echo "  new routing tasks, created → started (the engine): $(phase_stats 1); started → healthy (the agent): $(phase_stats 2)"
echo "  reloads of running routing tasks: $reloads ($installs config installs, $((installs - reloads)) at a task's start); a new task's own config (+new-tasks): $own_boot booted into, $own_reload reloaded into"
echo "  model updates (core): $updates"
