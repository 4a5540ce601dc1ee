#!/usr/bin/env bash
# Removes the benchmarks' swarm objects (services and stacks named sbx-perf-*, then the sbx-perf-net
# network). The proxy leaves that network, which rolls it once. Touches nothing else.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib/common.sh
source "$(dirname "$(readlink -f "$0")")/../lib/common.sh"
mapfile -t stacks < <(docker stack ls --format '{{.Name}}' | grep '^sbx-perf-' || true)
for s in "${stacks[@]}"; do docker stack rm "$s" >/dev/null; log "removed stack $s"; done
mapfile -t services < <(docker service ls --format '{{.Name}}' | grep '^sbx-perf-' || true)
for s in "${services[@]}"; do docker service rm "$s" >/dev/null; log "removed service $s"; done
# The network goes once no task uses it: the proxy keeps it for ProxyNetworkDetachDelay (60 s by
# default) after its last routed service went, then rolls, and its old task holds it a few seconds more.
for _ in $(seq 1 75); do
  docker network inspect sbx-perf-net >/dev/null 2>&1 || exit 0
  docker network rm sbx-perf-net >/dev/null 2>&1 && { log "removed network sbx-perf-net"; exit 0; }
  sleep 2
done
warn "sbx-perf-net is still in use; remove it later with: docker network rm sbx-perf-net"
