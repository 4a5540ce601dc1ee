#!/usr/bin/env bash
# Builds signalbox-base:local OFFLINE (no image registry): a debootstrapped Debian bookworm
# (minbase) with stock Debian nginx + the stream and Lua modules, ca-certificates, openssl, and the
# host's node binary at /usr/local/bin/node. Used as BASE_IMAGE/NODE_IMAGE by
# scripts/build-images.sh when the official node/nginx images cannot be pulled.
#
#   scripts/build-base-image.sh [--force] [--tag IMAGE]
#
# Users: the image has BOTH Debian's `www-data` (uid 33, what Debian's nginx.conf uses) and an
# `nginx` user/group (uid/gid 101, created here) matching the official nginx image, so an
# nginx.conf with `user nginx;` (or `user www-data;`) works on either base.
# nginx is Debian's 1.22 (official image: 1.26): prefix /usr/share/nginx, modules in
# /usr/lib/nginx/modules (load_module /usr/lib/nginx/modules/ngx_stream_module.so works on both).
set -euo pipefail
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/common.sh"

TAG="signalbox-base:local"
FORCE=0
SUITE="bookworm"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --force) FORCE=1 ;;
    --tag) TAG="$2"; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
  shift
done

need_root
have docker || die "docker is not installed (source scripts/lib/engine.sh and run ensure_engine)"

# One builder at a time (build-images.sh and test.sh may both call us).
exec 9>/var/lock/signalbox-base-image.lock
flock 9

# What the image holds, by version: an image of an older version is rebuilt (2: the Lua module for the
# edge's keep-alive pool).
BASE_VERSION=2
if [[ "$FORCE" -eq 0 ]] && docker image inspect "$TAG" >/dev/null 2>&1; then
  have_version="$(docker image inspect -f '{{index .Config.Labels "com.signalbox.base-version"}}' "$TAG" 2>/dev/null || true)"
  if [[ "$have_version" == "$BASE_VERSION" ]]; then
    log "$TAG already exists (use --force to rebuild)"
    exit 0
  fi
  log "$TAG is of base version ${have_version:-1}, not $BASE_VERSION: rebuilding"
fi

have debootstrap || die "debootstrap missing (apt-get install debootstrap, or ensure_host_tools)"

# --- find the Debian mirror the host's apt uses -------------------------------------------------
# Prints "URI SUITE" pairs for every deb source in sources.list(.d) (one-line and deb822 formats).
apt_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    awk '$1=="deb" { i=2; if ($2 ~ /^\[/) { while (i<=NF && $i !~ /\]$/) i++; i++ } if (i+1<=NF) print $i, $(i+1) }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    awk '
      function flush() { if (types ~ /(^| )deb( |$)/ && enabled != "no") { n=split(uris,u," "); m=split(suites,s," "); for(i=1;i<=n;i++) for(j=1;j<=m;j++) print u[i], s[j] } types=""; uris=""; suites=""; enabled="" }
      /^[[:space:]]*#/ { next }
      /^[[:space:]]*$/ { flush(); next }
      tolower($1)=="types:"   { $1=""; types=$0 }
      tolower($1)=="uris:"    { $1=""; uris=$0 }
      tolower($1)=="suites:"  { $1=""; suites=$0 }
      tolower($1)=="enabled:" { enabled=tolower($2) }
      END { flush() }' "$f"
  done
}

MIRROR="${SIGNALBOX_DEBIAN_MIRROR:-}"
SECURITY_MIRROR="${SIGNALBOX_DEBIAN_SECURITY_MIRROR:-}"
if [[ -z "$MIRROR" ]]; then
  MIRROR="$(apt_sources | awk -v s="$SUITE" '$2==s {print $1; exit}')"
fi
if [[ -z "$SECURITY_MIRROR" ]]; then
  SECURITY_MIRROR="$(apt_sources | awk -v s="$SUITE-security" '$2==s {print $1; exit}')"
fi
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
MIRROR="${MIRROR%/}"
SECURITY_MIRROR="${SECURITY_MIRROR%/}"
log "building $TAG from $MIRROR ($SUITE, minbase)${SECURITY_MIRROR:+ + $SECURITY_MIRROR}"

NODE_BIN="$(readlink -f "$(command -v node || true)")"
[[ -x "$NODE_BIN" ]] || die "no node binary on the host to copy into the image"

