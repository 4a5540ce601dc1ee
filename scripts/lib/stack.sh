#!/usr/bin/env bash
# Deploying the Signalbox stack and waiting for its services. Source it (it sources engine.sh).
if [[ -n "${_SIGNALBOX_STACK_SH:-}" ]]; then return 0; fi
_SIGNALBOX_STACK_SH=1
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/engine.sh"

STACK_NAME="${SIGNALBOX_STACK:-signalbox}"
HTTP_PORT="${SIGNALBOX_HTTP_PORT:-8080}"
# Where the proxy's published port answers.
PROXY_ADDR="${SIGNALBOX_PROXY_ADDR:-127.0.0.1}"

DASHBOARD_PORT="${SIGNALBOX_DASHBOARD_PORT:-8090}"
API_TOKEN_SECRET=signalbox-api-token

# ensure_api_token: the Docker secret core reads its API token from (random, created once; Docker
# never hands it back, so `signalbox dashboard` reads it inside core's container).
ensure_api_token() {
  docker secret inspect "$API_TOKEN_SECRET" >/dev/null 2>&1 && return 0
  log "creating the Docker secret $API_TOKEN_SECRET (API and dashboard token)"
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' \
    | docker secret create --label com.signalbox.owner=signalbox "$API_TOKEN_SECRET" - >/dev/null \
    || die "cannot create the Docker secret $API_TOKEN_SECRET"
}

# deploy_stack [CONFIG_TOML]: deploy (or update) the stack; the config object is named by content hash.
deploy_stack() {
  local cfg version
  ensure_api_token
  cfg="$(readlink -f "${1:-$REPO_ROOT/deploy/config.toml}")"
  version="$(sha256sum "$cfg" | cut -c1-12)"
  log "docker stack deploy -c deploy/stack.yml $STACK_NAME (config $cfg, $version)"
  (cd "$REPO_ROOT/deploy" && SIGNALBOX_CONFIG_FILE="$cfg" SIGNALBOX_CONFIG_VERSION="$version" \
    docker stack deploy --prune -c stack.yml "$STACK_NAME" >/dev/null) \
    || die "docker stack deploy failed"
}

# service_running NAME: at least one task of the service is running.
service_running() {
  docker service ps --filter desired-state=running --format '{{.CurrentState}}' "$1" 2>/dev/null | grep -q '^Running'
}

# wait_stack_ready [TIMEOUT]: core, extension and proxy are running and the proxy answers on HTTP_PORT.
wait_stack_ready() {
  local timeout="${1:-180}"
  wait_for "docker service inspect ${STACK_NAME}_core >/dev/null && $(declare -f service_running); service_running ${STACK_NAME}_core" "$timeout" 1 \
    || { docker service ps --no-trunc "${STACK_NAME}_core" >&2 || true; die "core did not start"; }
  log "core is running; waiting for it to create the extension and proxy services"
  wait_for "$(declare -f service_running); service_running signalbox-extension && service_running signalbox-proxy" "$timeout" 1 \
    || { docker service ls >&2; docker service logs --tail 50 "${STACK_NAME}_core" >&2 || true; die "extension/proxy did not start"; }
  wait_for "curl -s -o /dev/null -w '%{http_code}' http://${PROXY_ADDR}:${HTTP_PORT}/ | grep -q 503" "$timeout" 1 \
    || { docker service logs --tail 50 signalbox-proxy >&2 || true; die "proxy does not answer on :${HTTP_PORT}"; }
  log "stack ready: proxy answers on :${HTTP_PORT}"
}

# stale_services: Signalbox services whose running containers use an older build of their image tag.
# Images are built locally under fixed tags (signalbox-*:local) and swarm never restarts a task because
# the tag now points at a new build, so after a rebuild the stack would keep running the old code.
stale_services() {
  local svc ref want cid have
  for svc in "${STACK_NAME}_core" $(docker service ls -q --filter "label=com.signalbox.owner=${SIGNALBOX_OWNER:-signalbox}" --format '{{.Name}}'); do
    ref="$(docker service inspect -f '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "$svc" 2>/dev/null)" || continue
    want="$(docker image inspect -f '{{.Id}}' "${ref%%@*}" 2>/dev/null)" || continue
    for cid in $(docker ps -q --filter "label=com.docker.swarm.service.name=$svc"); do
      have="$(docker inspect -f '{{.Image}}' "$cid" 2>/dev/null)" || continue
      if [[ "$have" != "$want" ]]; then echo "$svc"; break; fi
    done
  done
}

# restart_stale_services [TIMEOUT]: restart (docker service update --force) every service still running an
# older build of its image, core first (it manages the others), then wait until the stack is ready again.
restart_stale_services() {
  local timeout="${1:-240}" svc stale
  stale="$(stale_services)"
  [[ -z "$stale" ]] && return 0
  for svc in $stale; do
    log "restarting $svc: it runs an older build of its image"
    docker service update --force --detach "$svc" >/dev/null || die "cannot restart $svc"
  done
  sleep 2
  wait_stack_ready "$timeout"
}
