// `config check --explain` and docs/migrating-from-interlock.md give the same verdict for every key:
// the doc's key tables are generated from the same tables explainConfig uses, and checked here.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CONFIG_EXTENSION_KEYS, CONFIG_NGINX_TUNING_KEYS, CONFIG_TOP_LEVEL_KEYS } from '../src/config-schema.js';
import { explainConfig, interlockKeyTableMarkdown } from '../src/config-explain.js';
import { INTERLOCK_IGNORED_KEYS } from '../src/interlock-compat.js';

const DOC = fileURLToPath(new URL('../../../docs/migrating-from-interlock.md', import.meta.url));
const BEGIN = /<!-- BEGIN generated[^\n]*-->\n/;
const END = '<!-- END generated -->';
const corpus = (f: string): string => readFileSync(fileURLToPath(new URL(`./fixtures/interlock/config/${f}`, import.meta.url)), 'utf8');

const table = interlockKeyTableMarkdown({
  top: Object.keys(CONFIG_TOP_LEVEL_KEYS),
  extension: Object.keys(CONFIG_EXTENSION_KEYS),
  config: Object.keys(CONFIG_NGINX_TUNING_KEYS),
  ignored: INTERLOCK_IGNORED_KEYS,
});

describe('migration guide key tables', () => {
  test('docs/migrating-from-interlock.md holds the generated tables (UPDATE_GOLDEN=1 rewrites them)', () => {
    const doc = readFileSync(DOC, 'utf8');
    const begin = BEGIN.exec(doc);
    expect(begin).not.toBeNull();
    const start = begin!.index + begin![0].length;
    const end = doc.indexOf(END, start);
    expect(end).toBeGreaterThanOrEqual(start);
    const want = `\n${table}\n`;
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(DOC, doc.slice(0, start) + want + doc.slice(end));
    else expect(doc.slice(start, end)).toBe(want);
  });

  test("explain's verdict for every key of UCP's file matches the doc's status", () => {
    const status = new Map<string, string>();
    for (const line of table.split('\n')) {
      const m = /^\| `([^`]+)` \| ([^|]+) \|/.exec(line);
      if (m) status.set(m[1]!, m[2]!.trim());
    }
    const keys = explainConfig(corpus('service-clusters-3.2.toml'))!;
    expect(keys.length).toBeGreaterThan(60);
    for (const k of keys) {
      const leaf = k.key.split('.').pop()!;
      if (k.key.endsWith('Labels') || leaf === 'RlimitNoFile') continue;
      const s = status.get(leaf);
      const expected = {
        same: /^same/,
        rewritten: /^same/,
        replaced: /Interlock images replaced$/,
        ignored: /^accepted and ignored$/,
        different: /^different$/,
        new: /^new in Signalbox$/,
        refused: /^$/,
      }[k.verdict];
      expect([k.key, s]).toEqual([k.key, expect.stringMatching(expected)]);
    }
  });
});

test('keys Interlock did not have are "new"; misspellings are "refused"', () => {
  const keys = explainConfig('[Extensions.default]\nSSLRedirectPort = 443\nPublishedPort = 80\n[Extensions.default.Config]\nTrustedProxies = ["10.0.0.0/8"]\nMaxConection = 1\n')!;
  expect(keys.map((k) => `${k.key} ${k.verdict}`)).toEqual([
    'Extensions.default.SSLRedirectPort new',
    'Extensions.default.PublishedPort different',
    'Extensions.default.Config.TrustedProxies new',
    'Extensions.default.Config.MaxConection refused',
  ]);
  expect(keys[3]!.note).toMatch(/did you mean "MaxConnections"/);
});
