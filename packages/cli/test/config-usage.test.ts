import { fileURLToPath } from 'node:url';
import { parseConfig } from '@signalbox/model';
import { USAGE } from '../src/index.js';
import { fixture, run } from './helpers.js';

describe('signalbox config', () => {
  test('check: a good file', async () => {
    const file = fixture('good-config.toml');
    const r = await run(['config', 'check', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${file}: ok (2 extensions)\n`);
  });

  test('check: a bad file prints every diagnostic with the file name', async () => {
    const file = fixture('bad-config.toml');
    const r = await run(['config', 'check', file]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBe(3);
    for (const l of lines) expect(l.startsWith(`${file}: `)).toBe(true);
    expect(r.stdout).toContain(`${file}: PolInterval: "3s" `);
    expect(r.stdout).toContain(`${file}: Extensions.default.PublishMode: "bridge" `);
    expect(r.stdout).toContain(`${file}: Extensions.default.PublishedPort: `);
  });

  test('check: GlobalOptions = ["daemon off;"] is refused (the extension would refuse every render)', async () => {
    const r = await run(['config', 'check', 'c.toml'], { files: { 'c.toml': '[Extensions.default.Config]\nGlobalOptions = ["daemon off;"]\n' } });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('c.toml: Extensions.default.Config.GlobalOptions[0]: "daemon off;" uses daemon: directive not allowed in raw options\n');
  });

  test('check: TOML syntax errors name the file once, with the line', async () => {
    const r = await run(['config', 'check', 'c.toml'], { files: { 'c.toml': 'ListenAddr = ":8080"\n[Extensions.default\n' } });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^c\.toml: "\[Extensions\.default" is not valid TOML: .*line 2/);
  });

  test('check: a missing file', async () => {
    const r = await run(['config', 'check', '/nonexistent/config.toml']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('/nonexistent/config.toml: cannot be read: ENOENT');
  });

  test('check loads an Interlock config.toml from the docs, with warnings, --explain verdicts and --format json', async () => {
    const file = fileURLToPath(new URL('../../model/test/fixtures/interlock/config/ucp-default-3.x.toml', import.meta.url));
    const plain = await run(['config', 'check', file]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/warning: Extensions\.default\.Config\.IPHash: "false" is an Interlock setting Signalbox does not need/);
    expect(plain.stdout).toMatch(/ok \(1 extension, \d+ warnings\)\n$/);
    const explained = await run(['config', 'check', '--explain', file]);
    expect(explained.code).toBe(0);
    expect(explained.stdout).toMatch(/^Extensions\.default\.Config\.SSLVerify +ignored +is an Interlock setting/m);
    expect(explained.stdout).toMatch(/^Extensions\.default\.Image +replaced +/m);
    expect(explained.stdout).toMatch(/^Extensions\.default\.ProxyReplicas +different +default 1/m);
    expect(explained.stdout).toMatch(/^ListenAddr +same$/m);
    const json = await run(['config', 'check', '--explain', '--format', 'json', file]);
    const report = JSON.parse(json.stdout) as { ok: boolean; errors: unknown[]; warnings: { code: string }[]; keys: { key: string; verdict: string }[] };
    expect(report.ok).toBe(true);
    expect(report.errors).toEqual([]);
    expect(report.warnings.map((w) => w.code)).toContain('WARN_CONFIG_INTERLOCK_KEY');
    expect(report.keys).toContainEqual({ key: 'Extensions.default.Config.Version', verdict: 'ignored', note: expect.any(String) });
    const bad = await run(['config', 'check', '--format', 'json', fixture('bad-config.toml')]);
    expect(bad.code).toBe(1);
    expect((JSON.parse(bad.stdout) as { ok: boolean }).ok).toBe(false);
    expect((await run(['config', 'check', '--format', 'yaml', file])).code).toBe(2);
  });

  test('example prints a config that parseConfig accepts', async () => {
    const r = await run(['config', 'example']);
    expect(r.code).toBe(0);
    const parsed = parseConfig(r.stdout);
    expect(parsed.ok).toBe(true);
  });
});

describe('usage', () => {
  test('help, --help and -h print the usage on stdout, exit 0', async () => {
    for (const argv of [['help'], ['--help'], ['-h']]) {
      const r = await run(argv);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(USAGE);
    }
  });

  test('help COMMAND and COMMAND --help', async () => {
    for (const argv of [
      ['help', 'lint'],
      ['lint', '--help'],
      ['status', '-h'],
      ['config', '--help'],
    ]) {
      const r = await run(argv);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: signalbox (lint|status|config)/);
    }
  });

  test.each([
    [[]],
    [['bogus']],
    [['help', 'bogus']],
    [['lint']],
    [['lint', '--bogus', 'x.yml']],
    [['status', 'extra']],
    [['status', '--core']],
    [['config']],
    [['config', 'check']],
    [['config', 'check', 'a', 'b']],
    [['config', 'frobnicate']],
    [['config', 'example', 'x']],
  ])('%j is a usage error: exit 2, message on stderr', async (argv) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/Usage: signalbox/);
  });
});
