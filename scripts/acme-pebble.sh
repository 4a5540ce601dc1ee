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
# pebble-challtestsrv answers every DNS query with 127.0.0.1. HTTP-01 validation goes to 127.0.0.1:5002
# there, a relay that carries it over a unix socket into the network namespace of the task holding the
# HTTP port (the edge, or the proxy in single-hop mode) and connects to that port on its loopback: the
# request takes the clients' path (edge, routing proxy), and the proxy forwards
# /.well-known/acme-challenge/ to the extension. Nothing leaves the machine.
#
# Environment: PEBBLE_VALIDITY (issued certificates' lifetime in seconds, default 3600),
# PEBBLE_BLOCKLIST (comma-separated names pebble refuses), ACME_RETRY_INITIAL / ACME_RETRY_MAX /
# ACME_RENEW_BEFORE (written into the Acme section; defaults 2s / 20s / 720h), SIGNALBOX_ACME_PEBBLE_DIR,
# SIGNALBOX_ACME_BASE_CONFIG (the config.toml the Acme section is added to; default deploy/config.toml,
# e.g. a copy with ProxyReplicas = 2; it must have no [Extensions.default.Acme] section of its own).
# SIGNALBOX_ACME_RESTORE_CONFIG (the config.toml `down` deploys again; default deploy/config.toml).
# If the extension task is replaced, pebble goes with its namespace: run `up` again (with
# SIGNALBOX_ROTATE_PROXY_TOKEN=1 it rotates the proxy token too and waits for the proxies to roll).
set -euo pipefail
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/stack.sh"

DIR="${SIGNALBOX_ACME_PEBBLE_DIR:-/var/lib/signalbox/acme-pebble}"
BASE_CONFIG="${SIGNALBOX_ACME_BASE_CONFIG:-$REPO_ROOT/deploy/config.toml}"
RESTORE_CONFIG="${SIGNALBOX_ACME_RESTORE_CONFIG:-$REPO_ROOT/deploy/config.toml}"
CONTAINER=signalbox-acme-pebble
RELAY=signalbox-acme-relay
EXTENSION_SERVICE="${SIGNALBOX_EXTENSION_SERVICE:-signalbox-extension}"
PROXY_SERVICE="${SIGNALBOX_PROXY_SERVICE:-signalbox-proxy}"
EDGE_SERVICE="${SIGNALBOX_EDGE_SERVICE:-$PROXY_SERVICE-edge}"
HTTP01_PORT=5002

task_container() { docker ps -q --filter "label=com.docker.swarm.service.name=$1" | head -n 1; }

