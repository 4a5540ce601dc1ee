#!/usr/bin/env bash
# A multi-node swarm on one machine: one dockerd per node, each in its own network namespace, all
# joined by veth pairs to one bridge that lives in a namespace of its own, and Signalbox deployed
# on it with its proxies constrained to the workers.
#
#   scripts/multinode.sh up [N]        N nodes (default 5): 3 managers + 2 workers when N >= 5,
#                                      else 1 manager + N-1 workers (N >= 3). Idempotent.
#   scripts/multinode.sh env           prints `export DOCKER_HOST=…` for a manager that answers
#   scripts/multinode.sh down          removes everything `up` made
#   scripts/multinode.sh status        nodes, their addresses and sockets
#   scripts/multinode.sh nodes         node names, one a line (m1 m2 m3 w1 w2)
#   scripts/multinode.sh addr NODE     the node's address (also: lb, client)
#   scripts/multinode.sh netns NODE    the node's network namespace file (nsenter --net=…)
#   scripts/multinode.sh link NODE up|down     the node's cable to the bridge
#   scripts/multinode.sh stop-node NODE        stops the node's dockerd (its containers stop too)
#   scripts/multinode.sh start-node NODE       starts it again (it rejoins the swarm)
#   scripts/multinode.sh lb-up BACKEND...      HAProxy in namespace `lb` in front of NODE:PORT backends
#   scripts/multinode.sh lb-down
#   scripts/multinode.sh lb-socket            path of HAProxy's admin socket (`show stat`)
#   scripts/multinode.sh deploy [CONFIG_TOML]  (re)deploys the stack on the swarm
#
# Images: SIGNALBOX_MULTINODE_IMAGES=FILE (a `docker save` tarball) is loaded into every node; without
# it the images are built on the default engine (scripts/build-images.sh, holding
# /tmp/signalbox-swarm.lock since that engine's tags may be shared) and saved to
# .build/multinode/images.tar first. SIGNALBOX_MULTINODE_BUILD=0 saves the tags already there;
# SIGNALBOX_MULTINODE_BUILD=node builds them on the first node's engine instead (no shared tag is
# touched, no lock; signalbox-base:local is copied from the default engine when it has it).
#
# Addresses: 10.213.0.0/24 on the veths inside our namespaces only (the bridge and the host get none),
# overlay subnets from 10.214.0.0/16. Nothing is added to the host's network namespace but the
# veth ends, which are moved into our namespaces at once.
set -euo pipefail
source "$(dirname "$(readlink -f "$0")")/lib/stack.sh"

MN=sbxmn                                   # prefix of every name we make
MN_SWITCH="$MN-sw"                         # namespace holding the bridge
MN_BRIDGE="br0"                            # the bridge, inside $MN_SWITCH
MN_SUBNET=10.213.0                         # .0/24
MN_POOL=10.214.0.0/16                      # swarm overlay address pool
MN_RUN=/run/signalbox-multinode            # exec roots, pid files, the per-node engine socket dir
MN_DATA=/var/lib/signalbox-multinode       # data roots, logs, topology
# Inside each node's mount namespace a tmpfs over this directory holds that node's own docker.sock,
# so one path (config.toml's DockerURL, the stack's socket mount) means "this node's engine" everywhere.
MN_ENGINE_DIR="$MN_RUN/engine"
MN_ENGINE_SOCK="$MN_ENGINE_DIR/docker.sock"
MN_CONFIG="$REPO_ROOT/deploy/multinode/config.toml"
MN_IMAGES_DEFAULT="$REPO_ROOT/.build/multinode/images.tar"
MN_IMAGES=(signalbox-core:local signalbox-extension:local signalbox-proxy:local signalbox-demo:local)

ns_of()     { echo "$MN-$1"; }
sock_of()   { echo "/var/run/docker-$MN-$1.sock"; }
host_of()   { echo "unix://$(sock_of "$1")"; }
pidfile_of(){ echo "$MN_RUN/$1/dockerd.pid"; }
addr_of() {
  case "$1" in
    m[1-9]) echo "$MN_SUBNET.1${1#m}" ;;
    w[1-9]) echo "$MN_SUBNET.2${1#w}" ;;
    lb) echo "$MN_SUBNET.5" ;;
    client) echo "$MN_SUBNET.100" ;;
    *) die "unknown node '$1' (m1..m9, w1..w9, lb, client)" ;;
  esac
}
dk() { local n="$1"; shift; DOCKER_HOST="$(host_of "$n")" docker "$@"; }
in_ns() { local n="$1"; shift; nsenter --net="/var/run/netns/$(ns_of "$n")" "$@"; }

