// `signalbox dashboard`: the in-container script runs in a real node process (as docker exec would run
// it inside core), reading a real token file; only the container lookup is in memory.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DockerAccess } from '../src/index.js';
import { run } from './helpers.js';

function localExec(env: Record<string, string>): DockerAccess {
  return {
    endpoint: 'unix:///test/docker.sock',
    findServiceContainer: async (name) => (name === 'signalbox_core' ? 'c0ffee0000000000' : undefined),
    exec: (_id, cmd) =>
      new Promise((resolve) => {
        execFile(process.execPath, cmd.slice(1), { env: { PATH: process.env.PATH ?? '', ...env } }, (error, stdout, stderr) => {
          resolve({ exitCode: error ? Number(error.code ?? 1) : 0, stdout, stderr });
        });
      }),
  };
}

describe('signalbox dashboard', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sbx-cli-dash-'));
    writeFileSync(join(dir, 'token'), 'a+b/c=\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('prints a URL on this machine with the published port and the token in the fragment', async () => {
    const docker = localExec({
      SIGNALBOX_API_TOKEN_FILE: join(dir, 'token'),
      SIGNALBOX_DASHBOARD_PUBLISHED_PORT: '18090',
    });
    const r = await run(['dashboard'], { docker });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('http://127.0.0.1:18090/#token=a%2Bb%2Fc%3D\n');
    expect((await run(['dashboard', '--host', 'manager.example.test'], { docker })).stdout).toBe('http://manager.example.test:18090/#token=a%2Bb%2Fc%3D\n');
  });

  test('without the secret it names what to fix; without core it says where to run it', async () => {
    const missing = await run(['dashboard'], { docker: localExec({ SIGNALBOX_API_TOKEN_FILE: join(dir, 'nope') }) });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`no API token at ${join(dir, 'nope')}`);
    expect(missing.stderr).toContain('signalbox-api-token');
    const noCore = await run(['dashboard'], { env: { SIGNALBOX_STACK: 'other' }, docker: localExec({}) });
    expect(noCore.code).toBe(2);
    expect(noCore.stderr).toContain('no running container of service other_core');
    expect((await run(['dashboard', '--host', 'a b'], { docker: localExec({}) })).code).toBe(2);
  });
});
