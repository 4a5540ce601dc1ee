// A migrating team's first step: lint from a fresh clone, with no node_modules and nothing built.
// scripts/signalbox must set itself up (pnpm install + build) and then behave like the CLI: findings on
// stdout (JSON stays parseable), setup chatter on stderr, exit codes 0 / 1 / 2.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Finding } from '../src/index.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const TIMEOUT = 600_000;

describe('scripts/signalbox from a fresh clone', () => {
  let clone: string;

  beforeAll(() => {
    clone = mkdtempSync(path.join(os.tmpdir(), 'signalbox-clone-'));
    // The commit under test (HEAD of this checkout), cloned without node_modules or dist.
    const head = execFileSync('git', ['-C', REPO, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    execFileSync('git', ['clone', '--quiet', '--no-checkout', REPO, clone]);
    execFileSync('git', ['-C', clone, 'checkout', '--quiet', head]);
  }, TIMEOUT);

  afterAll(() => {
    if (clone) rmSync(clone, { recursive: true, force: true });
  });

  const run = (...args: string[]) => spawnSync(path.join(clone, 'scripts/signalbox'), args, { cwd: clone, encoding: 'utf8', timeout: TIMEOUT });

  test(
    'first use installs and builds, then lints with JSON on stdout and exit 1 for errors',
    () => {
      expect(existsSync(path.join(clone, 'node_modules'))).toBe(false);
      expect(existsSync(path.join(clone, 'packages/cli/dist/main.js'))).toBe(false);
      const r = run('lint', '--format', 'json', 'packages/cli/test/fixtures/mistakes-stack.yml');
      expect(r.stderr).toContain('[signalbox] first use: installing dependencies');
      expect(r.status).toBe(1);
      const findings = JSON.parse(r.stdout) as Pick<Finding, 'severity' | 'code'>[];
      expect(findings.some((f) => f.severity === 'error' && f.code === 'ERR_LABEL_HOST_INVALID')).toBe(true);
    },
    TIMEOUT,
  );

  test(
    "then runs at once: Interlock's documented stack files lint clean (exit 0), usage errors exit 2",
    () => {
      const r = run('lint', 'packages/cli/test/fixtures/interlock/redirects.yml', 'packages/cli/test/fixtures/interlock/websockets.yml');
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/2 files, 2 services with com\.docker\.lb\.\* labels: 0 errors/);
      expect(run('lint').status).toBe(2);
      const c = run('config', 'check', 'packages/model/test/fixtures/interlock/config/ucp-default-3.x.toml');
      expect(c.status).toBe(0);
    },
    TIMEOUT,
  );
});
