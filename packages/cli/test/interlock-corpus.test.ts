// The label and config.toml examples of Interlock's documentation, through the CLI a migrating team
// runs first: every stack file lints with 0 errors and every config.toml passes config check.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { lintFiles } from '../src/index.js';
import type { Finding } from '../src/index.js';
import { run } from './helpers.js';

const STACKS = fileURLToPath(new URL('./fixtures/interlock/', import.meta.url));
const CONFIGS = fileURLToPath(new URL('../../model/test/fixtures/interlock/config/', import.meta.url));
const stacks = readdirSync(STACKS)
  .filter((f) => f.endsWith('.yml'))
  .sort();
const configs = readdirSync(CONFIGS)
  .filter((f) => f.endsWith('.toml'))
  .sort();

describe("Interlock's documented examples", () => {
  test('the corpus covers the label pages, each file naming its source page', () => {
    expect(stacks.length).toBeGreaterThanOrEqual(12);
    const sources = stacks.map((f) => /^# Source: (https:\/\/docs\.docker\.com\/ee\/ucp\/interlock\/\S+)/.exec(readFileSync(`${STACKS}${f}`, 'utf8'))?.[1]);
    expect(sources).not.toContain(undefined);
    for (const page of ['usage/redirects/', 'usage/websockets/', 'usage/canary/', 'usage/sessions/', 'usage/tls/', 'usage/service-clusters/', 'usage/context/', 'usage/labels-reference/', 'config/']) {
      expect(sources.some((s) => s!.endsWith(page))).toBe(true);
    }
  });

  test.each(stacks)('lint %s: exit 0, no errors', async (f) => {
    const r = await run(['lint', '--format', 'json', `${STACKS}${f}`]);
    const findings = JSON.parse(r.stdout) as Pick<Finding, 'severity' | 'code' | 'message'>[];
    expect(findings.filter((x) => x.severity === 'error')).toEqual([]);
    expect(r.code).toBe(0);
  });

  test('the redirect with a trailing ; from the label table is one redirect, not an error', () => {
    const text = readFileSync(`${STACKS}labels-reference.yml`, 'utf8');
    const result = lintFiles([{ file: 'labels-reference.yml', text }], { env: {}, stack: 'demo' });
    expect(result.errors).toBe(0);
    expect(result.findings.filter((f) => f.service === 'redirects')).toEqual([]);
  });

  test.each(configs)('config check %s: exit 0', async (f) => {
    const r = await run(['config', 'check', `${CONFIGS}${f}`]);
    expect(r.stdout).toMatch(/: ok \(\d+ extensions?(, \d+ warnings?)?\)\n$/);
    expect(r.code).toBe(0);
  });
});
