#!/usr/bin/env bash
# Docker engine / host toolchain helpers. Source it (it sources common.sh):
#   source "$REPO_ROOT/scripts/lib/engine.sh"
#   ensure_engine; ensure_swarm; ensure_host_tools; ensure_node_toolchain
#   if has_ipvs; then mode=ingress; else mode=host; fi
# All functions are idempotent and quiet when there is nothing to do. No systemd assumed.

if [[ -n "${_SIGNALBOX_ENGINE_SH:-}" ]]; then return 0; fi
_SIGNALBOX_ENGINE_SH=1
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/common.sh"

_SBX_APT_UPDATED=0

# apt_install PKG...: installs the given Debian packages (apt-get update at most once per shell).
apt_install() {
  need_root
  export DEBIAN_FRONTEND=noninteractive
  if [[ "$_SBX_APT_UPDATED" -eq 0 ]]; then
    log "apt-get update"
    apt-get update -qq >/dev/null || die "apt-get update failed"
    _SBX_APT_UPDATED=1
  fi
  log "apt-get install $*"
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null || die "apt-get install $* failed"
}

# pkg_installed PKG: true if the Debian package is installed.
pkg_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

# ensure_engine: docker CLI + dockerd present and answering `docker info`.
ensure_engine() {
  if ! have dockerd || ! have docker; then
    apt_install docker.io
  fi
  if docker info >/dev/null 2>&1; then return 0; fi
  need_root
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    log "starting dockerd (log: /var/log/dockerd.log)"
    # setsid + nohup: survive the calling script's process group / terminal. Descriptors above 2 are
    # closed in the child: under `flock` (the shared swarm lock) dockerd would otherwise hold the lock.
    ( for fd in $(ls /proc/$BASHPID/fd); do if [[ "$fd" -gt 2 ]]; then eval "exec $fd>&-"; fi; done 2>/dev/null
      exec setsid nohup dockerd >> /var/log/dockerd.log 2>&1 < /dev/null ) &
    disown || true
  else
    log "dockerd is running but not answering yet; waiting"
  fi
  wait_for 'docker info' 60 1 || { tail -n 30 /var/log/dockerd.log >&2 || true; die "dockerd did not become ready within 60s"; }
  log "docker engine ready ($(docker version -f '{{.Server.Version}}' 2>/dev/null))"
}

# ensure_swarm: single-node swarm advertising on 127.0.0.1 unless a swarm is already active.
ensure_swarm() {
  local state
  state="$(docker info -f '{{.Swarm.LocalNodeState}}' 2>/dev/null || true)"
  case "$state" in
    active) return 0 ;;
    pending|locked) die "swarm is in state '$state'; fix it by hand" ;;
  esac
  log "docker swarm init --advertise-addr 127.0.0.1"
  docker swarm init --advertise-addr 127.0.0.1 >/dev/null || die "docker swarm init failed"
}

# has_ipvs: true if the kernel can do IPVS (swarm service VIPs + ingress routing mesh).
# Without it, publish ports with mode=host and reach services via dnsrr / task IPs.
has_ipvs() {
  if [[ -n "${SIGNALBOX_HAS_IPVS:-}" ]]; then
    [[ "$SIGNALBOX_HAS_IPVS" == 1 || "$SIGNALBOX_HAS_IPVS" == true ]]; return
  fi
  [[ -e /proc/net/ip_vs ]] && return 0
  if have modprobe && modprobe -q ip_vs 2>/dev/null; then
    [[ -e /proc/net/ip_vs ]] && return 0
  fi
  return 1
}

# publish_mode: "ingress" if IPVS works, else "host".
publish_mode() { if has_ipvs; then echo ingress; else echo host; fi; }

# ensure_host_tools: host packages the integration/e2e tests use.
ensure_host_tools() {
  local want=()
  if ! have nginx; then
    if apt-cache show nginx-light >/dev/null 2>&1; then want+=(nginx-light); else want+=(nginx); fi
  fi
  pkg_installed libnginx-mod-stream || want+=(libnginx-mod-stream)
  # The edge's keep-alive pool (balancer_by_lua), tested on the host's nginx (edge-live.int.test.ts).
  pkg_installed libnginx-mod-http-lua || want+=(libnginx-mod-http-lua)
  pkg_installed lua-resty-core || want+=(lua-resty-core)
  have openssl     || want+=(openssl)
  have curl        || want+=(curl)
  have debootstrap || want+=(debootstrap)
  have jq          || want+=(jq)
  have flock       || want+=(util-linux)
  # ACME tests run Debian's pebble (a test ACME CA) and pebble-challtestsrv (its fake DNS) on loopback.
  have pebble      || want+=(pebble)
  # The dashboard's browser tests drive Debian's chromium with playwright-core (never a downloaded browser).
  [[ -x /usr/bin/chromium ]] || want+=(chromium)
  # debootstrap needs the archive keyring to verify Release files.
  [[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] || want+=(debian-archive-keyring)
  if [[ ${#want[@]} -gt 0 ]]; then
    apt_install "${want[@]}"
  fi
  # Debian's postinst may have started a system nginx on :80; tests run their own instances.
  if pkg_installed nginx-common && [[ ${#want[@]} -gt 0 ]] && pgrep -x nginx >/dev/null 2>&1 \
      && [[ -f /run/nginx.pid ]]; then
    log "stopping the system nginx that the package install started"
    nginx -s quit 2>/dev/null || true
  fi
  return 0
}

# ensure_pnpm: pnpm on PATH (npm i -g pnpm@10 if missing).
ensure_pnpm() {
  have node || die "node is not installed (need Node.js 20)"
  if ! have pnpm; then
    have npm || die "npm is not installed; cannot install pnpm"
    log "npm i -g pnpm@10"
    npm i -g pnpm@10 >/dev/null 2>&1 || die "npm i -g pnpm@10 failed"
  fi
}

# workspace_install: pnpm install in the repo (frozen lockfile when there is one).
workspace_install() {
  ensure_pnpm
  ( cd "$REPO_ROOT" || exit 1
    export CI="${CI:-true}"   # pnpm: never prompt
    if [[ -f pnpm-lock.yaml ]]; then
      log "pnpm install --frozen-lockfile"
      pnpm install --frozen-lockfile || die "pnpm install --frozen-lockfile failed (lockfile out of date?)"
    else
      log "pnpm install (no lockfile)"
      pnpm install || die "pnpm install failed"
    fi
  ) || exit 1
}

# shellcheck disable=SC2120  # args are optional
# workspace_build [PKGDIR...]: `pnpm run build` (all packages), or `tsc -b` of just the given
# package dirs (e.g. core demo-app) and their project references. Dies on compile errors.
workspace_build() {
  ensure_pnpm
  ( cd "$REPO_ROOT" || exit 1
    if [[ $# -eq 0 ]]; then
      log "pnpm run build"
      pnpm run build || die "TypeScript build failed (pnpm run build)"
    else
      local d cfgs=()
      for d in "$@"; do cfgs+=("packages/$d/tsconfig.json"); done
      log "tsc -b ${cfgs[*]}"
      pnpm exec tsc -b "${cfgs[@]}" || die "TypeScript build failed (tsc -b ${cfgs[*]})"
    fi
  ) || exit 1
}

# ensure_node_toolchain: pnpm present, workspace installed and built.
ensure_node_toolchain() {
  workspace_install
  # shellcheck disable=SC2119  # no args: build every package
  workspace_build
}
