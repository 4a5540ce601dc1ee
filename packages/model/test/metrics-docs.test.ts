// Metric names are a stable interface: every metric the sources register is documented in
// docs/metrics.md, every name documented there exists, and the Grafana dashboard only queries those.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const registered = new Set(
  readdirSync(join(ROOT, 'packages'))
    .flatMap((pkg) => {
      try {
        return sources(join(ROOT, 'packages', pkg, 'src'));
      } catch {
        return [];
      }
    })
    .flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/name: '(signalbox_[a-z_]+)'/g)].map((m) => m[1]!)),
);
const documented = new Set([...readFileSync(join(ROOT, 'docs/metrics.md'), 'utf8').matchAll(/^\| `(signalbox_[a-z_]+)` \|/gm)].map((m) => m[1]!));

test('every registered metric is documented in docs/metrics.md, and every documented one exists', () => {
  expect(registered.size).toBeGreaterThan(10);
  expect([...registered].filter((n) => !documented.has(n)).sort()).toEqual([]);
  expect([...documented].filter((n) => !registered.has(n)).sort()).toEqual([]);
});

test('the Grafana dashboard queries only documented metrics', () => {
  const dash = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/signalbox-dashboard.json'), 'utf8')) as {
    panels: { title: string; targets: { expr: string }[] }[];
  };
  const used = new Set(dash.panels.flatMap((p) => p.targets.flatMap((t) => [...t.expr.matchAll(/signalbox_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, '')))));
  expect(used.size).toBeGreaterThan(10);
  expect([...used].filter((n) => !documented.has(n)).sort()).toEqual([]);
  for (const title of ['Proxy reloads', 'Failed validations (extension)', 'Rejections by code', 'Convergence: model → every proxy', 'Config size']) {
    expect(dash.panels.map((p) => p.title)).toContain(title);
  }
});
