#!/usr/bin/env bash
# Where the time to route a new stack goes. Deploys RUNS one-service stacks, each on its own network
# (`docker stack deploy` creates <stack>_default, so the routing proxies must be replaced to join it) and,
# with SBX_TIMELINE_CERTS=1, with its own certificate (the routing proxies mount it and check the pair;
# until 2 Dec the extension was replaced too). For each it prints, from the `docker stack deploy`: the
# app task running, the new routing task running (healthy), the replaced routing tasks told to shut down
# and exiting, an extension roll if one happens (it should not), and the host's first 200 (HTTP on :8080, or HTTPS on :8443 with a certificate); then the medians.
#
# Run ./scripts/up.sh first. Usage: ./scripts/bench/route-timeline.sh [RUNS=3]
# Creates only sbx-tl-* stacks and secrets; removes them on exit.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib/stack.sh
source "$(dirname "$(readlink -f "$0")")/../lib/stack.sh"
# shellcheck source=SCRIPTDIR/../lib/app-stack.sh
source "$(dirname "$(readlink -f "$0")")/../lib/app-stack.sh"
have openssl || apt_install openssl

RUNS="${1:-3}"
CERTS="${SBX_TIMELINE_CERTS:-0}"
PROXY=${SIGNALBOX_PROXY_SERVICE:-signalbox-proxy}
EXTENSION=${SIGNALBOX_EXTENSION_SERVICE:-signalbox-extension}
HTTP_PORT="${SIGNALBOX_HTTP_PORT:-8080}"
HTTPS_PORT="${SIGNALBOX_HTTPS_PORT:-8443}"
WORK="$(mktemp -d)"

cleanup() {
  set +e
  for i in $(seq 1 "$RUNS"); do docker stack rm "sbx-tl-$i" >/dev/null 2>&1; done
  remove_secrets sbx-tl-
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { printf '%.2f' "$(echo "$(now) - $1" | bc)"; }
# "ID desired current" of a service's tasks, one per line.
tasks() { docker service ps "$1" --format '{{.ID}} {{.DesiredState}} {{.CurrentState}}' 2>/dev/null | awk '{print $1, $2, $3}'; }

created_to_200=(); running_to_200=()
for i in $(seq 1 "$RUNS"); do
  stack="sbx-tl-$i"; h="tl$i.timeline.test"
  if [[ "$CERTS" == 1 ]]; then
    new_cert "$WORK" "$stack" "$h"
    write_app_stack "$WORK/$stack.yml" "$stack" "$h" "$stack"
    probe=(curl -sk -o /dev/null -w '%{http_code}' -m 2 --resolve "$h:$HTTPS_PORT:127.0.0.1" "https://$h:$HTTPS_PORT/")
  else
    write_app_stack "$WORK/$stack.yml" "$stack" "$h"
    probe=(curl -s -o /dev/null -w '%{http_code}' -m 2 -H "Host: $h" "http://127.0.0.1:$HTTP_PORT/")
  fi
  proxy_before=$(tasks "$PROXY" | awk '$2 == "Running" && $3 == "Running" {print $1}' | sort)
  ext_before=$(tasks "$EXTENSION" | awk '$2 == "Running" && $3 == "Running" {print $1}' | sort)
  echo "run $i: $stack ($([[ "$CERTS" == 1 ]] && echo 'own network and certificate, HTTPS' || echo 'own network, HTTP'))"
  t0=$(now)
  docker stack deploy -c "$WORK/$stack.yml" "$stack" >/dev/null 2>&1
  seen=" "; t_run=""; late=""
  note() { [[ "$seen" == *" $1 "* ]] && return; seen+="$1 "; printf '  +%6ss  %s%s\n' "$(since "$t0")" "$2" "${late:+ (seen while the probe ran: it came before the 200)}"; }
  # What the loop saw, each the first time: up to one round late (~0.2 s: each round asks the engine).
  observe() {
    if [[ -z "$t_run" ]] && docker service ps "${stack}_web" --format '{{.CurrentState}}' 2>/dev/null | grep -q '^Running'; then
      t_run=$(now); note app "app task running"
    fi
    while read -r id desired current; do
      if grep -qx "$id" <<< "$proxy_before"; then
        [[ "$desired" != Running ]] && note "pd-$id" "routing task $id told to shut down (retired)"
        [[ "$current" != Running ]] && note "px-$id" "routing task $id exited"
      elif [[ "$desired" == Running && "$current" == Running ]]; then note "pn-$id" "new routing task $id running (healthy)"
      fi
    done < <(tasks "$PROXY")
    while read -r id desired current; do
      if grep -qx "$id" <<< "$ext_before"; then
        [[ "$desired" != Running ]] && note "ed-$id" "extension task $id told to shut down (retired)"
        [[ "$current" != Running ]] && note "ex-$id" "extension task $id exited"
      elif [[ "$desired" == Running && "$current" == Running ]]; then note "en-$id" "new extension task $id running (healthy)"
      fi
    done < <(tasks "$EXTENSION")
  }
  for _ in $(seq 1 600); do
    observe
    if [[ "$("${probe[@]}")" == 200 ]]; then
      t200=$(now)
      # What changed while the probe ran (the route often follows the new routing task within ms).
      late=1; observe
      printf '  +%6ss  first 200\n' "$(printf '%.2f' "$(echo "$t200 - $t0" | bc)")"; seen+="first200 "
      created_to_200+=("$(echo "$t200 - $t0" | bc)")
      [[ -n "$t_run" ]] && running_to_200+=("$(echo "$t200 - $t_run" | bc)")
      break
    fi
    sleep 0.05
  done
  [[ "$seen" == *" first200 "* ]] || die "$stack not routed within the polling window"
  docker stack rm "$stack" >/dev/null 2>&1 || true
  # Let the proxy let go of the stack network (and roll) before the next run is timed.
  wait_for "! docker network inspect ${stack}_default" 120 1 || true
  sleep 8
  [[ "$CERTS" == 1 ]] && docker secret rm "$stack.crt" "$stack.key" >/dev/null 2>&1 || true
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.2f", m}'; }
echo
echo "route-timeline: $RUNS stacks ($([[ "$CERTS" == 1 ]] && echo 'own network and certificate' || echo 'own network')), machine: $(nproc) CPU, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  stack deploy → first 200: median $(median "${created_to_200[@]}") s, all: $(printf '%.2f ' "${created_to_200[@]}")"
[[ ${#running_to_200[@]} -gt 0 ]] && echo "  app task running → first 200: median $(median "${running_to_200[@]}") s, all: $(printf '%.2f ' "${running_to_200[@]}")"
