// One directive policy (issue 10): whatever `config check` accepts in a raw option, the extension's
// policy accepts in the rendered config, and whatever it refuses, the extension refuses with the same code.
import { ERR_DIRECTIVE_FORBIDDEN, parseConfig } from '@signalbox/model';
import { renderNginxConf } from '../src/render/index.js';
import { checkPolicy } from '../src/config-policy.js';

const LINES = [
  'daemon off;',
  'master_process off;',
  'env PATH;',
  'working_directory /tmp;',
  'lua_shared_dict d 1m;',
  'thread_pool p threads=2;',
  'include /etc/passwd;',
  'load_module /tmp/x.so;',
  'ssl_engine x;',
  'js_import a.js;',
  'perl_set $x "sub {}";',
  'access_by_lua_block { }',
  'worker_priority -5;',
  'gzip on;',
  'server_tokens off;',
  'add_header X-Env 1;',
  'set $daemon 1;',
  'proxy_buffering off;',
];

function renders(key: 'GlobalOptions' | 'HTTPOptions', line: string): { configOk: boolean; policy: string[] } {
  const r = parseConfig(`[Extensions.default.Config]\n${key} = [${JSON.stringify(line)}]\n`);
  // Render with the option whether config check accepted it or not: the extension must agree.
  const base = parseConfig('[Extensions.default]\n');
  if (!base.ok) throw new Error('defaults');
  const ext = { ...base.config.Extensions.default!, Config: { ...base.config.Extensions.default!.Config, [key]: [line] } };
  const text = renderNginxConf({ cluster: '', virtualHosts: [], passthrough: [], redirects: [], services: [], proxyNetworks: [], proxySecrets: [] }, ext, {
    proxyId: 't',
    secretsDir: '/run/secrets/',
  });
  return { configOk: r.ok, policy: checkPolicy(text, { allowedModules: [] }) };
}

test.each(
  LINES.flatMap(
    (l) =>
      [
        ['GlobalOptions', l],
        ['HTTPOptions', l],
      ] as const,
  ),
)('%s %j: config check and the extension agree', (key, line) => {
  const { configOk, policy } = renders(key, line);
  expect(policy.length === 0).toBe(configOk);
  if (!configOk) {
    const r = parseConfig(`[Extensions.default.Config]\n${key} = [${JSON.stringify(line)}]\n`);
    expect(!r.ok && r.errors.map((e) => e.code)).toEqual([ERR_DIRECTIVE_FORBIDDEN]);
    expect(policy[0]).toMatch(new RegExp(`^${ERR_DIRECTIVE_FORBIDDEN}: `));
  }
});
