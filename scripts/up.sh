#!/usr/bin/env bash
# One command from a fresh Debian machine (as root) to a routed demo app:
# engine → swarm → images → stack → labelled demo service → a curl line to try. Idempotent.
set -euo pipefail
source "$(dirname "$(readlink -f "$0")")/lib/stack.sh"

need_root
start=$(now_s)
ensure_engine
ensure_swarm
ensure_host_tools
ensure_node_toolchain
"$REPO_ROOT/scripts/build-images.sh"

if has_ipvs; then
  log "kernel has IPVS: the ingress routing mesh works; deploy/config.toml decides the publish mode"
else
  log "kernel has no IPVS: service VIPs and the ingress routing mesh cannot work here, so the proxy publishes in host mode (deploy/config.toml: PublishMode = \"host\")"
  grep -Eq '^\s*PublishMode\s*=\s*"host"' "$REPO_ROOT/deploy/config.toml" \
    || die "deploy/config.toml does not use PublishMode = \"host\", which this kernel needs"
fi

deploy_stack
wait_stack_ready 240
restart_stale_services 240

# The demo: an app team's service, routed by labels alone.
docker network inspect demo >/dev/null 2>&1 || docker network create -d overlay --attachable demo >/dev/null
if ! docker service inspect demo >/dev/null 2>&1; then
  log "creating the demo service (2 replicas, hosts demo.signalbox.test and www.demo.signalbox.test)"
  docker service create -d --name demo --network demo --replicas 2 \
    --label com.docker.lb.hosts=demo.signalbox.test,www.demo.signalbox.test \
    --label com.docker.lb.port=80 \
    --label com.docker.lb.network=demo \
    --env NAME=demo signalbox-demo:local >/dev/null
fi
wait_for "curl -sf -H 'Host: demo.signalbox.test' http://127.0.0.1:${HTTP_PORT}/ >/dev/null" 60 0.5 \
  || die "the demo route did not answer; see ./scripts/signalbox status and docker service logs signalbox_core"

log "ready in $(elapsed "$start")s. Try:"
echo
echo "  curl -H 'Host: demo.signalbox.test' http://127.0.0.1:${HTTP_PORT}/"
echo
wait_for "curl -sf http://127.0.0.1:${DASHBOARD_PORT}/v1/health >/dev/null" 30 0.5 \
  || log "the dashboard does not answer on :${DASHBOARD_PORT} yet; see docker service logs ${STACK_NAME}_core"
if url="$("$REPO_ROOT/scripts/signalbox" dashboard)"; then
  echo "Dashboard (open in a browser on this machine; the URL carries the access token):"
  echo
  echo "  $url"
  echo
fi
echo "Route your own service:  docker service create --label com.docker.lb.hosts=app.example.test --label com.docker.lb.port=80 --network demo IMAGE"
echo "See routes and rejections: ./scripts/signalbox status"
