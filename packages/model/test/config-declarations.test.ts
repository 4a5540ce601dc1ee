// Each config.toml key is declared once (config-schema.ts): these tests hold the declarations to what
// parseConfig does with them, so a wrong example, default or check cannot sit in the table unnoticed.
import { CONFIG_RULES } from '../src/config-rules.js';
import { CONFIG_ACME_KEYS, CONFIG_EXTENSION_KEYS, CONFIG_NGINX_TUNING_KEYS, CONFIG_TOP_LEVEL_KEYS } from '../src/config-schema.js';
import type { ConfigKeySpec } from '../src/config-schema.js';
import { configReferenceMarkdown } from '../src/config-docs.js';
import { parseConfig } from '../src/config.js';

type Section = 'top' | 'extension' | 'config' | 'acme';
const SECTIONS: [Section, Readonly<Record<string, ConfigKeySpec>>][] = [
  ['top', CONFIG_TOP_LEVEL_KEYS],
  ['extension', CONFIG_EXTENSION_KEYS],
  ['config', CONFIG_NGINX_TUNING_KEYS],
  ['acme', CONFIG_ACME_KEYS],
];
const KEYS = SECTIONS.flatMap(([section, specs]) => Object.entries(specs).map(([key, spec]) => ({ section, key, spec })));

/** A file setting one key in its section (TOML: JSON strings and arrays of strings are valid values). */
function fileWith(section: Section, key: string, value: unknown): string {
  const line = `${key} = ${JSON.stringify(value)}`;
  switch (section) {
    case 'top':
      return `${line}\n[Extensions.default]\n`;
    case 'extension':
      return `[Extensions.default]\n${line}\n`;
    case 'config':
      return `[Extensions.default.Config]\n${line}\n`;
    case 'acme':
      return `[Extensions.default.Acme]\n${line}\n`;
  }
}

function valueOf(section: Section, key: string, text: string): unknown {
  const r = parseConfig(text);
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.code} ${e.key}: ${e.message}`).join('\n'));
  const ext = r.config.Extensions.default! as unknown as Record<string, Record<string, unknown>>;
  const table = section === 'top' ? (r.config as unknown as Record<string, unknown>) : section === 'extension' ? ext : ext[section === 'config' ? 'Config' : 'Acme']!;
  return table[key];
}

describe('config key declarations', () => {
  const examples = KEYS.flatMap(({ section, key, spec }) => (spec.examples ?? []).map((example: unknown) => [`${key} = ${JSON.stringify(example)}`, section, key, example] as const));

  it('declare examples for the keys with a check', () => {
    const checked = KEYS.filter(({ spec }) => spec.check);
    expect(checked.length).toBeGreaterThanOrEqual(17);
    for (const { key, spec } of checked) expect([key, (spec.examples ?? []).length > 0]).toEqual([key, true]);
  });

  it.each(examples)('example %s is accepted and kept as written', (_, section, key, example) => {
    expect(valueOf(section, key, fileWith(section, key, example))).toEqual(example);
  });

  it.each(KEYS.filter(({ spec }) => spec.check).map(({ section, key, spec }) => [key, section, spec] as const))("%s: the default passes the key's check", (_, __, spec) => {
    expect((spec.check as { problems(v: unknown): unknown[] }).problems(spec.default)).toEqual([]);
  });

  it.each([
    ['top', 'PollInterval', '0s', 'ERR_CONFIG_SEMANTIC', 'must be longer than 0'],
    ['extension', 'ProxyStopSignal', 'SIGSTOP', 'ERR_CONFIG_SEMANTIC', 'is not a known signal; use one of SIGQUIT, SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGKILL'],
    ['config', 'TCPOptions', ['env PATH;'], 'ERR_DIRECTIVE_FORBIDDEN', 'uses env: directive not allowed in raw options'],
  ] as const)("parseConfig reports %s's check with the declared code", (section, key, bad, code, message) => {
    const spec = SECTIONS.find(([s]) => s === section)![1][key]!;
    expect(spec.check?.code).toBe(code);
    const r = parseConfig(fileWith(section, key, bad));
    expect(r.ok ? [] : r.errors.map((e) => [e.code, e.message])).toEqual([[code, message]]);
  });

  it('docs/configuration.md states every rule, per key and across keys', () => {
    const md = configReferenceMarkdown();
    for (const { key, spec } of KEYS) {
      if (!spec.check) continue;
      const row = md.split('\n').find((l) => l.startsWith(`| \`${key}\` |`));
      expect([key, row?.includes(spec.check.rule.replaceAll('<', '&lt;').replaceAll('>', '&gt;'))]).toEqual([key, true]);
    }
    for (const rule of CONFIG_RULES) expect(md).toContain(`- ${rule.rule}\n`);
  });
});
