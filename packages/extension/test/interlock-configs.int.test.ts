// Interlock's documented config.toml files run: each one, as parseConfig reads it, renders nginx.conf
// files (for several golden models) that pass real `nginx -t`.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '@signalbox/model';
import { renderNginxConf } from '../src/render/index.js';
import { loadCase } from './golden/load-cases.js';
import { nginxCheck } from './helpers/nginx-check.js';

const DIR = fileURLToPath(new URL('../../model/test/fixtures/interlock/config/', import.meta.url));
const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.toml'))
  .sort();
const MODELS = ['one-host', 'tls', 'websocket', 'redirects', 'passthrough'];

/** Signalbox's images have both nginx and www-data; the machine running this test may lack one. */
function userHere(user: string): string {
  try {
    execFileSync('id', ['-u', user.split(' ')[0]!], { stdio: 'ignore' });
    return user;
  } catch {
    return 'www-data';
  }
}

describe("Interlock's config.toml files render configs nginx accepts", () => {
  test.each(files)(
    '%s',
    async (file) => {
      const parsed = parseConfig(readFileSync(`${DIR}${file}`, 'utf8'), file);
      if (!parsed.ok) throw new Error(parsed.errors.map((e) => `${e.key}: ${e.message}`).join('\n'));
      for (const [name, ext] of Object.entries(parsed.config.Extensions)) {
        for (const model of MODELS) {
          const c = loadCase(model);
          const conf = renderNginxConf(c.model, { ...ext, Config: { ...ext.Config, User: userHere(ext.Config.User) } }, c.options);
          const r = await nginxCheck(conf, { secretsDir: c.options.secretsDir });
          if (!r.ok) throw new Error(`${file} [Extensions.${name}] with model ${model}: nginx -t failed:\n${r.output}`);
        }
      }
    },
    120_000,
  );
});
