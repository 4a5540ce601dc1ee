#!/usr/bin/env bash
# CPU per request of each access-log option, without Docker: a local nginx (1 worker, `return 200`) on
# 127.0.0.1:39511 with the rendered `main` format, wrk on loopback, the worker's (and for syslog the
# proxy agent's relay's) CPU time divided by the requests served. Stdout goes to a pipe read by `cat`,
# so the container runtime's cost of stdout lines is NOT included (see datapath.sh for the deployed path).
# Usage: ./scripts/bench/accesslog.sh [DURATION_S=5] [ROUNDS=2]
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib/engine.sh
source "$(dirname "$(readlink -f "$0")")/../lib/engine.sh"
have nginx || die "nginx is needed (./scripts/up.sh installs it)"
have wrk || apt_install wrk
workspace_build model proxy-agent
DURATION="${1:-5}" ROUNDS="${2:-2}" PORT=39511 RELAY_PORT=39512
dir="$(mktemp -d /tmp/sbx-perf-accesslog-XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT

conf() { # NAME ACCESS_LOG_DIRECTIVE
  cat >"$dir/$1.conf" <<EOC
worker_processes 1;
pid $dir/$1.pid;
error_log $dir/error.log;
events { worker_connections 1024; }
http {
    log_format main '\$remote_addr - \$remote_user [\$time_local] "\$request" \$status \$body_bytes_sent "\$http_referer" "\$http_user_agent" "\$http_x_forwarded_for"';
    $2
    server { listen 127.0.0.1:$PORT; location / { return 200 "ok\n"; } }
}
EOC
}
conf off 'access_log off;'
conf stdout-buffer-64k 'access_log /dev/stdout main buffer=64k flush=1s;'
conf stdout-a-write-per-line 'access_log /dev/stdout main;'
conf file-buffer-64k "access_log $dir/access.log main buffer=64k flush=1s;"
conf syslog-to-agent-relay "access_log syslog:server=127.0.0.1:$RELAY_PORT,nohostname main;"
cat >"$dir/relay.mjs" <<EOJ
import { pino } from 'pino';
import { startAccessLogRelay } from '$REPO_ROOT/packages/proxy-agent/dist/access-log-relay.js';
const r = await startAccessLogRelay({ port: $RELAY_PORT, logger: pino({ level: 'silent' }) });
process.on('SIGTERM', () => void r.close().then(() => process.exit(0)));
EOJ
ln -s "$REPO_ROOT/packages/proxy-agent/node_modules" "$dir/node_modules"
cpu_ms() { awk '{print ($14+$15)*10}' "/proc/$1/stat"; }

echo "access-log options, local nginx, wrk -t1 -c32 -d${DURATION}s on loopback; $(nproc) CPUs, $(nginx -v 2>&1 | cut -d' ' -f3); load at start $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-26s %10s %10s %14s %14s %14s  %s\n' option req/s p99 'nginx µs/req' 'relay µs/req' 'total µs/req' load
for round in $(seq "$ROUNDS"); do
  for v in off stdout-buffer-64k stdout-a-write-per-line file-buffer-64k syslog-to-agent-relay; do
    relay=""
    if [[ $v == syslog* ]]; then
      node "$dir/relay.mjs" >/dev/null & relay=$!; pids+=("$relay")
      wait_for "ss -uln | grep -q ':$RELAY_PORT '" 20 0.1 || die "relay did not start"
    fi
    (nginx -g 'daemon off;' -p "$dir/" -c "$dir/$v.conf" | cat >/dev/null) &
    wait_for "curl -s -o /dev/null http://127.0.0.1:$PORT/" 20 0.1 || die "nginx ($v) did not start: $(tail -3 "$dir/error.log")"
    master="$(cat "$dir/$v.pid")"; worker="$(pgrep -P "$master" | head -1)"
    w0="$(cpu_ms "$worker")"; r0=0; [[ -n $relay ]] && r0="$(cpu_ms "$relay")"
    out="$(wrk -t1 -c32 -d"${DURATION}s" --latency "http://127.0.0.1:$PORT/")"
    w1="$(cpu_ms "$worker")"; r1=0; [[ -n $relay ]] && r1="$(cpu_ms "$relay")"
    reqs="$(awk '/requests in/ {print $1}' <<<"$out")"
    rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"; p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
    kill -QUIT "$master"; wait_for "! kill -0 $master 2>/dev/null" 20 0.1 || true
    [[ -n $relay ]] && { kill -TERM "$relay"; wait "$relay" 2>/dev/null || true; }
    awk -v v="$v" -v rps="$rps" -v p99="$p99" -v n="$reqs" -v w=$((w1 - w0)) -v r=$((r1 - r0)) -v l="$(cut -d' ' -f1 /proc/loadavg)" \
      'BEGIN { printf "%-26s %10.0f %10s %14.1f %14.1f %14.1f  %s\n", v, rps, p99, 1000*w/n, 1000*r/n, 1000*(w+r)/n, l }'
  done
done
