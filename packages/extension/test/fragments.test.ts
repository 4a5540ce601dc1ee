// The rendered-fragment cache must never change the output: a cached render equals a cold one,
// a changed upstream is re-rendered, and entries nobody uses any more are dropped.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultTemplatesDir, environmentFor, fragmentCacheFor, renderNginxConf } from '../src/render/index.js';
import { caseNames, loadCase } from './golden/load-cases.js';

const cache = fragmentCacheFor(environmentFor(defaultTemplatesDir()));

describe('fragment cache', () => {
  beforeEach(() => cache.clear());

  it('gives the same bytes warm as cold for every golden case', () => {
    for (const name of caseNames()) {
      const c = loadCase(name);
      cache.clear();
      const cold = renderNginxConf(c.model, c.ext, c.options);
      const missesAfterCold = cache.misses;
      const warm = renderNginxConf(c.model, c.ext, c.options);
      expect(warm).toBe(cold);
      expect(cache.misses).toBe(missesAfterCold);
    }
  });

  it('re-renders only what changed', () => {
    const c = loadCase('two-hosts-scale');
    renderNginxConf(c.model, c.ext, c.options);
    const changed = structuredClone(c.model);
    const up = changed.virtualHosts[0]!.locations[0]!.upstream;
    up.servers = [...up.servers, { addr: '10.0.1.99', port: up.servers[0]!.port, service: up.services[0]! }];
    const misses = cache.misses;
    const warm = renderNginxConf(changed, c.ext, c.options);
    // The changed upstream's block, nothing else (servers only name their upstream).
    expect(cache.misses - misses).toBe(1);
    expect(warm).toContain('server 10.0.1.99:');
    cache.clear();
    expect(renderNginxConf(changed, c.ext, c.options)).toBe(warm);
  });

  it('renders a partial with only the values it is documented to read, so it cannot go stale', () => {
    const c = loadCase('one-host');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'signalbox-fragments-'));
    try {
      cpSync(defaultTemplatesDir(), dir, { recursive: true });
      const server = path.join(dir, 'partials', 'server.njk');
      writeFileSync(server, `# workers {{ main.workerProcesses }}\n${readFileSync(server, 'utf8')}`);
      expect(() => renderNginxConf(c.model, c.ext, { ...c.options, templatesDir: dir })).toThrow(/undefined/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('drops entries unused by the last renders', () => {
    const one = loadCase('one-host');
    const other = loadCase('two-hosts-scale');
    renderNginxConf(one.model, one.ext, one.options);
    const afterOne = cache.size;
    for (let i = 0; i < 5; i++) renderNginxConf(other.model, other.ext, other.options);
    cache.clear();
    renderNginxConf(other.model, other.ext, other.options);
    const otherOnly = cache.size;
    cache.clear();
    renderNginxConf(one.model, one.ext, one.options);
    for (let i = 0; i < 5; i++) renderNginxConf(other.model, other.ext, other.options);
    expect(afterOne).toBeGreaterThan(0);
    expect(cache.size).toBe(otherOnly);
  });
});
