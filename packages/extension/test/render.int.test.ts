// Every golden nginx.conf (and a fresh render of its case) passes real `nginx -t`.
import { readFileSync } from 'node:fs';
import { renderNginxConf } from '../src/render/index.js';
import { caseNames, loadCase } from './golden/load-cases.js';
import { nginxCheck, nginxInfo } from './helpers/nginx-check.js';

const TIMEOUT = 60_000;

describe('nginx -t', () => {
  beforeAll(async () => {
    const info = await nginxInfo();
    if (!info.streamAvailable) throw new Error(`${info.bin} has no stream module; TLS passthrough configs cannot be checked`);
  }, TIMEOUT);

  it.each(caseNames())(
    'golden %s',
    async (name) => {
      const c = loadCase(name);
      const golden = readFileSync(c.expectedPath, 'utf8');
      const r = await nginxCheck(golden, { secretsDir: c.options.secretsDir });
      if (!r.ok) throw new Error(`nginx -t failed for ${name}:\n${r.output}\n--- config as tested ---\n${r.config}`);
      // The golden is current: the check covers what the renderer produces today.
      expect(renderNginxConf(c.model, c.ext, c.options)).toBe(golden);
    },
    TIMEOUT,
  );

  it(
    'reports a broken config',
    async () => {
      const r = await nginxCheck('events {}\nhttp { server { listen 80; bogus_directive on; } }\n', { secretsDir: '/run/secrets' });
      expect(r.ok).toBe(false);
      expect(r.output).toMatch(/unknown directive "bogus_directive"/);
    },
    TIMEOUT,
  );

  it(
    'catches a server name longer than the configured hash bucket',
    async () => {
      const c = loadCase('long-host');
      const ext = { ...c.ext, Config: { ...c.ext.Config, ServerNamesHashBucketSize: 64 } };
      const r = await nginxCheck(renderNginxConf(c.model, ext, c.options), { secretsDir: c.options.secretsDir });
      expect(r.ok).toBe(false);
      expect(r.output).toMatch(/server_names_hash_bucket_size/);
    },
    TIMEOUT,
  );
});
