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

# The two tokens (docs/security.md), each a random token in a root-only file on the manager, made into
# the Docker secret signalbox-{api,proxy}-token-<version> by the stack:
# - the API token is new on every deploy (a redeploy rotates it; core and the extension roll onto it,
#   proxies never hold it); SIGNALBOX_KEEP_API_TOKEN=1 keeps the current one for this deploy;
# - the proxy token is kept across deploys; SIGNALBOX_ROTATE_PROXY_TOKEN=1 makes a new one (the
#   proxies roll onto it, start-first behind the edge).
API_TOKEN_HOST_FILE="${SIGNALBOX_API_TOKEN_FILE_HOST:-/var/lib/signalbox/api-token}"
PROXY_TOKEN_HOST_FILE="${SIGNALBOX_PROXY_TOKEN_FILE_HOST:-/var/lib/signalbox/proxy-token}"

# token_file KIND: the host file of the api or proxy token.
token_file() {
  if [[ "$1" == api ]]; then echo "$API_TOKEN_HOST_FILE"; else echo "$PROXY_TOKEN_HOST_FILE"; fi
}

# token_version KIND: the token's version (first 12 hex digits of its file's sha256), as the stack names
# its secret; token_secret KIND: that secret's name.
token_version() { sha256sum "$(token_file "$1")" | cut -c1-12; }
token_secret() { echo "signalbox-$1-token-$(token_version "$1")"; }

# ensure_token KIND NEW: writes a random 256-bit token to the KIND's file (mode 0600) when it has none or
# NEW is 1; prints its version.
ensure_token() {
  local file
  file="$(token_file "$1")"
  if [[ ! -s "$file" || "$2" == 1 ]]; then
    mkdir -p "$(dirname "$file")"
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$file.new") \
      && mv "$file.new" "$file" || die "cannot write the $1 token to $file"
    log "new $1 token in $file"
  fi
  chmod 600 "$file"
  token_version "$1"
}

# ensure_api_token: a new API token unless SIGNALBOX_KEEP_API_TOKEN=1; prints its version. The first
# deploy that makes a proxy token (an upgrade from a release without one) keeps the API token too: ACME
# stores sealed under it by that release are re-sealed under the store key at the extension's first
# start, which needs the token they were sealed with.
ensure_api_token() {
  local keep="${SIGNALBOX_KEEP_API_TOKEN:-0}"
  [[ -s "$PROXY_TOKEN_HOST_FILE" ]] || keep=1
  ensure_token api "$([[ "$keep" == 1 ]] && echo 0 || echo 1)"
}

# ensure_proxy_token: the proxy token, made on first deploy or when SIGNALBOX_ROTATE_PROXY_TOKEN=1;
# prints its version.
ensure_proxy_token() {
  ensure_token proxy "${SIGNALBOX_ROTATE_PROXY_TOKEN:-0}"
}

# prune_token_secrets KIND VERSION: removes the signalbox-KIND-token-* secrets other than VERSION's.
# Docker refuses to remove a secret a service still names (a task rolling off it): that one goes on the
# next deploy.
prune_token_secrets() {
  docker secret ls --format '{{.Name}}' --filter "name=signalbox-$1-token-" \
    | grep -v -x "signalbox-$1-token-$2" \
    | xargs -r -n1 docker secret rm >/dev/null 2>&1 || true
}

# The ACME store key (docs/tls.md): a random key in a Docker secret that seals the ACME account and
# certificates kept in the swarm. Created once, never by a token rotation: rotating the API token keeps
# every certificate. Its content never touches a disk (piped from /dev/urandom into the secret).
# SIGNALBOX_ACME_STORE_KEY_SECRET must match config.toml's [Extensions.NAME.Acme] StoreKeySecret.
ACME_STORE_KEY_SECRET="${SIGNALBOX_ACME_STORE_KEY_SECRET:-signalbox-acme-store-key}"
ensure_acme_store_key() {
  docker secret inspect "$ACME_STORE_KEY_SECRET" >/dev/null 2>&1 && return 0
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' \
    | docker secret create --label com.signalbox.role=acme-store-key "$ACME_STORE_KEY_SECRET" - >/dev/null \
    || docker secret inspect "$ACME_STORE_KEY_SECRET" >/dev/null 2>&1 \
    || die "cannot create the ACME store key secret $ACME_STORE_KEY_SECRET"
  log "new ACME store key: Docker secret $ACME_STORE_KEY_SECRET (kept across deploys and token rotations)"
}