# topology N → node names
topology() {
  local n="$1" i out=()
  (( n >= 3 && n <= 9 )) || die "N must be 3..9 (got $n)"
  local managers=1
  (( n >= 5 )) && managers=3
  for ((i = 1; i <= managers; i++)); do out+=("m$i"); done
  for ((i = 1; i <= n - managers; i++)); do out+=("w$i"); done
  echo "${out[@]}"
}
saved_nodes() { cat "$MN_DATA/nodes" 2>/dev/null || true; }

# --- network -------------------------------------------------------------------------------------
ensure_netns() {
  local ns="$1"
  [[ -e "/var/run/netns/$ns" ]] || ip netns add "$ns"
  ip -n "$ns" link set lo up
}

ensure_switch() {
  ensure_netns "$MN_SWITCH"
  if ! ip -n "$MN_SWITCH" link show "$MN_BRIDGE" >/dev/null 2>&1; then
    ip -n "$MN_SWITCH" link add "$MN_BRIDGE" type bridge
  fi
  ip -n "$MN_SWITCH" link set "$MN_BRIDGE" up
}

# ensure_port NAME: namespace NAME with eth0 at its address, cabled to the bridge.
ensure_port() {
  local n="$1" ns addr
  ns="$(ns_of "$n")"; addr="$(addr_of "$n")"
  ensure_netns "$ns"
  if ! ip -n "$ns" link show eth0 >/dev/null 2>&1; then
    ip link del "$ns" >/dev/null 2>&1 || true   # a half-made pair from an interrupted run
    # Both ends are created in the host namespace and moved out at once.
    ip link add "$ns" type veth peer name "$ns-i"
    ip link set "$ns" netns "$MN_SWITCH"
    ip link set "$ns-i" netns "$ns"
    ip -n "$ns" link set "$ns-i" name eth0
    ip -n "$MN_SWITCH" link set "$ns" master "$MN_BRIDGE"
  fi
  ip -n "$ns" addr replace "$addr/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$MN_SWITCH" link set "$ns" up
}

link_set() { ip -n "$MN_SWITCH" link set "$(ns_of "$1")" "$2"; }

# --- engines -------------------------------------------------------------------------------------
engine_up() { [[ -S "$(sock_of "$1")" ]] && dk "$1" info >/dev/null 2>&1; }

start_engine() {
  local n="$1" ns run data
  ns="$(ns_of "$n")"; run="$MN_RUN/$n"; data="$MN_DATA/$n"
  engine_up "$n" && return 0
  mkdir -p "$run" "$data" "$MN_ENGINE_DIR"
  [[ -f "$data/daemon.json" ]] || echo '{}' > "$data/daemon.json"   # never the host's /etc/docker/daemon.json
  # A VXLAN device of an overlay the stopped engine had joined can be handed back to the node's namespace
  # when the network's sandbox goes (the kernel returns moved devices), and the restarted engine then
  # fails every task on that network with "error creating vxlan interface: file exists". A rebooted
  # node would not have it, so start as one would.
  local vx
  for vx in $(nsenter --net="/var/run/netns/$ns" ip -o link show type vxlan 2>/dev/null | awk -F': ' '$2 ~ /^vx-/ {sub(/@.*/, "", $2); print $2}'); do
    nsenter --net="/var/run/netns/$ns" ip link delete "$vx" && log "removed the stale VXLAN device $vx of $n"
  done
  log "starting dockerd of $n in netns $ns (log: $data/dockerd.log)"
  # Own UTS namespace: the node's hostname is sbxmn-NAME (node.hostname constraints work).
  # Own mount namespace: the tmpfs over $MN_ENGINE_DIR and the engine's own mounts stay in it.
  # Not `ip netns exec`: it remounts /sys and the engine then finds no cgroup mounts.
  setsid nohup nsenter --net="/var/run/netns/$ns" unshare --mount --uts --propagation private \
    sh -c "hostname '$MN-$n' && mount -t tmpfs -o size=1m,mode=0755 $MN-engine '$MN_ENGINE_DIR' && exec dockerd \
      --config-file '$data/daemon.json' --data-root '$data/root' --exec-root '$run/exec' \
      --pidfile '$(pidfile_of "$n")' -H 'unix://$(sock_of "$n")' -H 'unix://$MN_ENGINE_SOCK' \
      --containerd-namespace '$MN-$n' --containerd-plugins-namespace '$MN-$n-plugins' \
      --cgroup-parent '/$MN-$n'" \
    >> "$data/dockerd.log" 2>&1 < /dev/null &
  disown || true
  wait_for "DOCKER_HOST=$(host_of "$n") docker info" 60 0.5 \
    || { tail -n 30 "$data/dockerd.log" >&2; die "dockerd of $n did not answer within 60 s"; }
}

