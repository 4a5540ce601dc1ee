#!/usr/bin/env bash
# Try automatic HTTPS (com.docker.lb.acme=true, docs/tls.md) against a test ACME CA on a running stack.
#
#   scripts/acme-pebble.sh up     # pebble + its DNS in the extension's network namespace, stack redeployed
#                                 # with an [Extensions.default.Acme] section pointing at it
#   scripts/acme-pebble.sh down   # remove pebble, redeploy deploy/config.toml
#   scripts/acme-pebble.sh root   # print pebble's issuing root (to verify served certificates)
#
# Debian's pebble (installed if missing) runs in a container that shares the extension task's network
# namespace: the extension reaches the directory on its own loopback (https://127.0.0.1:14000/dir), and
# pebble-challtestsrv answers every DNS query with the proxy task's address on the control network, so
# HTTP-01 validation goes through the proxy (port 80 in its container), which forwards
# /.well-known/acme-challenge/ to the extension. Nothing leaves the machine.
#
# Environment: PEBBLE_VALIDITY (issued certificates' lifetime in seconds, default 3600),
# PEBBLE_BLOCKLIST (comma-separated names pebble refuses), ACME_RETRY_INITIAL / ACME_RETRY_MAX /
# ACME_RENEW_BEFORE (written into the Acme section; defaults 2s / 20s / 720h), SIGNALBOX_ACME_PEBBLE_DIR.
# If the extension task is replaced, pebble goes with its namespace: run `up` again (with
# SIGNALBOX_ROTATE_API_TOKEN=1 it rotates the API token and waits for the extension and proxy to roll).
set -euo pipefail
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/stack.sh"

DIR="${SIGNALBOX_ACME_PEBBLE_DIR:-/var/lib/signalbox/acme-pebble}"
CONTAINER=signalbox-acme-pebble
EXTENSION_SERVICE="${SIGNALBOX_EXTENSION_SERVICE:-signalbox-extension}"
PROXY_SERVICE="${SIGNALBOX_PROXY_SERVICE:-signalbox-proxy}"

task_container() { docker ps -q --filter "label=com.docker.swarm.service.name=$1" | head -n 1; }