START="$(now_s)"
WORK="$(mktemp -d /var/tmp/signalbox-base.XXXXXX)"
ROOTFS="$WORK/rootfs"
cleanup() {
  local m
  for m in "$ROOTFS/dev/pts" "$ROOTFS/dev" "$ROOTFS/proc" "$ROOTFS/sys"; do
    if mountpoint -q "$m" 2>/dev/null; then umount -l "$m" || true; fi
  done
  rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

# --- debootstrap ---------------------------------------------------------------------------------
CACHE_DIR=/var/cache/signalbox/debootstrap
mkdir -p "$CACHE_DIR" "$ROOTFS"
t0="$(now_s)"
debootstrap --variant=minbase --cache-dir="$CACHE_DIR" "$SUITE" "$ROOTFS" "$MIRROR" \
  > "$WORK/debootstrap.log" 2>&1 || { tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
log "debootstrap done in $(elapsed "$t0")s"

# --- packages inside the chroot ------------------------------------------------------------------
{
  echo "deb $MIRROR $SUITE main"
  echo "deb $MIRROR $SUITE-updates main"
  [[ -n "$SECURITY_MIRROR" ]] && echo "deb $SECURITY_MIRROR $SUITE-security main"
} > "$ROOTFS/etc/apt/sources.list"
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
# Never start services inside the chroot.
printf '#!/bin/sh\nexit 101\n' > "$ROOTFS/usr/sbin/policy-rc.d"
chmod 755 "$ROOTFS/usr/sbin/policy-rc.d"
# Keep docs/man pages out from the start (like the official debian images).
cat > "$ROOTFS/etc/dpkg/dpkg.cfg.d/01-signalbox-nodoc" <<'EOF'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
EOF
mount -t proc proc "$ROOTFS/proc"
mount --bind /dev "$ROOTFS/dev"

in_chroot() { chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }

t0="$(now_s)"
in_chroot apt-get update -qq > "$WORK/apt.log" 2>&1 || { tail -n 30 "$WORK/apt.log" >&2; die "apt-get update in chroot failed"; }
NGINX_PKG=nginx
# bookworm: `nginx` is the real package, `nginx-light` is a transitional one that pulls it in.
in_chroot apt-cache show nginx >/dev/null 2>&1 || NGINX_PKG=nginx-light
in_chroot apt-get install -y -qq --no-install-recommends \
    "$NGINX_PKG" libnginx-mod-stream libnginx-mod-http-lua lua-resty-core ca-certificates openssl >> "$WORK/apt.log" 2>&1 \
  || { tail -n 30 "$WORK/apt.log" >&2; die "apt-get install in chroot failed"; }
log "packages installed in $(elapsed "$t0")s ($NGINX_PKG libnginx-mod-stream libnginx-mod-http-lua lua-resty-core ca-certificates openssl)"

# nginx user/group like the official image (uid/gid 101 when free).
if ! in_chroot getent group nginx >/dev/null; then
  if in_chroot getent group 101 >/dev/null; then in_chroot groupadd --system nginx; else in_chroot groupadd --system --gid 101 nginx; fi
fi
if ! in_chroot getent passwd nginx >/dev/null; then
  uid_opt=(--uid 101); in_chroot getent passwd 101 >/dev/null && uid_opt=()
  in_chroot useradd --system --gid nginx --no-create-home --home-dir /nonexistent \
    --comment "nginx user" --shell /bin/false "${uid_opt[@]}" nginx
fi

# Logs to the container's stdout/stderr (as the official nginx image does); no stock site.
mkdir -p "$ROOTFS/var/log/nginx"
ln -sf /dev/stdout "$ROOTFS/var/log/nginx/access.log"
ln -sf /dev/stderr "$ROOTFS/var/log/nginx/error.log"
rm -f "$ROOTFS/etc/nginx/sites-enabled/default"

# node: the host's binary (Debian bookworm libc/libstdc++ inside match the host's).
install -m 0755 "$NODE_BIN" "$ROOTFS/usr/local/bin/node"
in_chroot /usr/local/bin/node --version >/dev/null || die "node does not run inside the rootfs"
in_chroot /usr/sbin/nginx -V >/dev/null 2>&1 || die "nginx does not run inside the rootfs"

# --- clean up ------------------------------------------------------------------------------------
in_chroot apt-get clean
umount -l "$ROOTFS/dev" || true
umount -l "$ROOTFS/proc" || true
rm -f "$ROOTFS/usr/sbin/policy-rc.d"
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb \
       "$ROOTFS"/var/cache/debconf/*-old "$ROOTFS"/var/log/apt/* "$ROOTFS"/var/log/dpkg.log \
       "$ROOTFS"/var/log/bootstrap.log "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
       "$ROOTFS"/tmp/* "$ROOTFS"/var/tmp/*
find "$ROOTFS/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || true
find "$ROOTFS/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
find "$ROOTFS/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
: > "$ROOTFS/etc/resolv.conf"   # docker bind-mounts its own
rm -f "$ROOTFS/etc/hostname"

# --- import --------------------------------------------------------------------------------------
t0="$(now_s)"
tar --numeric-owner --one-file-system -C "$ROOTFS" -c . \
  | docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENV LANG=C.UTF-8' \
      --change 'CMD ["/bin/bash"]' \
      --change 'LABEL org.opencontainers.image.title=signalbox-base org.opencontainers.image.description="Debian bookworm minbase + nginx + node (offline build)"' \
      --change "LABEL com.signalbox.base-version=$BASE_VERSION" \
      --message "signalbox base: debootstrap $SUITE minbase + $NGINX_PKG + node $("$NODE_BIN" --version)" \
      - "$TAG" >/dev/null
log "imported in $(elapsed "$t0")s"

SIZE="$(docker image inspect -f '{{.Size}}' "$TAG")"
log "built $TAG in $(elapsed "$START")s total, size $(( SIZE / 1024 / 1024 ))MB"
