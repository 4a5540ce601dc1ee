#!/usr/bin/env bash
# Shared helpers for Signalbox scripts. Source it; safe under `set -euo pipefail`.
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

if [[ -n "${_SIGNALBOX_COMMON_SH:-}" ]]; then return 0; fi
_SIGNALBOX_COMMON_SH=1

# Repository root: the directory above scripts/ (works from any cwd, through symlinks).
if [[ -z "${REPO_ROOT:-}" ]]; then
  REPO_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
fi
export REPO_ROOT

_sbx_ts() { date +%H:%M:%S; }

log()  { printf '[signalbox] %s %s\n' "$(_sbx_ts)" "$*" >&2; }
warn() { printf '[signalbox] %s WARNING: %s\n' "$(_sbx_ts)" "$*" >&2; }
die()  { printf '[signalbox] %s ERROR: %s\n' "$(_sbx_ts)" "$*" >&2; exit 1; }

# need_root: abort unless running as uid 0.
need_root() {
  [[ "$(id -u)" -eq 0 ]] || die "this needs root (run as root or with sudo)"
}

# have CMD: true if CMD is on PATH.
have() { command -v "$1" >/dev/null 2>&1; }

# wait_for CMD TIMEOUT_SECONDS [INTERVAL_SECONDS]
# Polls `bash -c CMD` until it succeeds; returns 1 on timeout. Output of CMD is discarded.
wait_for() {
  local cmd="$1" timeout="${2:-30}" interval="${3:-1}"
  local deadline=$(( $(date +%s) + timeout ))
  while true; do
    if bash -c "$cmd" >/dev/null 2>&1; then return 0; fi
    if (( $(date +%s) >= deadline )); then return 1; fi
    sleep "$interval"
  done
}

# now_s / elapsed START: simple second-resolution timing.
now_s() { date +%s; }
elapsed() { echo $(( $(date +%s) - $1 )); }