control_ip() {
  docker inspect -f "{{with index .NetworkSettings.Networks \"$CONTROL_NETWORK\"}}{{.IPAddress}}{{end}}" "$1"
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

up() {
  need_root
  have pebble || apt_install pebble
  have openssl || apt_install openssl
  mkdir -p "$DIR"
  chmod 700 "$DIR"
  # pebble's HTTPS listener: a self-signed certificate for 127.0.0.1 (the extension trusts it via CABundle).
  if [[ ! -s "$DIR/cert.pem" ]]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj '/CN=signalbox acme-pebble' \
      -addext 'subjectAltName=IP:127.0.0.1' -keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null
    chmod 644 "$DIR/cert.pem" "$DIR/key.pem" # read inside the pebble container; a throw-away test CA
  fi
  local blocklist='[]'
  [[ -n "${PEBBLE_BLOCKLIST:-}" ]] && blocklist="$(jq -cn --arg s "$PEBBLE_BLOCKLIST" '$s | split(",")')"
  jq -n --argjson validity "${PEBBLE_VALIDITY:-3600}" --argjson blocklist "$blocklist" '{pebble: {
      listenAddress: "127.0.0.1:14000", managementListenAddress: "127.0.0.1:15000",
      certificate: "/pebble/cert.pem", privateKey: "/pebble/key.pem", httpPort: 80, tlsPort: 5001,
      ocspResponderURL: "", externalAccountBindingRequired: false, domainBlocklist: $blocklist,
      certificateValidityPeriod: $validity }}' > "$DIR/pebble.json"

  # The stack's config with an Acme section for the default extension.
  { cat "$REPO_ROOT/deploy/config.toml"
    printf '\n[Extensions.default.Acme]\nDirectoryURL = "https://127.0.0.1:14000/dir"\nEmail = "ops@signalbox.test"\n'
    printf 'RetryInitial = "%s"\nRetryMax = "%s"\nRenewBefore = "%s"\n' "${ACME_RETRY_INITIAL:-2s}" "${ACME_RETRY_MAX:-20s}" "${ACME_RENEW_BEFORE:-720h}"
    printf "CABundle = '''\n%s'''\n" "$(cat "$DIR/cert.pem")"
  } > "$DIR/config.toml"
  deploy_stack "$DIR/config.toml"
  wait_stack_ready 240
  # Core rolls onto the new config.toml, then rolls the extension (ACME on mounts the store key secret) and,
  # after a token rotation (SIGNALBOX_ROTATE_API_TOKEN=1), the proxy onto the new token: pebble must join the
  # extension task that stays, and learn the address of the proxy that stays.
  local token_secret
  token_secret="signalbox-api-token-$(sha256sum "$API_TOKEN_HOST_FILE" | cut -c1-12)"
  wait_for "$(declare -f rolled_to); rolled_to $EXTENSION_SERVICE $token_secret && rolled_to $EXTENSION_SERVICE $ACME_STORE_KEY_SECRET && rolled_to $PROXY_SERVICE $token_secret" 300 1 \
    || die "$EXTENSION_SERVICE / $PROXY_SERVICE did not roll onto $token_secret and $ACME_STORE_KEY_SECRET"

  local ext proxy proxy_ip
  ext="$(task_container "$EXTENSION_SERVICE")"; [[ -n "$ext" ]] || die "no running $EXTENSION_SERVICE container on this node"
  proxy="$(task_container "$PROXY_SERVICE")"; [[ -n "$proxy" ]] || die "no running $PROXY_SERVICE container on this node"
  proxy_ip="$(control_ip "$proxy")"; [[ -n "$proxy_ip" ]] || die "the proxy has no address on $CONTROL_NETWORK"
  docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
  local image
  image="$(docker inspect -f '{{.Config.Image}}' "$ext")"
  # Same Debian as the host (signalbox images), so the host's pebble binaries run in it.
  docker run -d --name "$CONTAINER" --label com.signalbox.test=acme-pebble --network "container:$ext" \
    -v /usr/bin/pebble:/usr/local/bin/pebble:ro -v /usr/bin/pebble-challtestsrv:/usr/local/bin/pebble-challtestsrv:ro \
    -v "$DIR:/pebble:ro" -e PEBBLE_VA_NOSLEEP=1 -e PEBBLE_WFE_NONCEREJECT=0 -e PEBBLE_AUTHZREUSE=0 \
    --entrypoint /bin/sh "$image" -c "
      pebble-challtestsrv -defaultIPv4 $proxy_ip -defaultIPv6 '' -dns01 127.0.0.1:8053 -http01 '' -https01 '' -tlsalpn01 '' -management 127.0.0.1:8055 &
      exec pebble -config /pebble/pebble.json -dnsserver 127.0.0.1:8053" >/dev/null
  wait_for "docker exec $CONTAINER node -e \"require('https').get({host:'127.0.0.1',port:14000,path:'/dir',ca:require('fs').readFileSync('/pebble/cert.pem')},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))\"" 60 1 \
    || { docker logs "$CONTAINER" >&2 || true; die "pebble did not start"; }
  log "pebble answers in the extension's namespace; HTTP-01 goes to the proxy at $proxy_ip:80"
  log "try: docker service create --name acme-demo --network demo --label com.docker.lb.hosts=acme-demo.signalbox.test \\"
  log "       --label com.docker.lb.port=80 --label com.docker.lb.network=demo --label com.docker.lb.acme=true signalbox-demo:local"
  log "     curl -sv --resolve acme-demo.signalbox.test:8443:127.0.0.1 --cacert <(scripts/acme-pebble.sh root) https://acme-demo.signalbox.test:8443/"
}

root() {
  docker exec "$CONTAINER" node -e "require('https').get({host:'127.0.0.1',port:15000,path:'/roots/0',ca:require('fs').readFileSync('/pebble/cert.pem')},r=>r.pipe(process.stdout))"
  docker exec "$CONTAINER" node -e "require('https').get({host:'127.0.0.1',port:15000,path:'/intermediates/0',ca:require('fs').readFileSync('/pebble/cert.pem')},r=>r.pipe(process.stdout))"
}

down() {
  need_root
  docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
  deploy_stack
  wait_stack_ready 240
  log "pebble removed; the stack runs deploy/config.toml again (ACME objects stay: docker config ls --filter label=com.signalbox.acme.extension)"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  root) root ;;
  *) sed -n '2,21p' "$0"; exit 2 ;;
esac
