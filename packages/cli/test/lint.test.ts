import { lintFiles } from '../src/index.js';
import type { Finding } from '../src/index.js';
import { fixture, run } from './helpers.js';

const GOOD = fixture('good-stack.yml');
const MISTAKES = fixture('mistakes-stack.yml');
const BROKEN = fixture('broken.yml');

/** Lint one in-memory file and return its findings. */
function lint(text: string, stack?: string, env: Record<string, string> = {}): Finding[] {
  return lintFiles([{ file: 'stack.yml', text }], stack === undefined ? { env } : { env, stack }).findings;
}

const codes = (fs: Finding[]): string[] => fs.map((f) => `${f.service ?? '-'} ${f.code}`);

describe('signalbox lint on fixture files', () => {
  test('a correct stack: exit 0 and only the summary line', async () => {
    const r = await run(['lint', GOOD]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual(['1 file, 4 services with com.docker.lb.* labels: 0 errors, 0 warnings']);
  });

  test('a stack full of mistakes: exit 1, each printed with file, service and label', async () => {
    const r = await run(['lint', MISTAKES]);
    expect(r.code).toBe(1);
    const out = r.stdout;
    const line = (service: string, rest: string): string => `${MISTAKES}: service ${service}: ${rest}`;
    // typo com.docker.lb.host
    expect(out).toContain(line('typo', 'com.docker.lb.host: "typo.example.com" '));
    expect(out).toMatch(/service typo: com\.docker\.lb\.host: .*did you mean com\.docker\.lb\.hosts/);
    // bad host name
    expect(out).toContain(line('badhost', 'com.docker.lb.hosts: "api..example.com" '));
    // port 0
    expect(out).toContain(line('badport', 'com.docker.lb.port: "0" '));
    // labels under container labels:
    expect(out).toContain(line('container-labels', 'com.docker.lb.hosts: "container.example.com" '));
    expect(out).toMatch(/service container-labels: com\.docker\.lb\.port: .*move it under deploy\.labels/);
    // same host, different sticky cookies: reported on both services
    expect(out).toMatch(/service shop-a: com\.docker\.lb\.hosts: "shop\.example\.com" .*service shop-b.*sticky_session_cookie "cart_a" here vs "cart_b" there/);
    expect(out).toMatch(/service shop-b: com\.docker\.lb\.hosts: "shop\.example\.com" .*service shop-a/);
    // network not declared, with the stack prefix explained
    expect(out).toMatch(/service lost: com\.docker\.lb\.network: "backend" .*neither declared.*\*_front/);
    expect(out.trim().split('\n').at(-1)).toBe('1 file, 6 services with com.docker.lb.* labels: 7 errors, 2 warnings');
  });

  test('findings are sorted by file, service, key', async () => {
    const { findings } = lintFiles([{ file: 'b.yml', text: (await import('node:fs')).readFileSync(MISTAKES, 'utf8') }, { file: 'a.yml', text: 'services:\n  x:\n    deploy:\n      labels: ["com.docker.lb.port=0"]\n' }], { env: {} });
    const keys = findings.map((f) => [f.file, f.service ?? '', f.key].join('|'));
    expect(keys).toEqual([...keys].sort());
    expect(findings[0]!.file).toBe('a.yml');
  });

  test('--json prints machine-readable findings', async () => {
    const r = await run(['lint', '--json', MISTAKES]);
    expect(r.code).toBe(1);
    const findings = JSON.parse(r.stdout) as Finding[];
    expect(findings.length).toBe(9);
    for (const f of findings) expect(Object.keys(f).sort()).toEqual(['code', 'file', 'key', 'line', 'message', 'service', 'severity', 'value']);
    expect(findings).toContainEqual(
      expect.objectContaining({ file: MISTAKES, service: 'badport', severity: 'error', code: 'ERR_LABEL_PORT_INVALID', key: 'com.docker.lb.port', value: '0', line: 27 }),
    );
    expect(findings).toContainEqual(expect.objectContaining({ service: 'container-labels', severity: 'warning', code: 'WARN_LINT_CONTAINER_LABELS', key: 'com.docker.lb.hosts' }));
    expect(findings).toContainEqual(expect.objectContaining({ service: 'lost', code: 'ERR_LINT_NETWORK_UNDECLARED', value: 'backend' }));
  });

  test('YAML syntax error: exit 1 with file and line', async () => {
    const r = await run(['lint', BROKEN]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^${BROKEN.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: line 8, column \\d+: is not valid YAML: `, 'm'));
  });

  test('several files: each reported, one unreadable file is an error', async () => {
    const r = await run(['lint', GOOD, '/nonexistent/stack.yml']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('/nonexistent/stack.yml: /nonexistent/stack.yml: cannot be read: ENOENT');
    expect(r.stdout).toContain('2 files, 4 services');
  });

  test('warnings alone pass, and fail with --strict', async () => {
    const text = 'services:\n  web:\n    labels:\n      - com.docker.lb.hosts=a.example.com\n';
    const files = { 'w.yml': text };
    expect((await run(['lint', 'w.yml'], { files })).code).toBe(0);
    expect((await run(['lint', '--strict', 'w.yml'], { files })).code).toBe(1);
  });
});

describe('label collection', () => {
  test('list and map forms of deploy.labels; values kept as written', () => {
    const f = lint(`
services:
  a:
    deploy:
      labels:
        - com.docker.lb.hosts=a.example.com
        - com.docker.lb.port=08080
  b:
    deploy:
      labels:
        com.docker.lb.hosts: b.example.com
        com.docker.lb.port: 1e3
`);
    expect(f.map((x) => [x.service, x.code, x.value])).toEqual([
      ['a', 'ERR_LABEL_PORT_INVALID', '08080'],
      ['b', 'ERR_LABEL_PORT_INVALID', '1e3'],
    ]);
  });

  test('a label repeated in list form warns that the last value wins', () => {
    const f = lint('services:\n  a:\n    deploy:\n      labels:\n        - com.docker.lb.hosts=a.example.com\n        - com.docker.lb.port=80\n        - com.docker.lb.port=8080\n');
    expect(codes(f)).toEqual(['a WARN_LINT_LABEL_DUPLICATE']);
    expect(f[0]!.message).toContain('was "80"');
  });

  test('a container label that duplicates a deploy label says to remove it', () => {
    const f = lint('services:\n  a:\n    labels: {com.docker.lb.port: "80"}\n    deploy:\n      labels: {com.docker.lb.hosts: a.example.com, com.docker.lb.port: "80"}\n');
    expect(codes(f)).toEqual(['a WARN_LINT_CONTAINER_LABELS']);
    expect(f[0]!.message).toContain('remove it there');
  });

  test('non-Signalbox labels are ignored, container labels included', () => {
    expect(lint('services:\n  a:\n    labels: [com.example.team=x]\n    deploy:\n      labels: {traefik.enable: "true"}\n')).toEqual([]);
  });

  test('variables are substituted from the environment as docker stack deploy does', () => {
    const text = 'services:\n  a:\n    deploy:\n      labels:\n        com.docker.lb.hosts: ${APP_HOST:-a.example.com}\n        com.docker.lb.port: $PORT\n';
    expect(lint(text, undefined, { PORT: '8080' })).toEqual([]);
    const f = lint(text);
    expect(codes(f)).toEqual(['a ERR_LABEL_PORT_INVALID', 'a WARN_LINT_VARIABLE_UNSET']);
    expect(f[1]!.message).toContain('${PORT}');
  });

  test('malformed structure is reported, not thrown', () => {
    expect(codes(lint('- just\n- a list\n'))).toEqual(['- ERR_LINT_COMPOSE_SHAPE']);
    expect(codes(lint('services:\n  a:\n    deploy:\n      labels: 42\n'))).toEqual(['a ERR_LINT_COMPOSE_SHAPE']);
    expect(codes(lint('services:\n  a:\n    deploy:\n      labels:\n        com.docker.lb.hosts: [a, b]\n'))).toEqual(['a ERR_LINT_COMPOSE_SHAPE']);
    expect(codes(lint(''))).toEqual(['- WARN_LINT_NO_SERVICES']);
    expect(codes(lint('services:\n  a:\n    deploy:\n      labels:\n        x: 1\n        x: 2\n'))).toEqual(['- ERR_LINT_YAML']);
  });
});

const svc = (name: string, labels: Record<string, string>, networks = '[front]'): string =>
  `  ${name}:\n    image: x\n    networks: ${networks}\n    deploy:\n      labels:\n${Object.entries(labels)
    .map(([k, v]) => `        com.docker.lb.${k}: "${v}"`)
    .join('\n')}\n`;
const stack = (...services: string[]): string => `services:\n${services.join('')}networks:\n  front: {}\n  back: {}\n  ext: {external: true}\n  named: {name: shared-net}\n`;

describe('cross-service checks', () => {
  test('same host and path with the same options is a canary pair', () => {
    expect(lint(stack(svc('a', { hosts: 'x.example.com', port: '80' }), svc('b', { hosts: 'X.example.com', port: '81' })))).toEqual([]);
  });

  test('different context roots on one host do not conflict', () => {
    expect(lint(stack(svc('a', { hosts: 'x.example.com', port: '80', ip_hash: 'true' }), svc('b', { hosts: 'x.example.com', port: '80', context_root: '/b' })))).toEqual([]);
  });

  test('two default backends', () => {
    const f = lint(stack(svc('a', { default_backend: 'true', port: '80' }), svc('b', { default_backend: 'true', port: '80' })));
    expect(codes(f)).toEqual(['a ERR_CONFLICT_DEFAULT_BACKEND', 'b ERR_CONFLICT_DEFAULT_BACKEND']);
    expect(f[0]!.key).toBe('com.docker.lb.default_backend');
  });

  test('default backends of different service clusters do not conflict', () => {
    expect(lint(stack(svc('a', { default_backend: 'true', port: '80' }), svc('b', { default_backend: 'true', port: '80', service_cluster: 'internal' })))).toEqual([]);
  });

  test('a host both passed through and terminated', () => {
    const f = lint(
      stack(
        svc('tls', { hosts: 'x.example.com', port: '443', ssl_passthrough: 'true' }),
        svc('web', { hosts: 'x.example.com', port: '80', ssl_cert: 'x.crt', ssl_key: 'x.key' }),
      ),
    );
    expect(codes(f)).toEqual(['tls ERR_CONFLICT_PASSTHROUGH', 'web ERR_CONFLICT_PASSTHROUGH']);
    expect(f[0]!.key).toBe('com.docker.lb.ssl_passthrough');
    expect(f[0]!.message).toContain('terminated TLS by service web');
    expect(f[1]!.key).toBe('com.docker.lb.hosts');
  });

  test('two services sharing a host with different certificates', () => {
    const f = lint(stack(svc('a', { hosts: 'x.example.com', port: '80', ssl_cert: 'a.crt', ssl_key: 'a.key' }), svc('b', { hosts: 'x.example.com', port: '80', context_root: '/b', ssl_cert: 'b.crt', ssl_key: 'b.key' })));
    expect(codes(f)).toEqual(['a ERR_CONFLICT_CERT', 'b ERR_CONFLICT_CERT']);
  });

  test('conflicts are found across files and name the other file', () => {
    const r = lintFiles(
      [
        { file: 'one.yml', text: stack(svc('a', { hosts: 'x.example.com', port: '80' })) },
        { file: 'two.yml', text: stack(svc('b', { hosts: 'x.example.com', port: '80', backend_mode: 'vip' })) },
      ],
      { env: {} },
    );
    expect(r.findings.map((f) => `${f.file} ${f.service} ${f.code}`)).toEqual(['one.yml a ERR_CONFLICT_ROUTE', 'two.yml b ERR_CONFLICT_ROUTE']);
    expect(r.findings[0]!.message).toContain('service b (two.yml)');
    expect(r.findings[0]!.message).toContain('backend_mode "task" here vs "vip" there');
  });
});

describe('com.docker.lb.network', () => {
  const net = (network: string, networks = '[front]', stackName?: string): Finding[] =>
    lint(stack(svc('a', { hosts: 'x.example.com', port: '80', network }, networks)), stackName);

  test('the stack-prefixed name of a joined network is accepted', () => {
    expect(net('demo_front')).toEqual([]);
    expect(net('my_app_front')).toEqual([]);
  });

  test('the bare key is accepted with a warning about the stack prefix', () => {
    expect(codes(net('front'))).toEqual(['a WARN_LINT_NETWORK_UNPREFIXED']);
  });

  test('external and explicitly named networks must be named exactly', () => {
    expect(net('ext', '[ext]')).toEqual([]);
    expect(net('shared-net', '[named]')).toEqual([]);
    expect(codes(net('demo_named', '[named]'))).toEqual(['a ERR_LINT_NETWORK_UNDECLARED']);
  });

  test('a declared network the service does not join', () => {
    const f = net('demo_back');
    expect(codes(f)).toEqual(['a ERR_LINT_NETWORK_NOT_ATTACHED']);
    expect(f[0]!.message).toContain('services.a.networks');
  });

  test('an undeclared network says which names are accepted', () => {
    const f = net('backend');
    expect(codes(f)).toEqual(['a ERR_LINT_NETWORK_UNDECLARED']);
    expect(f[0]!.message).toContain('*_front');
  });

  test('with --stack the exact prefixed name is required', () => {
    expect(net('demo_front', '[front]', 'demo')).toEqual([]);
    const f = net('front', '[front]', 'demo');
    expect(codes(f)).toEqual(['a ERR_LINT_NETWORK_UNDECLARED']);
    expect(f[0]!.message).toContain('demo_front');
  });

  test('a service without networks joins default', () => {
    expect(lint('services:\n  a:\n    deploy:\n      labels: [com.docker.lb.hosts=a.example.com, com.docker.lb.port=80, com.docker.lb.network=demo_default]\n')).toEqual([]);
  });

  test('several networks and no label: core cannot choose', () => {
    const f = lint(stack(svc('a', { hosts: 'x.example.com', port: '80' }, '[front, back]')));
    expect(codes(f)).toEqual(['a WARN_LINT_NETWORK_AMBIGUOUS']);
  });

  test('--stack on the command line', async () => {
    const files = { 's.yml': stack(svc('a', { hosts: 'x.example.com', port: '80', network: 'prod_front' })) };
    expect((await run(['lint', '--stack', 'prod', 's.yml'], { files })).code).toBe(0);
    expect((await run(['lint', '--stack', 'dev', 's.yml'], { files })).code).toBe(1);
    expect((await run(['lint', '--stack', 'bad name', 's.yml'], { files })).code).toBe(2);
  });
});