# close_control_network: Docker never changes an existing network, so a control network created
# attachable by an older stack.yml stays attachable across deploys. Recreate it once: remove the
# stack's core and the services core created (label com.signalbox.owner=signalbox; they come back on
# deploy), then the network. Refuses when anything else still uses it.
CONTROL_NETWORK="${SIGNALBOX_CONTROL_NETWORK:-signalbox-control}"
close_control_network() {
  local attachable ids others
  attachable="$(docker network inspect -f '{{.Attachable}}' "$CONTROL_NETWORK" 2>/dev/null || true)"
  [[ "$attachable" == true ]] || return 0
  log "$CONTROL_NETWORK is attachable (made by an older stack.yml): recreating it closed (the proxy restarts once)"
  ids="$(docker network inspect -f '{{.Id}}' "$CONTROL_NETWORK")"
  others="$(docker service ls -q | while read -r s; do
      docker service inspect -f '{{.Spec.Name}} {{index .Spec.Labels "com.signalbox.owner"}} {{index .Spec.Labels "com.docker.stack.namespace"}} {{range .Spec.TaskTemplate.Networks}}{{.Target}} {{end}}' "$s"
    done | awk -v id="$ids" -v stack="$STACK_NAME" '$0 ~ id && $2 != "signalbox" && $3 != stack {print $1}')"
  [[ -z "$others" ]] || die "$CONTROL_NETWORK is attachable and also used by services that are not Signalbox's: $others; remove them from it, then deploy again"
  docker service rm "${STACK_NAME}_core" >/dev/null 2>&1 || true
  docker service ls -q --filter label=com.signalbox.owner=signalbox | xargs -r docker service rm >/dev/null
  wait_for "docker network rm $CONTROL_NETWORK >/dev/null 2>&1 || ! docker network inspect $CONTROL_NETWORK >/dev/null 2>&1" 120 1 \
    || die "$CONTROL_NETWORK is still in use; remove what uses it, then deploy again"
  # Removal is asynchronous: stack deploy must not still see the old network and skip creating it.
  wait_for "[[ -z \"\$(docker network ls -q --filter name=^${CONTROL_NETWORK}\$)\" ]]" 60 1 || die "$CONTROL_NETWORK is still listed after its removal"
  sleep 2
}

# e2e_config: prints the path of the config.toml the e2e suite deploys: deploy/config.toml with a
# short ProxyNetworkDetachDelay for [Extensions.default]. Every e2e file removes the network it made,
# which waits for the proxy to let go of it: 60 s per file with the default. The linger itself is
# tested by the dataplane flap test (a gap of well under 10 s) and the operations fixture (1 s).
E2E_DETACH_DELAY="${SIGNALBOX_E2E_DETACH_DELAY:-10s}"
e2e_config() {
  local out="$REPO_ROOT/.build/e2e/config.toml"
  mkdir -p "$(dirname "$out")"
  grep -q '^ProxyNetworkDetachDelay' "$REPO_ROOT/deploy/config.toml" && die "deploy/config.toml sets ProxyNetworkDetachDelay; e2e_config would set it twice"
  awk -v delay="$E2E_DETACH_DELAY" '{ print } $0 == "[Extensions.default]" { print "ProxyNetworkDetachDelay = \"" delay "\" # e2e: see e2e_config in scripts/lib/stack.sh"; n++ } END { if (n != 1) exit 1 }' \
    "$REPO_ROOT/deploy/config.toml" > "$out.new" || die "deploy/config.toml has no [Extensions.default] section"
  mv "$out.new" "$out"
  echo "$out"
}

# deploy_stack [CONFIG_TOML]: deploy (or update) the stack; the config object is named by content hash.
deploy_stack() {
  local cfg version token_version proxy_token_version
  cfg="$(readlink -f "${1:-$REPO_ROOT/deploy/config.toml}")"
  version="$(sha256sum "$cfg" | cut -c1-12)"
  token_version="$(ensure_api_token)" || exit 1
  proxy_token_version="$(ensure_proxy_token)" || exit 1
  ensure_acme_store_key
  close_control_network
  log "docker stack deploy -c deploy/stack.yml $STACK_NAME (config $cfg, $version; API token $token_version, proxy token $proxy_token_version)"
  local attempt
  for attempt in 1 2; do
    if (cd "$REPO_ROOT/deploy" && SIGNALBOX_CONFIG_FILE="$cfg" SIGNALBOX_CONFIG_VERSION="$version" \
      SIGNALBOX_API_TOKEN_FILE_HOST="$API_TOKEN_HOST_FILE" SIGNALBOX_API_TOKEN_VERSION="$token_version" \
      SIGNALBOX_PROXY_TOKEN_FILE_HOST="$PROXY_TOKEN_HOST_FILE" SIGNALBOX_PROXY_TOKEN_VERSION="$proxy_token_version" \
      docker stack deploy --prune -c stack.yml "$STACK_NAME" >/dev/null); then
      prune_token_secrets api "$token_version"
      prune_token_secrets proxy "$proxy_token_version"
      return 0
    fi
    # A network removed a moment ago can still be seen by the first attempt; the second creates it.
    [[ "$attempt" == 1 ]] && { log "docker stack deploy failed; retrying once in 3s"; sleep 3; }
  done
  die "docker stack deploy failed"
}

# service_running NAME: at least one task of the service is running.
service_running() {
  docker service ps --filter desired-state=running --format '{{.CurrentState}}' "$1" 2>/dev/null | grep -q '^Running'
}

# rolled_to SERVICE SECRET: every running task of SERVICE mounts SECRET, and no older container is left.
rolled_to() {
  local tasks t
  tasks="$(docker service ps -q --filter desired-state=running "$1" 2>/dev/null)"
  [[ -n "$tasks" ]] || return 1
  for t in $tasks; do
    docker inspect -f '{{.Status.State}} {{range .Spec.ContainerSpec.Secrets}}{{.SecretName}} {{end}}' "$t" 2>/dev/null | grep -q "^running .*$2" || return 1
  done
  [[ "$(docker ps -q --filter "label=com.docker.swarm.service.name=$1" | wc -l)" == "$(wc -w <<<"$tasks")" ]]
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
  # Every deploy makes a new API token: the control plane is settled once the extension runs on it.
  local token_secret
  token_secret="$(token_secret api)"
  wait_for "$(declare -f rolled_to); rolled_to ${STACK_NAME}_core $token_secret && rolled_to signalbox-extension $token_secret" "$timeout" 1 \
    || { docker service ps signalbox-extension >&2 || true; die "core/extension did not roll onto the API token $token_secret"; }
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