stop_engine() {
  local n="$1" pid
  pid="$(cat "$(pidfile_of "$n")" 2>/dev/null || true)"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  log "stopping dockerd of $n (pid $pid)"
  kill -TERM "$pid"
  wait_for "! kill -0 $pid" 60 0.5 || { warn "dockerd of $n still runs after 60 s; SIGKILL"; kill -KILL "$pid" || true; }
}

# --- swarm ---------------------------------------------------------------------------------------
swarm_state() { dk "$1" info -f '{{.Swarm.LocalNodeState}}' 2>/dev/null || true; }

ensure_swarm_nodes() {
  local nodes=("$@") first="${nodes[0]}" n token_m token_w
  if [[ "$(swarm_state "$first")" != active ]]; then
    log "docker swarm init on $first ($(addr_of "$first"))"
    dk "$first" swarm init --advertise-addr "$(addr_of "$first")" --listen-addr "$(addr_of "$first"):2377" \
      --default-addr-pool "$MN_POOL" --default-addr-pool-mask-length 24 >/dev/null
  fi
  token_m="$(dk "$first" swarm join-token -q manager)"
  token_w="$(dk "$first" swarm join-token -q worker)"
  for n in "${nodes[@]:1}"; do
    [[ "$(swarm_state "$n")" == active ]] && continue
    log "docker swarm join: $n ($(addr_of "$n"))"
    local token="$token_w"
    [[ "$n" == m* ]] && token="$token_m"
    dk "$n" swarm join --token "$token" --advertise-addr "$(addr_of "$n")" --listen-addr "$(addr_of "$n"):2377" \
      "$(addr_of "$first"):2377" >/dev/null
  done
  # Labels the tests and config.toml place by: the node's short name, and which nodes may run proxies.
  for n in "${nodes[@]}"; do
    local id
    id="$(dk "$n" info -f '{{.Swarm.NodeID}}')"
    local args=(--label-add "signalbox.node=$n")
    [[ "$n" == w* ]] && args+=(--label-add signalbox.proxy=true --label-add "signalbox.zone=z${n#w}")
    dk "$first" node update "${args[@]}" "$id" >/dev/null
  done
}

# A manager whose engine answers and sees an active swarm with a leader.
manager() {
  local n
  for n in $(saved_nodes); do
    [[ "$n" == m* ]] || continue
    if engine_up "$n" && [[ "$(dk "$n" info -f '{{.Swarm.ControlAvailable}}' 2>/dev/null)" == true ]] \
        && dk "$n" node ls >/dev/null 2>&1; then echo "$n"; return 0; fi
  done
  return 1
}

# --- images --------------------------------------------------------------------------------------
images_tarball() {
  local file="${SIGNALBOX_MULTINODE_IMAGES:-}"
  if [[ -z "$file" && "${SIGNALBOX_MULTINODE_BUILD:-1}" == node ]]; then
    echo "$MN_IMAGES_DEFAULT"; return 0   # made by build_on_node once the first engine runs
  fi
  if [[ -n "$file" ]]; then
    [[ -f "$file" ]] || die "SIGNALBOX_MULTINODE_IMAGES=$file does not exist"
    echo "$file"; return 0
  fi
  file="$MN_IMAGES_DEFAULT"
  mkdir -p "$(dirname "$file")"
  ensure_engine
  if [[ "${SIGNALBOX_MULTINODE_BUILD:-1}" != 0 ]]; then
    log "building the images on the default engine (holding /tmp/signalbox-swarm.lock)"
    flock -w 900 /tmp/signalbox-swarm.lock bash -c '"$1/scripts/build-images.sh" >&2 && docker save -o "$2" "${@:3}"' \
      build "$REPO_ROOT" "$file" "${MN_IMAGES[@]}" || die "building or saving the images failed"
  else
    # Saved every time: a tarball left from an earlier build would load old images without a word.
    docker save -o "$file" "${MN_IMAGES[@]}" || die "docker save ${MN_IMAGES[*]} failed (build them first)"
  fi
  echo "$file"
}

