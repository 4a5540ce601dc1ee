// Bad input at the CLI's doors (issue 10): config.toml for `config check` and stack files for `lint`.
// Random bytes, mutations of real files, deep nesting, alias bombs and oversized files: every run
// ends with an exit code and a message that names the file, never an exception or a hang.
import { readFileSync } from 'node:fs';
import { parseConfig } from '@signalbox/model';
import { lintFiles } from '../src/index.js';
import { fixture, run } from './helpers.js';

let seed = 1234;
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const SPICE = ['\u0000', '\u001b[2J', '"', "'", '[', ']', '{', '}', '=', '\n', '#', '\\', ':', '- ', '&a', '*a', '!!binary', '\ufeff', '\u202e', '${X', '💥', '    '];

function mutate(text: string): string {
  const chars = [...text];
  const n = 1 + Math.floor(rnd() * 8);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(rnd() * (chars.length + 1));
    const op = rnd();
    if (op < 0.4) chars.splice(at, 0, pick(SPICE));
    else if (op < 0.7) chars.splice(at, 1 + Math.floor(rnd() * 5));
    else chars.splice(at, 0, ...chars.slice(Math.floor(rnd() * chars.length), Math.floor(rnd() * chars.length)));
  }
  return chars.join('');
}
const randomText = (n: number) => Array.from({ length: n }, () => (rnd() < 0.3 ? pick(SPICE) : String.fromCharCode(Math.floor(rnd() * 0x250)))).join('');

test('config.toml: 1500 mutated and random files are each accepted or refused with coded diagnostics', () => {
  const good = [readFileSync(fixture('good-config.toml'), 'utf8'), readFileSync(fixture('bad-config.toml'), 'utf8')];
  for (let i = 0; i < 1500; i++) {
    const text = i % 3 === 0 ? randomText(Math.floor(rnd() * 400)) : mutate(pick(good));
    const r = parseConfig(text, 'fuzz.toml');
    if (!r.ok) {
      expect(r.errors.length).toBeGreaterThan(0);
      for (const e of r.errors) expect(e.code).toMatch(/^ERR_CONFIG_(TOML|UNKNOWN_KEY|TYPE|VALUE|SEMANTIC)$|^ERR_DIRECTIVE_FORBIDDEN$/);
    }
  }
});

test('config.toml: oversized, deeply nested and huge-array files get a clear error quickly', async () => {
  const cases: [string, RegExp][] = [
    [`# ${'x'.repeat(1024 * 1024 + 1)}\n[Extensions.default]\n`, /at most 1048576 \(1 MiB\)/],
    [`a = ${'['.repeat(5000)}${']'.repeat(5000)}\n`, /./],
    [`[Extensions.default.Config]\nHTTPOptions = [${Array.from({ length: 20000 }, () => '"gzip on;"').join(',')}]\n`, /./],
    [`[${'a.'.repeat(2000)}b]\n`, /./],
  ];
  for (const [text, message] of cases) {
    const started = Date.now();
    const r = await run(['config', 'check', 'c.toml'], { files: { 'c.toml': text } });
    expect(Date.now() - started).toBeLessThan(5000);
    expect([0, 1]).toContain(r.code);
    if (r.code === 1) expect(r.stdout).toMatch(/^c\.toml: /);
    expect(r.stdout + r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/unexpected error/);
  }
});

test('lint: 1000 mutated and random stack files each end in findings, never an exception', () => {
  const good = ['good-stack.yml', 'mistakes-stack.yml', 'conflicts-stack.yml', 'broken.yml'].map((f) => readFileSync(fixture(f), 'utf8'));
  for (let i = 0; i < 1000; i++) {
    const text = i % 4 === 0 ? randomText(Math.floor(rnd() * 400)) : mutate(pick(good));
    const r = lintFiles([{ file: 'fuzz.yml', text }], { env: {} });
    for (const f of r.findings) {
      expect(typeof f.code).toBe('string');
      expect(typeof f.message).toBe('string');
    }
  }
});

test('lint: oversized files, alias bombs and deep nesting get a clear error quickly', async () => {
  const bomb = [
    'a: &a ["x","x","x","x","x","x","x","x","x"]',
    ...Array.from(
      { length: 12 },
      (_, i) =>
        `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9)
          .fill(`*${String.fromCharCode(97 + i)}`)
          .join(',')}]`,
    ),
    'services:',
    '  web:',
    '    deploy:',
    '      labels: *m',
  ].join('\n');
  const cases: [string, RegExp][] = [
    [`services:\n  web:\n    image: x\n# ${'y'.repeat(4 * 1024 * 1024)}\n`, /at most 4194304 \(4 MiB\)/],
    [bomb, /s\.yml/],
    [`services: ${'['.repeat(3000)}${']'.repeat(3000)}\n`, /s\.yml/],
  ];
  for (const [text, message] of cases) {
    const started = Date.now();
    const r = await run(['lint', 's.yml'], { files: { 's.yml': text } });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect([0, 1]).toContain(r.code);
    expect(r.stdout).toMatch(message);
    expect(r.stderr).not.toMatch(/unexpected error/);
  }
});
