import { lintFiles } from '../src/index.js';
import type { Finding } from '../src/index.js';
import { fixture, run } from './helpers.js';

const GOOD = fixture('good-stack.yml');
const MISTAKES = fixture('mistakes-stack.yml');
const BROKEN = fixture('broken.yml');
const CONFLICTS = fixture('conflicts-stack.yml');

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
    // same host, different sticky cookies: core's builder decides, so only the later service (shop-b) is
    // reported, with the builder's message naming the winner (it used to be reported on both, naming the options)
    expect(out).not.toMatch(/service shop-a:/);
    expect(out).toMatch(/service shop-b: com\.docker\.lb\.hosts: "shop\.example\.com" .*already routed by service shop-a with different options.*created in the order listed.*\[ERR_CONFLICT_ROUTE\]/);
    // network not declared, with the stack prefix explained
    expect(out).toMatch(/service lost: com\.docker\.lb\.network: "backend" .*neither declared.*\*_front/);
    expect(out.trim().split('\n').at(-1)).toBe('1 file, 6 services with com.docker.lb.* labels: 6 errors, 2 warnings');
  });

  test('findings are sorted by file, service, key', async () => {
    const { findings } = lintFiles(
      [
        { file: 'b.yml', text: (await import('node:fs')).readFileSync(MISTAKES, 'utf8') },
        { file: 'a.yml', text: 'services:\n  x:\n    deploy:\n      labels: ["com.docker.lb.port=0"]\n' },
      ],
      { env: {} },
    );
    const keys = findings.map((f) => [f.file, f.service ?? '', f.key].join('|'));
    expect(keys).toEqual([...keys].sort());
    expect(findings[0]!.file).toBe('a.yml');
  });

  test('--json prints machine-readable findings', async () => {
    const r = await run(['lint', '--json', MISTAKES]);
    expect(r.code).toBe(1);
    const findings = JSON.parse(r.stdout) as Finding[];
    expect(findings.length).toBe(8);
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

  // Conflicts are decided by core's builder: the service listed first wins, only the later one is reported.
  test('two default backends', () => {
    const f = lint(stack(svc('a', { default_backend: 'true', port: '80' }), svc('b', { default_backend: 'true', port: '80' })));
    expect(codes(f)).toEqual(['b ERR_CONFLICT_DEFAULT_BACKEND']);
    expect(f[0]!.key).toBe('com.docker.lb.default_backend');
    expect(f[0]!.message).toContain('service a is already the default backend');
  });

  test('default backends of different service clusters do not conflict', () => {
    expect(lint(stack(svc('a', { default_backend: 'true', port: '80' }), svc('b', { default_backend: 'true', port: '80', service_cluster: 'internal' })))).toEqual([]);
  });

  test('a host both passed through and terminated', () => {
    const f = lint(stack(svc('tls', { hosts: 'x.example.com', port: '443', ssl_passthrough: 'true' }), svc('web', { hosts: 'x.example.com', port: '80', ssl_cert: 'x.crt', ssl_key: 'x.key' })));
    expect(codes(f)).toEqual(['web ERR_CONFLICT_PASSTHROUGH']);
    expect(f[0]!.key).toBe('com.docker.lb.hosts');
    expect(f[0]!.message).toContain('already passed through (ssl_passthrough) by service tls');
    // The other order: the passed-through service is the later one.
    const g = lint(stack(svc('web', { hosts: 'x.example.com', port: '80', ssl_cert: 'x.crt', ssl_key: 'x.key' }), svc('tls', { hosts: 'x.example.com', port: '443', ssl_passthrough: 'true' })));
    expect(codes(g)).toEqual(['tls ERR_CONFLICT_PASSTHROUGH']);
    expect(g[0]!.key).toBe('com.docker.lb.ssl_passthrough');
    expect(g[0]!.message).toContain('terminated TLS by service web');
  });

  test('two services sharing a host with different certificates', () => {
    const f = lint(
      stack(
        svc('a', { hosts: 'x.example.com', port: '80', ssl_cert: 'a.crt', ssl_key: 'a.key' }),
        svc('b', { hosts: 'x.example.com', port: '80', context_root: '/b', ssl_cert: 'b.crt', ssl_key: 'b.key' }),
      ),
    );
    expect(codes(f)).toEqual(['b ERR_CONFLICT_CERT']);
    expect(f[0]!.message).toContain('different certificate from service a');
  });

  test('conflicts are found across files and name the other file', () => {
    const r = lintFiles(
      [
        { file: 'one.yml', text: stack(svc('a', { hosts: 'x.example.com', port: '80' })) },
        { file: 'two.yml', text: stack(svc('b', { hosts: 'x.example.com', port: '80', backend_mode: 'vip' })) },
      ],
      { env: {} },
    );
    expect(r.findings.map((f) => `${f.file} ${f.service} ${f.code}`)).toEqual(['two.yml b ERR_CONFLICT_ROUTE']);
    expect(r.findings[0]!.message).toContain('already routed by service a (one.yml) with different options');
    expect(r.findings[0]!.message).toContain('lint takes the services as created in the order listed (files in the order given)');
  });

  test('files in the other order: the other service loses', () => {
    const r = lintFiles(
      [
        { file: 'two.yml', text: stack(svc('b', { hosts: 'x.example.com', port: '80', backend_mode: 'vip' })) },
        { file: 'one.yml', text: stack(svc('a', { hosts: 'x.example.com', port: '80' })) },
      ],
      { env: {} },
    );
    expect(r.findings.map((f) => `${f.file} ${f.service} ${f.code}`)).toEqual(['one.yml a ERR_CONFLICT_ROUTE']);
    expect(r.findings[0]!.message).toContain('service b (two.yml)');
  });

  test('a redirect of a host another service routes (ERR_CONFLICT_REDIRECT)', async () => {
    const r = await run(['lint', CONFLICTS]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      `${CONFLICTS}: service hijack: com.docker.lb.redirects: "http://www.example.com" source http://www.example.com would take over host www.example.com path /, which service site routes;`,
    );
    expect(r.stdout).toMatch(/service hijack: .*\[ERR_CONFLICT_REDIRECT\]$/m);
    expect(r.stdout).not.toMatch(/service site:/);
    // In-memory: a redirect of one path another service routes, and a later route on a redirected host.
    const path = lint(
      stack(svc('api', { hosts: 'x.example.com', port: '80', context_root: '/api' }), svc('grab', { hosts: 'y.example.com', port: '80', redirects: 'http://x.example.com/api,https://y.example.com' })),
    );
    expect(codes(path)).toEqual(['grab ERR_CONFLICT_REDIRECT']);
    const shadowed = lint(stack(svc('redir', { hosts: 'r.example.com', port: '80', redirects: 'http://old.example.com,https://r.example.com' }), svc('old', { hosts: 'old.example.com', port: '80' })));
    expect(codes(shadowed)).toEqual(['old ERR_CONFLICT_REDIRECT']);
    expect(shadowed[0]!.key).toBe('com.docker.lb.hosts');
    expect(shadowed[0]!.message).toContain('redirected by service redir');
    // Services of a canary pair may carry the same redirect.
    const same = { hosts: 'c.example.com', port: '80', redirects: 'http://c.example.com/old,https://c.example.com/new' };
    expect(lint(stack(svc('c1', same), svc('c2', same)))).toEqual([]);
  });

  test('ssl_only switched on for a host another service serves over plain HTTP (ERR_CONFLICT_SSL_ONLY)', async () => {
    const r = await run(['lint', '--json', CONFLICTS]);
    expect(r.code).toBe(1);
    const findings = JSON.parse(r.stdout) as Finding[];
    expect(findings).toContainEqual(
      expect.objectContaining({ file: CONFLICTS, service: 'admin', severity: 'error', code: 'ERR_CONFLICT_SSL_ONLY', key: 'com.docker.lb.ssl_only', value: 'true', line: 37 }),
    );
    expect(findings.find((f) => f.service === 'admin')!.message).toContain('also routed by service site without ssl_only');
    expect(findings.map((f) => `${f.service} ${f.code}`)).toEqual(['admin ERR_CONFLICT_SSL_ONLY', 'hijack ERR_CONFLICT_REDIRECT']);
    // Joining a host that is already ssl_only is the joining service's choice.
    const tls = { ssl_cert: 'h.crt', ssl_key: 'h.key', ssl_only: 'true' };
    expect(lint(stack(svc('strict', { hosts: 'h.example.com', port: '80', ...tls }), svc('joiner', { hosts: 'h.example.com', port: '80', context_root: '/x' })))).toEqual([]);
  });
});