# build_on_node NODE FILE: scripts/build-images.sh against NODE's engine, saved to FILE.
build_on_node() {
  local n="$1" file="$2"
  mkdir -p "$(dirname "$file")"
  if ! dk "$n" image inspect signalbox-base:local >/dev/null 2>&1 && docker image inspect signalbox-base:local >/dev/null 2>&1; then
    log "copying signalbox-base:local from the default engine to $n"
    docker save signalbox-base:local | dk "$n" load -q >/dev/null || die "copying signalbox-base:local failed"
  fi
  log "building the images on $n's engine"
  DOCKER_HOST="$(host_of "$n")" SIGNALBOX_BASE=local "$REPO_ROOT/scripts/build-images.sh" >&2 \
    || die "building the images on $n failed"
  dk "$n" save -o "$file" "${MN_IMAGES[@]}" || die "docker save on $n failed"
  sha256sum "$file" | cut -c1-16 > "$MN_DATA/$n/images.sha"   # already there
}

load_images() {
  local file="$1" n pids=() want
  want="$(sha256sum "$file" | cut -c1-16)"
  for n in "$@"; do
    [[ "$n" == "$file" ]] && continue
    [[ "$(cat "$MN_DATA/$n/images.sha" 2>/dev/null)" == "$want" ]] && continue
    log "loading the images into $n"
    ( dk "$n" load -q -i "$file" >/dev/null && echo "$want" > "$MN_DATA/$n/images.sha" ) &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || die "docker load failed"; done
}

# --- the stack -----------------------------------------------------------------------------------
deploy_multinode() {
  local cfg="${1:-$MN_CONFIG}" m
  m="$(manager)" || die "no manager answers"
  # Its own token files: every deploy makes a new API token, and the host's single-node stack keeps its own.
  API_TOKEN_HOST_FILE="$MN_DATA/api-token" PROXY_TOKEN_HOST_FILE="$MN_DATA/proxy-token" \
    DOCKER_HOST="$(host_of "$m")" SIGNALBOX_DOCKER_SOCKET="$MN_ENGINE_SOCK" deploy_stack "$cfg"
}

wait_multinode_ready() {
  local timeout="${1:-240}" m w
  m="$(manager)" || die "no manager answers"
  export DOCKER_HOST; DOCKER_HOST="$(host_of "$m")"
  wait_for "$(declare -f service_running); service_running ${STACK_NAME}_core && service_running signalbox-extension && service_running signalbox-proxy" "$timeout" 1 \
    || { docker service ls >&2; docker service ps --no-trunc "${STACK_NAME}_core" signalbox-extension signalbox-proxy >&2 || true; die "core, extension or proxy did not start"; }
  for w in $(saved_nodes); do
    [[ "$w" == w* ]] || continue
    wait_for "nsenter --net=/var/run/netns/$(ns_of client) curl -s -o /dev/null -w '%{http_code}' http://$(addr_of "$w"):${HTTP_PORT}/ | grep -q 503" "$timeout" 1 \
      || { docker service ps signalbox-proxy >&2; die "the proxy on $w does not answer on :${HTTP_PORT}"; }
  done
  log "stack ready: proxies answer on the workers' :${HTTP_PORT}"
}

