#!/usr/bin/env bash
# What a routing task's certificate check costs before an install (packages/proxy-agent/src/certificate-check.ts),
# without Docker: PAIRS distinct EC pairs made with openssl, a config of SERVERS TLS server blocks spread
# over them, and the agent's CertificateCheck run three times on it (the first run reads and parses each
# pair once; the next ones only match hosts and check expiry).
# Usage: ./scripts/bench/certificate-check.sh [PAIRS=300] [SERVERS=10000]
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib/engine.sh
source "$(dirname "$(readlink -f "$0")")/../lib/engine.sh"
have openssl || apt_install openssl
workspace_build proxy-agent
PAIRS="${1:-300}" SERVERS="${2:-10000}"
dir="$(mktemp -d /tmp/sbx-perf-certs-XXXXXX)"
trap 'rm -rf "$dir"' EXIT
for i in $(seq 1 "$PAIRS"); do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=s$i.example.test" \
    -addext "subjectAltName=DNS:*.example.test" -keyout "$dir/k$i.key" -out "$dir/c$i.crt" 2>/dev/null
done
cd "$REPO_ROOT/packages/proxy-agent"
node --input-type=module - "$dir" "$PAIRS" "$SERVERS" <<'EOJS'
import { CertificateCheck } from '@signalbox/proxy-agent';
const [dir, pairs, servers] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
let conf = 'http {\n';
for (let i = 0; i < servers; i++) {
  const p = (i % pairs) + 1;
  conf += `    server {\n        server_name "s${i}.example.test";\n        ssl_certificate "${dir}/c${p}.crt";\n        ssl_certificate_key "${dir}/k${p}.key";\n    }\n`;
}
conf += '}\n';
const check = new CertificateCheck({ secretsDir: dir });
for (const run of [1, 2, 3]) {
  const t = process.hrtime.bigint();
  const problems = await check.problems(conf);
  console.log(`certificate-check: ${servers} TLS servers on ${pairs} distinct pairs, run ${run}: ${(Number(process.hrtime.bigint() - t) / 1e6).toFixed(1)} ms, ${problems.length} problems`);
}
EOJS
echo "machine: $(nproc) CPU, load $(cut -d' ' -f1-3 /proc/loadavg)"