# node one-liner: accept on $1 (port or path) and pipe each connection to $2 (port on 127.0.0.1, or path).
relay_js() {
  printf '%s' "const net=require('net'),fs=require('fs');const at=(a)=>/^[0-9]+$/.test(a)?[Number(a),'127.0.0.1']:[a];
if(!/^[0-9]+$/.test('$1'))try{fs.unlinkSync('$1')}catch{}
net.createServer((c)=>{const u=net.connect(...at('$2'));c.pipe(u).pipe(c);u.on('error',()=>c.destroy());c.on('error',()=>u.destroy());}).listen(...at('$1'));"
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
  jq -n --argjson http01 "$HTTP01_PORT" --argjson validity "${PEBBLE_VALIDITY:-3600}" --argjson blocklist "$blocklist" '{pebble: {
      listenAddress: "127.0.0.1:14000", managementListenAddress: "127.0.0.1:15000",
      certificate: "/pebble/cert.pem", privateKey: "/pebble/key.pem", httpPort: $http01, tlsPort: 5001,
      ocspResponderURL: "", externalAccountBindingRequired: false, domainBlocklist: $blocklist,
      certificateValidityPeriod: $validity }}' > "$DIR/pebble.json"

  # The stack's config with an Acme section for the default extension.
  [[ -r "$BASE_CONFIG" ]] || die "cannot read SIGNALBOX_ACME_BASE_CONFIG=$BASE_CONFIG"
  ! grep -q '^\[Extensions\.default\.Acme\]' "$BASE_CONFIG" || die "$BASE_CONFIG has an [Extensions.default.Acme] section already; this script writes its own"
  { cat "$BASE_CONFIG"
    printf '\n[Extensions.default.Acme]\nDirectoryURL = "https://127.0.0.1:14000/dir"\nEmail = "ops@signalbox.test"\n'
    printf 'RetryInitial = "%s"\nRetryMax = "%s"\nRenewBefore = "%s"\n' "${ACME_RETRY_INITIAL:-2s}" "${ACME_RETRY_MAX:-20s}" "${ACME_RENEW_BEFORE:-720h}"
    printf "CABundle = '''\n%s'''\n" "$(cat "$DIR/cert.pem")"
  } > "$DIR/config.toml"
  deploy_stack "$DIR/config.toml"
  wait_stack_ready 240
  # Core rolls onto the new config.toml and the new API token (every deploy makes one), then rolls the
  # extension (the token; ACME on mounts the store key secret) and, after a proxy token rotation
  # (SIGNALBOX_ROTATE_PROXY_TOKEN=1), the proxies onto the new proxy token (the edge holds no token): pebble
  # must join the extension task that stays, the relay the front task that stays.
  local token_secret proxy_token_secret
  token_secret="$(token_secret api)"
  proxy_token_secret="$(token_secret proxy)"
  wait_for "$(declare -f rolled_to); rolled_to $EXTENSION_SERVICE $token_secret && rolled_to $EXTENSION_SERVICE $ACME_STORE_KEY_SECRET && rolled_to $PROXY_SERVICE $proxy_token_secret" 300 1 \
    || die "$EXTENSION_SERVICE / $PROXY_SERVICE did not roll onto $token_secret, $ACME_STORE_KEY_SECRET and $proxy_token_secret"

  local ext front front_port
  ext="$(task_container "$EXTENSION_SERVICE")"; [[ -n "$ext" ]] || die "no running $EXTENSION_SERVICE container on this node"
  # The task holding the HTTP port: the edge (ProxyEdge, the default), else the proxy itself.
  front="$(task_container "$EDGE_SERVICE")"
  [[ -n "$front" ]] || front="$(task_container "$PROXY_SERVICE")"
  [[ -n "$front" ]] || die "no running $EDGE_SERVICE or $PROXY_SERVICE container on this node"
  front_port="$(docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$front" | sed -n 's/^SIGNALBOX_HTTP_PORT=//p')"
  [[ -n "$front_port" ]] || die "cannot read SIGNALBOX_HTTP_PORT of container $front"
  docker rm -f "$CONTAINER" "$RELAY" >/dev/null 2>&1 || true
  mkdir -p "$DIR/relay"
  local image
  image="$(docker inspect -f '{{.Config.Image}}' "$ext")"
  docker run -d --name "$RELAY" --label com.signalbox.test=acme-pebble --network "container:$front" -v "$DIR/relay:/relay" \
    --entrypoint node "$(docker inspect -f '{{.Config.Image}}' "$front")" -e "$(relay_js /relay/http01.sock "$front_port")" >/dev/null
  # Same Debian as the host (signalbox images), so the host's pebble binaries run in it.
  docker run -d --name "$CONTAINER" --label com.signalbox.test=acme-pebble --network "container:$ext" \
    -v /usr/bin/pebble:/usr/local/bin/pebble:ro -v /usr/bin/pebble-challtestsrv:/usr/local/bin/pebble-challtestsrv:ro \
    -v "$DIR:/pebble:ro" -v "$DIR/relay:/relay" -e RELAY_JS="$(relay_js "$HTTP01_PORT" /relay/http01.sock)" -e PEBBLE_VA_NOSLEEP=1 -e PEBBLE_WFE_NONCEREJECT=0 -e PEBBLE_AUTHZREUSE=0 \
    --entrypoint /bin/sh "$image" -c "
      node -e \"\$RELAY_JS\" &
      pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 '' -dns01 127.0.0.1:8053 -http01 '' -https01 '' -tlsalpn01 '' -management 127.0.0.1:8055 &
      exec pebble -config /pebble/pebble.json -dnsserver 127.0.0.1:8053" >/dev/null
  wait_for "docker exec $CONTAINER node -e \"require('https').get({host:'127.0.0.1',port:14000,path:'/dir',ca:require('fs').readFileSync('/pebble/cert.pem')},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))\"" 60 1 \
    || { docker logs "$CONTAINER" >&2 || true; die "pebble did not start"; }
  log "pebble answers in the extension's namespace; HTTP-01 goes through container $front's port $front_port"
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
  docker rm -f "$CONTAINER" "$RELAY" >/dev/null 2>&1 || true
  deploy_stack "$RESTORE_CONFIG"
  wait_stack_ready 240
  log "pebble removed; the stack runs $RESTORE_CONFIG again (ACME objects stay: docker config ls --filter label=com.signalbox.acme.extension)"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  root) root ;;
  *) sed -n '2,23p' "$0"; exit 2 ;;
esac