# --- HAProxy (an operator's external load balancer) ---------------------------------------------
lb_up() {
  (( $# > 0 )) || die "lb-up needs backends (NODE:PORT …)"
  have haproxy || apt_install haproxy
  ensure_port lb
  local dir="$MN_RUN/lb" b i=0
  mkdir -p "$dir"
  {
    echo "global"
    echo "    pidfile $dir/haproxy.pid"
    echo "    stats socket $dir/haproxy.sock mode 600 level admin"
    echo "defaults"
    echo "    mode http"
    echo "    timeout connect 2s"
    echo "    timeout client 30s"
    echo "    timeout server 30s"
    echo "    retries 2"
    echo "    option redispatch"
    echo "frontend http"
    echo "    bind $(addr_of lb):80"
    echo "    default_backend signalbox_http"
    echo "backend signalbox_http"
    echo "    option httpchk GET /signalbox-health"
    echo "    http-check expect status 200"
    for b in "$@"; do
      i=$((i + 1))
      echo "    server ${b%%:*} $(addr_of "${b%%:*}"):${b##*:} check inter 500ms fall 2 rise 2"
    done
  } > "$dir/haproxy.cfg"
  lb_down
  in_ns lb haproxy -D -f "$dir/haproxy.cfg" || die "haproxy did not start"
  log "haproxy in netns $(ns_of lb) on $(addr_of lb):80 → $*"
}

lb_down() {
  local pid
  pid="$(cat "$MN_RUN/lb/haproxy.pid" 2>/dev/null || true)"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait_for "! kill -0 $pid" 10 0.2 || kill -KILL "$pid" || true
  fi
  rm -f "$MN_RUN/lb/haproxy.pid"
}

# --- commands ------------------------------------------------------------------------------------
cmd_up() {
  local n="${1:-5}" start nodes saved
  start="$(now_s)"
  nodes="$(topology "$n")"
  saved="$(saved_nodes)"
  if [[ -n "$saved" && "$saved" != "$nodes" ]]; then
    die "a multi-node swarm with nodes '$saved' is up; run '$0 down' first to make '$nodes'"
  fi
  need_root
  have nsenter && have unshare || die "nsenter/unshare (util-linux) are required"
  have dockerd || ensure_engine
  have curl || ensure_host_tools
  have haproxy || apt_install haproxy
  local file
  file="$(images_tarball)"
  mkdir -p "$MN_DATA" "$MN_RUN"
  echo "$nodes" > "$MN_DATA/nodes"
  ensure_switch
  local x
  for x in $nodes client; do ensure_port "$x"; done
  for x in $nodes; do start_engine "$x"; done
  # shellcheck disable=SC2086
  ensure_swarm_nodes $nodes
  if [[ -z "${SIGNALBOX_MULTINODE_IMAGES:-}" && "${SIGNALBOX_MULTINODE_BUILD:-1}" == node ]]; then
    # shellcheck disable=SC2086
    build_on_node $(set -- $nodes; echo "$1") "$file"
  fi
  # shellcheck disable=SC2086
  load_images "$file" $nodes
  deploy_multinode
  wait_multinode_ready 300
  log "multi-node swarm up in $(elapsed "$start")s: $nodes"
  cmd_status
}

cmd_down() {
  need_root
  local n x
  lb_down
  local pids=()
  for n in m1 m2 m3 m4 m5 m6 m7 m8 m9 w1 w2 w3 w4 w5 w6 w7 w8 w9; do
    [[ -e "$(pidfile_of "$n")" ]] || continue
    stop_engine "$n" & pids+=($!)
  done
  for x in "${pids[@]}"; do wait "$x" || true; done
  for x in $(ip netns list | awk '{print $1}' | grep "^$MN-" || true); do
    ip netns del "$x"
  done
  # Data roots: the engine's mounts lived in its own mount namespace and went with it.
  pids=()
  for x in "$MN_DATA"/*/; do [[ -d "$x" ]] && { rm -rf "$x" & pids+=($!); }; done
  for x in "${pids[@]}"; do wait "$x" || true; done
  rm -rf "$MN_DATA" "$MN_RUN"
  rm -f /var/run/docker-"$MN"-*.sock
  log "multi-node swarm removed"
}

cmd_env() {
  local m
  m="$(manager)" || die "no manager of the multi-node swarm answers (run: $0 up)"
  echo "export DOCKER_HOST=$(host_of "$m")"
}

cmd_status() {
  local n m
  m="$(manager || true)"
  for n in $(saved_nodes); do
    printf '%-3s %-14s %-36s engine:%s link:%s\n' "$n" "$(addr_of "$n")" "$(host_of "$n")" \
      "$(engine_up "$n" && echo up || echo down)" \
      "$(ip -n "$MN_SWITCH" -o link show "$(ns_of "$n")" 2>/dev/null | grep -q 'state UP' && echo up || echo down)"
  done
  [[ -n "$m" ]] && dk "$m" node ls >&2 || true
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  env) cmd_env ;;
  status) cmd_status ;;
  nodes) saved_nodes | tr ' ' '\n' ;;
  addr) addr_of "${2:?node}" ;;
  netns) echo "/var/run/netns/$(ns_of "${2:?node}")" ;;
  link) link_set "${2:?node}" "${3:?up|down}" ;;
  stop-node) stop_engine "${2:?node}" ;;
  start-node) start_engine "${2:?node}" ;;
  lb-up) shift; lb_up "$@" ;;
  lb-down) lb_down ;;
  lb-socket) echo "$MN_RUN/lb/haproxy.sock" ;;
  deploy) shift; deploy_multinode "$@" ;;
  -h|--help|"") sed -n '2,31p' "$0" ;;
  *) die "unknown command '$1' (up, down, env, status, nodes, addr, netns, link, stop-node, start-node, lb-up, lb-down, lb-socket, deploy)" ;;
esac
