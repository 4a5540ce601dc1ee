#!/usr/bin/env node
// Records Prometheus scrapes of the running stack's core, extension and proxy tasks (via docker exec,
// their ports are not published) every INTERVAL seconds for SECONDS, as JSON lines:
//   node scripts/grafana-preview/record.mjs OUT.jsonl [SECONDS=300] [INTERVAL=5]
// render.mjs draws deploy/grafana/signalbox-dashboard.json's panels from them (no Grafana needed).
import { execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';

const [out, seconds = '300', interval = '5'] = process.argv.slice(2);
if (!out) throw new Error('usage: record.mjs OUT.jsonl [SECONDS] [INTERVAL]');
const stack = process.env.SIGNALBOX_STACK ?? 'signalbox';
const targets = [
  { service: `${stack}_core`, port: 8080 },
  { service: 'signalbox-extension', port: 8081 },
  { service: 'signalbox-proxy', port: 8082 },
];

function containers(service) {
  return execFileSync('docker', ['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${service}`], {
    encoding: 'utf8',
  })
    .split('\n')
    .filter(Boolean);
}

/** Prometheus text format → [{name, labels, value}] (comments and +Inf handled; no exemplars). */
export function parseText(text, extra) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = { ...extra };
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: m[4] === '+Inf' ? Infinity : Number(m[4]) });
  }
  return out;
}

const end = Date.now() + Number(seconds) * 1000;
while (Date.now() < end) {
  const t = Date.now() / 1000;
  const series = [];
  for (const { service, port } of targets) {
    for (const id of containers(service)) {
      try {
        const text = execFileSync('docker', ['exec', id, 'node', '-e', `fetch('http://127.0.0.1:${port}/metrics').then(r=>r.text()).then(t=>process.stdout.write(t))`], {
          encoding: 'utf8',
          timeout: 10_000,
        });
        series.push(...parseText(text, { instance: `${service}/${id.slice(0, 6)}` }).filter((s) => s.name.startsWith('signalbox_')));
      } catch (e) {
        process.stderr.write(`${service} ${id}: ${e.message}\n`);
      }
    }
  }
  appendFileSync(out, `${JSON.stringify({ t, series })}\n`);
  await new Promise((r) => setTimeout(r, Math.max(0, Number(interval) * 1000 - (Date.now() / 1000 - t) * 1000)));
}
