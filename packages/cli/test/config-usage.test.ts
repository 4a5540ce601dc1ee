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
    for (const argv of [['help', 'lint'], ['lint', '--help'], ['status', '-h'], ['config', '--help']]) {
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