describe("the swarm snapshot lint gives core's builder", () => {
  test('what only the swarm or config.toml knows is not reported: secrets, service clusters', () => {
    expect(lint(stack(svc('a', { hosts: 'x.example.com', port: '80', ssl_cert: 'never-created.crt', ssl_key: 'never-created.key' })))).toEqual([]);
    expect(lint(stack(svc('a', { hosts: 'x.example.com', port: '80', service_cluster: 'not-in-any-config' })))).toEqual([]);
  });

  test('backend_mode=vip needs a virtual IP: deploy.endpoint_mode dnsrr is rejected as core would', () => {
    const dnsrr = 'services:\n  a:\n    deploy:\n      endpoint_mode: dnsrr\n      labels: [com.docker.lb.hosts=a.example.com, com.docker.lb.port=80, com.docker.lb.backend_mode=vip]\n';
    expect(codes(lint(dnsrr))).toEqual(['a ERR_BACKEND_MODE_VIP']);
    expect(lint(dnsrr.replace('dnsrr', 'vip'))).toEqual([]);
  });

  test('a service on no overlay is reached through a host-mode port equal to com.docker.lb.port', () => {
    const host = (ports: string): string =>
      `services:\n  a:\n    networks: [hostnet]\n${ports}    deploy:\n      labels: [com.docker.lb.hosts=a.example.com, com.docker.lb.port=80]\nnetworks:\n  hostnet: {external: true, name: host}\n`;
    expect(lint(host('    ports:\n      - {target: 80, published: 8080, mode: host}\n'))).toEqual([]);
    expect(codes(lint(host('    ports:\n      - "8080:80"\n')))).toEqual(['a ERR_NETWORK_NONE']);
    expect(codes(lint(host('')))).toEqual(['a ERR_NETWORK_NONE']);
  });

  test('a network the file declares with another driver is not an overlay', () => {
    const f = lint(
      'services:\n  a:\n    networks: [local]\n    deploy:\n      labels: [com.docker.lb.hosts=a.example.com, com.docker.lb.port=80, com.docker.lb.network=demo_local]\nnetworks:\n  local: {driver: bridge}\n',
    );
    expect(codes(f)).toEqual(['a ERR_NETWORK_NOT_OVERLAY']);
    expect(f[0]!.value).toBe('demo_local'); // the label as written, not the snapshot's name for the network
  });

  test('a network label lint reports on is not reported again by the builder, and conflicts are still checked', () => {
    const f = lint(stack(svc('a', { hosts: 'x.example.com', port: '80' }), svc('b', { hosts: 'x.example.com', port: '80', ip_hash: 'true', network: 'nowhere' })));
    expect(codes(f)).toEqual(['b ERR_CONFLICT_ROUTE', 'b ERR_LINT_NETWORK_UNDECLARED']);
    const g = lint(stack(svc('a', { hosts: 'x.example.com', port: '80' }), svc('b', { hosts: 'x.example.com', port: '80', ip_hash: 'true' }, '[front, back]')));
    expect(codes(g)).toEqual(['b ERR_CONFLICT_ROUTE', 'b WARN_LINT_NETWORK_AMBIGUOUS']);
  });

  test("with --stack, files share the stack's networks; service names stay as written", () => {
    const r = lintFiles(
      [
        { file: 'one.yml', text: stack(svc('web', { hosts: 'x.example.com', port: '80', network: 'prod_front' })) },
        { file: 'two.yml', text: stack(svc('web', { hosts: 'x.example.com', port: '80', network: 'prod_front', sticky_session_cookie: 's' })) },
      ],
      { env: {}, stack: 'prod' },
    );
    expect(r.findings.map((f) => `${f.file} ${f.service} ${f.code}`)).toEqual(['two.yml web ERR_CONFLICT_ROUTE']);
    expect(r.findings[0]!.message).toContain('service web (one.yml)');
  });
});

describe('com.docker.lb.network', () => {
  const net = (network: string, networks = '[front]', stackName?: string): Finding[] => lint(stack(svc('a', { hosts: 'x.example.com', port: '80', network }, networks)), stackName);

  test('the stack-prefixed name of a joined network is accepted', () => {
    expect(net('demo_front')).toEqual([]);
    expect(net('my_app_front')).toEqual([]);
  });

  test("the bare key is accepted, as in Interlock's stack examples: core finds <stack>_<key> by the service's stack", () => {
    expect(net('front')).toEqual([]);
    expect(net('front', '[front]', 'demo')).toEqual([]);
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

  test('with --stack the key or the exact prefixed name is required', () => {
    expect(net('demo_front', '[front]', 'demo')).toEqual([]);
    expect(net('front', '[front]', 'demo')).toEqual([]);
    const f = net('other_front', '[front]', 'demo');
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
