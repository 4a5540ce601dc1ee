#!/usr/bin/env bash
# Deploying the Signalbox stack and waiting for its services. Source it (it sources engine.sh).
if [[ -n "${_SIGNALBOX_STACK_SH:-}" ]]; then return 0; fi
_SIGNALBOX_STACK_SH=1
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/engine.sh"

STACK_NAME="${SIGNALBOX_STACK:-signalbox}"
HTTP_PORT="${SIGNALBOX_HTTP_PORT:-8080}"

# deploy_stack [CONFIG_TOML]: deploy (or update) the stack; the config object is named by content hash.
deploy_stack() {
  local cfg version
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
  # With ProxyEdge (the default) the edge holds the published ports; core creates it with the proxy.
  wait_for "$(declare -f service_running); service_running signalbox-extension && service_running signalbox-proxy && { ! docker service inspect signalbox-proxy-edge >/dev/null 2>&1 || service_running signalbox-proxy-edge; }" "$timeout" 1 \
    || { docker service ls >&2; docker service logs --tail 50 "${STACK_NAME}_core" >&2 || true; die "extension/proxy did not start"; }
  wait_for "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:${HTTP_PORT}/ | grep -q 503" "$timeout" 1 \
    || { docker service logs --tail 50 signalbox-proxy >&2 || true; die "proxy does not answer on :${HTTP_PORT}"; }
  log "stack ready: proxy answers on :${HTTP_PORT}"
}
