#!/usr/bin/env bash
# Mutation testing (StrykerJS + jest runner): ./scripts/mutate.sh [model|extension|proxy-agent|core]...
# (default: all). Not run in CI: a full run takes hours on 2 cores. Reports: reports/mutation/TARGET.{json,html};
# the closing lines give each target's mutation score. SBX_MUTATE_FILES=a.ts,b.ts limits a target to some files.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(model extension proxy-agent core)
for t in "${targets[@]}"; do
  echo "[mutate] $t"
  SBX_MUTATE_TARGET="$t" node_modules/.bin/stryker run stryker.config.mjs
done
# Score = detected (killed or timed out) / valid mutants (detected, survived, not covered), as Stryker counts it.
for t in "${targets[@]}"; do
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const n = {}; for (const f of Object.values(r.files)) for (const m of f.mutants) n[m.status] = (n[m.status] ?? 0) + 1;
    const detected = (n.Killed ?? 0) + (n.Timeout ?? 0);
    const valid = detected + (n.Survived ?? 0) + (n.NoCoverage ?? 0);
    console.log(`${process.argv[2]}: mutation score ${(100 * detected / valid).toFixed(1)} % (${detected} killed of ${valid}; ${n.Survived ?? 0} survived, ${n.NoCoverage ?? 0} not covered)`);
  ' "reports/mutation/$t.json" "$t"
done
