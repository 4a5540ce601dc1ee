#!/usr/bin/env bash
# The one-service app stacks the benches deploy (stack-churn, route-timeline): each on its own network,
# <stack>_default, as `docker stack deploy` makes it, optionally with its own certificate. Source it.
if [[ -n "${_SIGNALBOX_APP_STACK_SH:-}" ]]; then return 0; fi
_SIGNALBOX_APP_STACK_SH=1

# new_cert DIR NAME HOST: secrets NAME.crt and NAME.key, a self-signed certificate for HOST (files in DIR).
new_cert() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$3" -addext "subjectAltName=DNS:$3" \
    -keyout "$1/$2.key" -out "$1/$2.crt" >/dev/null 2>&1 || die "openssl failed"
  docker secret create "$2.crt" "$1/$2.crt" >/dev/null
  docker secret create "$2.key" "$1/$2.key" >/dev/null
}

# write_app_stack FILE STACK HOST [CERT]: a compose file with one demo service routed at HOST on
# STACK's own network; with CERT, served over TLS with the secrets CERT.crt and CERT.key.
write_app_stack() {
  cat > "$1" <<YML
version: "3.8"
services:
  web:
    image: ${SIGNALBOX_DEMO_IMAGE:-signalbox-demo:local}
    deploy:
      endpoint_mode: dnsrr
      labels:
        com.docker.lb.hosts: $3
        com.docker.lb.port: "80"
        com.docker.lb.network: ${2}_default
YML
  if [[ -n "${4:-}" ]]; then
    printf '        com.docker.lb.ssl_cert: %s.crt\n        com.docker.lb.ssl_key: %s.key\n' "$4" "$4" >> "$1"
  fi
}

# remove_secrets PREFIX: removes the secrets whose names start with PREFIX, retrying for up to ~2 min
# (a secret a proxy task still mounts is refused until that task is replaced).
remove_secrets() {
  local left
  for _ in $(seq 1 60); do
    left=$(docker secret ls -q --filter "name=$1")
    [[ -z "$left" ]] && return 0
    # shellcheck disable=SC2086 # one ID per word
    docker secret rm $left >/dev/null 2>&1; sleep 2
  done
}
