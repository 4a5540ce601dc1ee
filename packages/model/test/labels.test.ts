import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import type { ValidateFunction } from 'ajv';
import { KNOWN_LABELS, LABEL_DOCS, LABEL_ERROR_CODES, LABEL_WARNING_CODES, LABEL_SCHEMA_MISMATCH_MESSAGE, decodeLabels, exampleLabels, labelSchema, suggestLabel } from '../src/index.js';
import type { DecodeResult, Diagnostic, KnownLabel, RouteSpec } from '../src/index.js';

const P = 'com.docker.lb.';
type Suffixed = Partial<Record<KnownLabel, string>> & Record<string, string>;
/** { hosts: 'x' } → { 'com.docker.lb.hosts': 'x' } */
const L = (o: Suffixed): Record<string, string> => Object.fromEntries(Object.entries(o).map(([k, v]) => [P + k, v]));
const BASE = { hosts: 'app.example.com', port: '8080' };

const DEFAULT_SPEC: RouteSpec = {
  hosts: ['app.example.com'],
  port: 8080,
  contextRootRewrite: false,
  ipHash: false,
  sslOnly: false,
  sslPassthrough: false,
  sslBackend: false,
  sslBackendTlsVerify: 'none',
  websocketEndpoints: [],
  redirects: [],
  defaultBackend: false,
  backendMode: 'task',
  serviceCluster: '',
};

function expectOk(labels: Record<string, string>): Extract<DecodeResult, { status: 'ok' }> {
  const r = decodeLabels(labels);
  if (r.status !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(r, null, 2)}`);
  return r;
}

function expectRejected(labels: Record<string, string>): Extract<DecodeResult, { status: 'rejected' }> {
  const r = decodeLabels(labels);
  if (r.status !== 'rejected') throw new Error(`expected rejected, got ${JSON.stringify(r, null, 2)}`);
  return r;
}

/** "CODE suffix[=value]" per error, sorted: compact and exact. */
function summary(errors: Diagnostic[], withValue: boolean): string[] {
  return errors.map((e) => `${e.code} ${e.key.startsWith(P) ? e.key.slice(P.length) : e.key}${withValue && e.value !== undefined ? `=${e.value}` : ''}`).sort();
}

/** Codes seen anywhere in this file, to check every documented code is reachable. */
const seenCodes = new Set<string>();
afterAll(() => {
  const unreachable = [...LABEL_ERROR_CODES, ...LABEL_WARNING_CODES].filter((c) => !seenCodes.has(c) && c !== 'ERR_LABEL_INTERNAL');
  expect(unreachable).toEqual([]);
});
function track(r: DecodeResult): DecodeResult {
  if (r.status !== 'ignored') for (const d of [...(r.status === 'ok' ? [] : r.errors), ...r.warnings]) seenCodes.add(d.code);
  return r;
}

// ------------------------------------------------------------------ accepted input

const okCases: [string, Suffixed, Partial<RouteSpec>][] = [
  ['minimal', BASE, {}],
  ['hosts trimmed, lower-cased, de-duplicated, sorted', { ...BASE, hosts: ' B.Example.COM , a.example.com,b.example.com ' }, { hosts: ['a.example.com', 'b.example.com'] }],
  ['wildcard host', { ...BASE, hosts: '*.Example.com,example.com' }, { hosts: ['*.example.com', 'example.com'] }],
  ['single-label host', { ...BASE, hosts: 'localhost' }, { hosts: ['localhost'] }],
  ['punycode host', { ...BASE, hosts: 'xn--80ak6aa92e.com' }, { hosts: ['xn--80ak6aa92e.com'] }],
  [
    '63-char label, 253-char host',
    { ...BASE, hosts: `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}` },
    {
      hosts: [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`],
    },
  ],
  ['digits and hyphens', { ...BASE, hosts: '1-2.example-3.com' }, { hosts: ['1-2.example-3.com'] }],
  ['port 1', { ...BASE, port: '1' }, { port: 1 }],
  ['port 65535 with spaces around', { ...BASE, port: ' 65535 ' }, { port: 65535 }],
  ['network', { ...BASE, network: 'my_net.1-a' }, { network: 'my_net.1-a' }],
  ['context root trailing slash removed', { ...BASE, context_root: '/api/' }, { contextRoot: '/api' }],
  ['context root escapes normalised', { ...BASE, context_root: '/a/b.c/~d/%c3%a9/...' }, { contextRoot: '/a/b.c/~d/%C3%A9/...' }],
  ['context root rewrite', { ...BASE, context_root: '/api', context_root_rewrite: 'true' }, { contextRoot: '/api', contextRootRewrite: true }],
  ['rewrite false needs no context root', { ...BASE, context_root_rewrite: 'false' }, {}],
  ['sticky cookie', { ...BASE, sticky_session_cookie: 'JSESSION_ID.v-1' }, { stickySessionCookie: 'JSESSION_ID.v-1' }],
  ['ip hash', { ...BASE, ip_hash: 'T' }, { ipHash: true }],
  ['ip hash false with cookie', { ...BASE, ip_hash: '0', sticky_session_cookie: 's' }, { stickySessionCookie: 's' }],
  ['tls', { ...BASE, ssl_cert: 'app.crt', ssl_key: 'app.key', ssl_only: 'True' }, { sslCert: 'app.crt', sslKey: 'app.key', sslOnly: true }],
  ['ssl_only false alone', { ...BASE, ssl_only: 'FALSE' }, {}],
  [
    'passthrough with wildcard and ssl_only',
    { ...BASE, hosts: '*.example.com', ssl_passthrough: '1', ssl_only: 't' },
    {
      hosts: ['*.example.com'],
      sslPassthrough: true,
      sslOnly: true,
    },
  ],
  [
    'passthrough false combines with anything',
    { ...BASE, ssl_passthrough: 'f', context_root: '/x', ssl_cert: 'c', ssl_key: 'k' },
    {
      contextRoot: '/x',
      sslCert: 'c',
      sslKey: 'k',
    },
  ],
  ['ssl backend verified', { ...BASE, ssl_backend: 'true', ssl_backend_tls_verify: 'required' }, { sslBackend: true, sslBackendTlsVerify: 'required' }],
  ['verify none without ssl_backend', { ...BASE, ssl_backend_tls_verify: 'none' }, {}],
  ['websocket endpoints normalised', { ...BASE, websocket_endpoints: '/ws/, /ws,/a ,/' }, { websocketEndpoints: ['/', '/a', '/ws'] }],
  [
    'websocket endpoints under context root',
    { ...BASE, context_root: '/api', websocket_endpoints: '/api/ws,/api' },
    {
      contextRoot: '/api',
      websocketEndpoints: ['/api', '/api/ws'],
    },
  ],
  [
    'redirects normalised and sorted',
    {
      ...BASE,
      redirects: ' https://Z.example.com/old , https://app.example.com/new?x=1 ; HTTP://old.example.com/,https://app.example.com ',
    },
    {
      redirects: [
        { source: 'http://old.example.com', target: 'https://app.example.com', sourceHost: 'old.example.com' },
        { source: 'https://z.example.com/old', target: 'https://app.example.com/new?x=1', sourceHost: 'z.example.com' },
      ],
    },
  ],
  [
    "Interlock's trailing ';' ends the list",
    { ...BASE, redirects: 'http://old.example.com,http://new.example.com;' },
    {
      redirects: [{ source: 'http://old.example.com', target: 'http://new.example.com', sourceHost: 'old.example.com' }],
    },
  ],
  [
    "a trailing ';' after several pairs, with spaces",
    { ...BASE, redirects: 'http://a.example.com,http://c.example.com ; http://b.example.com,http://c.example.com ; ' },
    {
      redirects: [
        { source: 'http://a.example.com', target: 'http://c.example.com', sourceHost: 'a.example.com' },
        { source: 'http://b.example.com', target: 'http://c.example.com', sourceHost: 'b.example.com' },
      ],
    },
  ],
  [
    'redirect target with port',
    { ...BASE, redirects: 'http://old.example.com,https://app.example.com:8443/' },
    {
      redirects: [{ source: 'http://old.example.com', target: 'https://app.example.com:8443', sourceHost: 'old.example.com' }],
    },
  ],
  [
    'http to https on the same host',
    { ...BASE, redirects: 'http://app.example.com,https://app.example.com' },
    {
      redirects: [{ source: 'http://app.example.com', target: 'https://app.example.com', sourceHost: 'app.example.com' }],
    },
  ],
  ['default backend without hosts', { port: '80', default_backend: 'true' }, { hosts: [], port: 80, defaultBackend: true }],
  ['default backend with hosts', { ...BASE, default_backend: '1' }, { defaultBackend: true }],
  ['vip', { ...BASE, backend_mode: 'vip' }, { backendMode: 'vip' }],
  ['service cluster', { ...BASE, service_cluster: 'blue-1' }, { serviceCluster: 'blue-1' }],
  ['max_fails 0 and fail_timeout without unit', { ...BASE, max_fails: '0', fail_timeout: '30' }, { maxFails: 0, failTimeout: '30' }],
  ['max_fails 1000 and fail_timeout 5m', { ...BASE, max_fails: '1000', fail_timeout: '5m' }, { maxFails: 1000, failTimeout: '5m' }],
  ['fail_timeout 6 digits with unit', { ...BASE, fail_timeout: '999999d' }, { failTimeout: '999999d' }],
  ['acme', { ...BASE, acme: 'true' }, { acme: true }],
  ['acme false leaves the spec as without it', { ...BASE, acme: 'F' }, {}],
];

describe('decodeLabels accepts', () => {
  test.each(okCases)('%s', (_name, labels, expected) => {
    const r = expectOk({ ...L(labels), 'com.docker.stack.namespace': 'demo', 'other.label': 'a;b{c}' });
    track(r);
    expect(r.spec).toEqual({ ...DEFAULT_SPEC, ...expected });
  });

  test('every Go ParseBool spelling', () => {
    for (const v of ['1', 't', 'T', 'TRUE', 'true', 'True']) expect(expectOk(L({ ...BASE, ip_hash: v })).spec.ipHash).toBe(true);
    for (const v of ['0', 'f', 'F', 'FALSE', 'false', 'False']) expect(expectOk(L({ ...BASE, ip_hash: v })).spec.ipHash).toBe(false);
  });

  test('warnings: duplicates and a bare / context root', () => {
    const r = track(expectOk(L({ ...BASE, hosts: 'a.com,A.com', context_root: '/', context_root_rewrite: 'true', websocket_endpoints: '/ws,/ws/' })));
    if (r.status !== 'ok') throw new Error('unreachable');
    expect(r.spec.contextRoot).toBeUndefined();
    expect(r.spec.contextRootRewrite).toBe(false);
    expect(summary(r.warnings, true)).toEqual(['WARN_LABEL_CONTEXT_ROOT_IGNORED context_root=/', 'WARN_LABEL_DUPLICATE hosts=A.com', 'WARN_LABEL_DUPLICATE websocket_endpoints=/ws/']);
    expect(r.warnings.every((w) => w.severity === 'warning')).toBe(true);
  });

  test('duplicate redirect pairs', () => {
    const r = track(expectOk(L({ ...BASE, redirects: 'http://a.com,https://b.com;http://a.com/,https://b.com/' })));
    if (r.status !== 'ok') throw new Error('unreachable');
    expect(r.spec.redirects).toHaveLength(1);
    expect(summary(r.warnings, false)).toEqual(['WARN_LABEL_DUPLICATE redirects']);
  });

  test('interlock-style fixtures', () => {
    const fixtures = JSON.parse(readFileSync(new URL('./fixtures/labels/interlock-examples.json', import.meta.url), 'utf8')) as {
      name: string;
      labels: Record<string, string>;
      spec: Partial<RouteSpec>;
    }[];
    expect(fixtures.length).toBeGreaterThan(3);
    for (const f of fixtures) {
      const r = expectOk(f.labels);
      expect({ name: f.name, spec: r.spec }).toEqual({ name: f.name, spec: { ...DEFAULT_SPEC, ...f.spec } });
    }
  });

  test('the worked example of every label decodes', () => {
    for (const s of KNOWN_LABELS) {
      const labels = exampleLabels(s);
      expect(labels[P + s]).toBe(LABEL_DOCS[s].example);
      const r = expectOk(labels);
      expect(r.warnings).toEqual([]);
    }
  });

  test('no com.docker.lb.* label → ignored, whatever else is there', () => {
    expect(decodeLabels({})).toEqual({ status: 'ignored' });
    expect(decodeLabels({ 'com.docker.lb': 'x', 'COM.DOCKER.LB.hosts': 'a', 'com.docker.stack.namespace': 's' })).toEqual({ status: 'ignored' });
    for (const junk of [null, undefined, 42, 'com.docker.lb.hosts', [], true]) {
      expect(decodeLabels(junk as unknown as Record<string, string>)).toEqual({ status: 'ignored' });
    }
  });
});

// ------------------------------------------------------------------ rejected input

const long = (n: number, ch = 'a'): string => ch.repeat(n);

/** [name, labels, expected "CODE suffix" list (exact, sorted)] */
const errorCases: [string, Suffixed, string[]][] = [
  // required
  ['nothing but an unknown label', { host: 'a.com' }, ['ERR_LABEL_REQUIRED hosts', 'ERR_LABEL_REQUIRED port', 'ERR_LABEL_UNKNOWN host']],
  ['missing port', { hosts: 'a.com' }, ['ERR_LABEL_REQUIRED port']],
  ['missing hosts', { port: '80' }, ['ERR_LABEL_REQUIRED hosts']],
  ['default_backend=false still needs hosts', { port: '80', default_backend: 'false' }, ['ERR_LABEL_REQUIRED hosts']],
  ['invalid default_backend: hosts stays required', { port: '80', default_backend: 'yes' }, ['ERR_LABEL_BOOL_INVALID default_backend', 'ERR_LABEL_REQUIRED hosts']],
  // hosts
  ['empty hosts', { ...BASE, hosts: '' }, ['ERR_LABEL_HOST_INVALID hosts']],
  ['spaces only', { ...BASE, hosts: '   ' }, ['ERR_LABEL_HOST_INVALID hosts']],
  ['empty item', { ...BASE, hosts: 'a.com,,b.com' }, ['ERR_LABEL_HOST_INVALID hosts']],
  ['trailing comma', { ...BASE, hosts: 'a.com,' }, ['ERR_LABEL_HOST_INVALID hosts']],
  ['every bad item reported', { ...BASE, hosts: 'x..com,good.com,y.com:80,*' }, ['ERR_LABEL_HOST_INVALID hosts', 'ERR_LABEL_HOST_INVALID hosts', 'ERR_LABEL_HOST_INVALID hosts']],
  ['bare wildcard', { ...BASE, hosts: '*' }, ['ERR_LABEL_HOST_INVALID hosts']],
  ['inner wildcard', { ...BASE, hosts: 'a.*.com' }, ['ERR_LABEL_HOST_INVALID hosts']],
  ['partial wildcard', { ...BASE, hosts: '*example.com' }, ['ERR_LABEL_HOST_INVALID hosts']],
  ['double wildcard', { ...BASE, hosts: '*.*.example.com' }, ['ERR_LABEL_HOST_INVALID hosts']],
  ['wildcard with nothing after', { ...BASE, hosts: '*.' }, ['ERR_LABEL_HOST_INVALID hosts']],
  ['trailing dot', { ...BASE, hosts: 'example.com.' }, ['ERR_LABEL_HOST_INVALID hosts']],
  ['leading dot', { ...BASE, hosts: '.example.com' }, ['ERR_LABEL_HOST_INVALID hosts']],
  ['host:port', { ...BASE, hosts: 'example.com:8080' }, ['ERR_LABEL_HOST_INVALID hosts']],
  ['ipv6', { ...BASE, hosts: '[::1]' }, ['ERR_LABEL_HOST_INVALID hosts']],
  ['url', { ...BASE, hosts: 'https://example.com/' }, ['ERR_LABEL_HOST_INVALID hosts']],
  ['leading hyphen', { ...BASE, hosts: '-a.com' }, ['ERR_LABEL_HOST_INVALID hosts']],
  ['trailing hyphen', { ...BASE, hosts: 'a-.com' }, ['ERR_LABEL_HOST_INVALID hosts']],
  ['underscore', { ...BASE, hosts: 'a_b.com' }, ['ERR_LABEL_HOST_INVALID hosts']],
  ['64-char label', { ...BASE, hosts: `${long(64)}.com` }, ['ERR_LABEL_HOST_INVALID hosts']],
  ['254-char host', { ...BASE, hosts: `${long(63)}.${long(63)}.${long(63)}.${long(62)}` }, ['ERR_LABEL_HOST_INVALID hosts']],
  ['space inside', { ...BASE, hosts: 'a.com b.com' }, ['ERR_LABEL_HOST_INVALID hosts']],
  ['cyrillic a', { ...BASE, hosts: 'аpple.com' }, ['ERR_LABEL_HOST_INVALID hosts']],
  ['kelvin sign lower-cases to k', { ...BASE, hosts: '\u212Aey.com' }, ['ERR_LABEL_HOST_INVALID hosts']],
  ['fullwidth', { ...BASE, hosts: 'ｅｘａｍｐｌｅ.com' }, ['ERR_LABEL_HOST_INVALID hosts']],
  ['IDN', { ...BASE, hosts: 'bücher.de' }, ['ERR_LABEL_HOST_INVALID hosts']],
  ['no-break space', { ...BASE, hosts: 'a.com,\u00a0b.com' }, ['ERR_LABEL_HOST_INVALID hosts']],
  // port
  ...['', '0', '65536', '99999999999999999999', '+80', '-1', '80 80', '0080', '8o', '１２３', '80.0', '0x50', '1e3'].map((v): [string, Suffixed, string[]] => [
    `port ${JSON.stringify(v)}`,
    { ...BASE, port: v },
    ['ERR_LABEL_PORT_INVALID port'],
  ]),
  // names
  ...['', '-net', '_net', 'net work', 'a;b', 'nét', long(256)].map((v): [string, Suffixed, string[]] => [
    `network ${JSON.stringify(v.slice(0, 20))}`,
    { ...BASE, network: v },
    ['ERR_LABEL_NETWORK_INVALID network'],
  ]),
  ...['', '.x', 'a/b', long(65)].map((v): [string, Suffixed, string[]] => [
    `service_cluster ${JSON.stringify(v.slice(0, 20))}`,
    { ...BASE, service_cluster: v },
    ['ERR_LABEL_SERVICE_CLUSTER_INVALID service_cluster'],
  ]),
  ['secret names', { ...BASE, ssl_cert: '-cert', ssl_key: long(65) }, ['ERR_LABEL_SECRET_INVALID ssl_cert', 'ERR_LABEL_SECRET_INVALID ssl_key']],
  ['cert without key', { ...BASE, ssl_cert: 'c' }, ['ERR_LABEL_REQUIRED ssl_key']],
  ['key without cert', { ...BASE, ssl_key: 'k' }, ['ERR_LABEL_REQUIRED ssl_cert']],
  ['invalid cert still needs its key', { ...BASE, ssl_cert: 'c c' }, ['ERR_LABEL_REQUIRED ssl_key', 'ERR_LABEL_SECRET_INVALID ssl_cert']],
  // paths
  ...[
    '',
    'api',
    '/a//b',
    '//',
    '/a//',
    '/a/../b',
    '/./',
    '/..',
    '/a?b',
    '/a#b',
    '/a%2fb',
    '/a%2E%2e',
    '/a%5c',
    '/a%zz',
    '/a%4',
    '/a%0a',
    '/a%7F',
    'http://x/a',
    '/é',
    '/a b',
    '/a;b',
    '/a{b}',
    '/$x',
    "/a'",
    '/a\\b',
    `/${long(1024)}`,
  ].map((v): [string, Suffixed, string[]] => [`context_root ${JSON.stringify(v.slice(0, 20))}`, { ...BASE, context_root: v }, ['ERR_LABEL_PATH_INVALID context_root']]),
  ['rewrite without context root', { ...BASE, context_root_rewrite: 'true' }, ['ERR_LABEL_DEPENDENCY context_root_rewrite']],
  ['rewrite with an invalid context root: no extra error', { ...BASE, context_root: 'api', context_root_rewrite: 'true' }, ['ERR_LABEL_PATH_INVALID context_root']],
  ['websocket endpoint not a path', { ...BASE, websocket_endpoints: '/ok,ws,/a//b' }, ['ERR_LABEL_PATH_INVALID websocket_endpoints', 'ERR_LABEL_PATH_INVALID websocket_endpoints']],
  ['websocket endpoint empty item', { ...BASE, websocket_endpoints: '/a,,/b' }, ['ERR_LABEL_PATH_INVALID websocket_endpoints']],
  ['websocket endpoints empty', { ...BASE, websocket_endpoints: '' }, ['ERR_LABEL_PATH_INVALID websocket_endpoints']],
  [
    'websocket outside context root',
    { ...BASE, context_root: '/api', websocket_endpoints: '/api/ws,/ws,/apiws' },
    ['ERR_LABEL_WEBSOCKET_OUTSIDE_CONTEXT_ROOT websocket_endpoints', 'ERR_LABEL_WEBSOCKET_OUTSIDE_CONTEXT_ROOT websocket_endpoints'],
  ],
  // cookies
  ...['', 'a b', 'a$b', 'a;b', 'a=b', 'a"b', 'a,b', 'sess\u00edon', long(129)].map((v): [string, Suffixed, string[]] => [
    `cookie ${JSON.stringify(v.slice(0, 20))}`,
    { ...BASE, sticky_session_cookie: v },
    ['ERR_LABEL_COOKIE_INVALID sticky_session_cookie'],
  ]),
  ['ip_hash and cookie', { ...BASE, ip_hash: 'true', sticky_session_cookie: 's' }, ['ERR_LABEL_CONFLICT ip_hash']],
  ['ip_hash and invalid cookie', { ...BASE, ip_hash: 'true', sticky_session_cookie: 's s' }, ['ERR_LABEL_CONFLICT ip_hash', 'ERR_LABEL_COOKIE_INVALID sticky_session_cookie']],
  // booleans
  ...['', 'yes', 'no', 'on', 'TRue', 'tRUE', '2', 'y', '1.0', '"true"'].map((v): [string, Suffixed, string[]] => [
    `bool ${JSON.stringify(v)}`,
    { ...BASE, ssl_backend: v },
    ['ERR_LABEL_BOOL_INVALID ssl_backend'],
  ]),
  // tls
  ['ssl_only without tls', { ...BASE, ssl_only: 'true' }, ['ERR_LABEL_DEPENDENCY ssl_only']],
  [
    'passthrough conflicts',
    {
      ...BASE,
      ssl_passthrough: 'true',
      context_root: '/a',
      sticky_session_cookie: 's',
      websocket_endpoints: '/a/ws',
      ssl_cert: 'c',
      ssl_key: 'k',
      ssl_backend: 'true',
      redirects: 'http://a.com,https://b.com',
    },
    [
      'ERR_LABEL_CONFLICT context_root',
      'ERR_LABEL_CONFLICT redirects',
      'ERR_LABEL_CONFLICT ssl_backend',
      'ERR_LABEL_CONFLICT ssl_cert',
      'ERR_LABEL_CONFLICT ssl_key',
      'ERR_LABEL_CONFLICT sticky_session_cookie',
      'ERR_LABEL_CONFLICT websocket_endpoints',
    ],
  ],
  ['passthrough without hosts', { port: '443', default_backend: 'true', ssl_passthrough: 'true' }, ['ERR_LABEL_DEPENDENCY ssl_passthrough']],
  ['verify required without ssl_backend', { ...BASE, ssl_backend_tls_verify: 'required' }, ['ERR_LABEL_DEPENDENCY ssl_backend_tls_verify']],
  ['verify required with ssl_backend=false', { ...BASE, ssl_backend: 'false', ssl_backend_tls_verify: 'required' }, ['ERR_LABEL_DEPENDENCY ssl_backend_tls_verify']],
  ['verify is case-sensitive', { ...BASE, ssl_backend: 'true', ssl_backend_tls_verify: 'Required' }, ['ERR_LABEL_ENUM_INVALID ssl_backend_tls_verify']],
  ['verify unknown', { ...BASE, ssl_backend: 'true', ssl_backend_tls_verify: 'strict' }, ['ERR_LABEL_ENUM_INVALID ssl_backend_tls_verify']],
  // backend mode
  ['backend_mode unknown', { ...BASE, backend_mode: 'dnsrr' }, ['ERR_LABEL_ENUM_INVALID backend_mode']],
  ['vip and sticky', { ...BASE, backend_mode: 'vip', sticky_session_cookie: 's' }, ['ERR_LABEL_CONFLICT sticky_session_cookie']],
  ['vip and ip_hash', { ...BASE, backend_mode: 'vip', ip_hash: '1' }, ['ERR_LABEL_CONFLICT ip_hash']],
  ['acme not a boolean', { ...BASE, acme: 'yes' }, ['ERR_LABEL_BOOL_INVALID acme']],
  // numbers
  ...['', '-1', '1001', '1.5', '01', ' 1 2', 'three'].map((v): [string, Suffixed, string[]] => [
    `max_fails ${JSON.stringify(v)}`,
    { ...BASE, max_fails: v },
    ['ERR_LABEL_MAX_FAILS_INVALID max_fails'],
  ]),
  ...['', '10 s', '10sec', '1234567s', '-1s', '1.5s', 's', '10S', '10us', '500ms', '0ms'].map((v): [string, Suffixed, string[]] => [
    `fail_timeout ${JSON.stringify(v)}`,
    { ...BASE, fail_timeout: v },
    ['ERR_LABEL_FAIL_TIMEOUT_INVALID fail_timeout'],
  ]),
  // redirects
  ...[
    '',
    'http://a.com',
    'http://a.com,',
    ',http://b.com',
    'ftp://a.com,http://b.com',
    'http:/a.com,http://b.com',
    'http://u:p@a.com,http://b.com',
    'http://@a.com,http://b.com',
    'http://a.com,http://b.com;;',
    ';http://a.com,http://b.com',
    'http://a.com?x=1,http://b.com',
    'http://a.com:8080,http://b.com',
    'http://a.com:,http://b.com',
    'http://a.com,http://a.com/',
    'http://a..com,http://b.com',
    'http://a.com.,http://b.com',
    'http://*.a.com,http://b.com',
    'http://a.com,http://b.com/$request_uri',
    'http://a.com,http://b.com/"x',
    "http://a.com,http://b.com/'x",
    'http://a.com,http://b.com/x y',
    'http://a.com,http://b.com/{x}',
    'http://a.com,http://b.com/#f',
    'http://a.com,http://b.com\\x',
    'http://a.com,http://b.com/;x',
    'http://a.com,http://b.com,http://c.com',
    'http://аpple.com,http://b.com',
    'http://exa%6Dple.com,http://b.com',
    'http://1.2.3,http://b.com',
    'http://a.com,https://b.com:70000',
    'http://a.com,https://b.com:99999999',
    'http://[::1],http://b.com',
    'http://a.com,javascript:alert(1)',
    'http://a.com,//b.com',
    'http://a.com,https://b.com;http://a.com,https://c.com',
    'http://a.com,https://b.com;;',
    ';http://a.com,https://b.com',
  ].map((v): [string, Suffixed, string[]] => [`redirects ${JSON.stringify(v)}`, { ...BASE, redirects: v }, ['ERR_LABEL_REDIRECT_INVALID redirects']]),
  ['source and target both relative', { ...BASE, redirects: 'a.com,b.com' }, ['ERR_LABEL_REDIRECT_INVALID redirects', 'ERR_LABEL_REDIRECT_INVALID redirects']],
  [
    'every bad redirect reported',
    { ...BASE, redirects: 'a,b;http://ok.com,https://ok2.com;http://c.com' },
    ['ERR_LABEL_REDIRECT_INVALID redirects', 'ERR_LABEL_REDIRECT_INVALID redirects', 'ERR_LABEL_REDIRECT_INVALID redirects'],
  ],
  // unknown
  ['typo host', { ...BASE, host: 'a.com' }, ['ERR_LABEL_UNKNOWN host']],
  ['wrong case', { ...BASE, Hosts: 'a.com' }, ['ERR_LABEL_UNKNOWN Hosts']],
  ['bare prefix', { ...BASE, '': 'x' }, ['ERR_LABEL_UNKNOWN ']],
  ['unknown with bad value', { ...BASE, frobnicate: 'a\nb' }, ['ERR_LABEL_CONTROL_CHAR frobnicate', 'ERR_LABEL_UNKNOWN frobnicate']],
  ['template label is not supported', { ...BASE, template: 'x' }, ['ERR_LABEL_UNKNOWN template']],
];

describe('decodeLabels rejects', () => {
  test.each(errorCases)('%s', (_name, labels, expected) => {
    const r = expectRejected(L(labels));
    track(r);
    expect(summary(r.errors, false)).toEqual([...expected].sort());
    for (const e of r.errors) {
      expect(e.severity).toBe('error');
      expect(e.message.length).toBeGreaterThan(10);
      expect(e.message.startsWith(LABEL_SCHEMA_MISMATCH_MESSAGE)).toBe(false);
      expect(e.message).not.toMatch(/must match pattern|must be equal to one of|NOT have additional/); // no raw ajv text
    }
  });

  test('messages name the problem', () => {
    const msg = (labels: Suffixed, value?: string): string => {
      const r = expectRejected(L(labels));
      const e = value === undefined ? r.errors[0] : r.errors.find((d) => d.value === value);
      if (!e) throw new Error(`no error with value ${value}: ${JSON.stringify(r.errors)}`);
      return e.message;
    };
    expect(expectRejected(L({ ...BASE, hosts: 'api..example.com' })).errors).toEqual([
      {
        code: 'ERR_LABEL_HOST_INVALID',
        severity: 'error',
        key: 'com.docker.lb.hosts',
        value: 'api..example.com',
        message: 'is not a valid hostname (empty label between dots)',
      },
    ]);
    expect(msg({ ...BASE, hosts: 'ok.com,example.com:8080' }, 'example.com:8080')).toBe('ports do not belong in hosts; use com.docker.lb.port');
    expect(msg({ ...BASE, hosts: 'аpple.com' })).toMatch(/use the punycode \(xn--\) form/);
    expect(msg({ ...BASE, hosts: 'аpple.com' })).toMatch(/U\+0430/);
    expect(msg({ ...BASE, hosts: 'example.com.' })).toMatch(/trailing dot; remove it/);
    expect(msg({ ...BASE, hosts: '*' })).toMatch(/default_backend/);
    expect(msg({ ...BASE, hosts: 'a.*.com' })).toMatch(/leftmost/);
    expect(msg({ ...BASE, hosts: '*example.com' })).toMatch(/\*\.example\.com/);
    expect(msg({ ...BASE, sticky_session_cookie: 'a$b' })).toMatch(/nginx cannot hash on it safely/);
    expect(msg({ ...BASE, ip_hash: 'yes' })).toMatch(/true or false .*TRUE/);
    expect(msg({ ...BASE, backend_mode: 'vip', ip_hash: 'true' })).toMatch(/sticky sessions need task backends/);
    expect(msg({ ...BASE, ip_hash: 'true', sticky_session_cookie: 's' })).toMatch(/pick one/);
    expect(msg({ ...BASE, port: '70000' })).toMatch(/1-65535/);
    expect(msg({ ...BASE, network: 'a\u200bb' })).toMatch(/invisible character U\+200B \(zero-width space\)/);
    expect(msg({ ...BASE, network: 'a\nb' })).toMatch(/control character U\+000A \(newline\)/);
    expect(msg({ ...BASE, network: long(5000) })).toMatch(/5000 characters/);
    expect(msg({ ...BASE, context_root: '/a/../b' })).toMatch(/'\.\.' segment/);
    expect(msg({ ...BASE, redirects: 'http://a.com' })).toMatch(/without a target.*source,target/);
    expect(msg({ ...BASE, redirects: 'http://u:p@a.com,http://b.com' })).toMatch(/user info/);
    expect(msg({ ...BASE, redirects: 'http://a..com,http://b.com' })).toMatch(/host 'a\.\.com' is not a valid hostname/);
    expect(msg({ ...BASE, redirects: 'http://1.2.3,http://b.com' })).toMatch(/write it as 1\.2\.0\.3/);
    expect(msg({ ...BASE, host: 'a' })).toBe('is not a known label; did you mean com.docker.lb.hosts?');
    expect(msg({ ...BASE, Hosts: 'a' })).toMatch(/did you mean com\.docker\.lb\.hosts\?/);
    expect(msg({ ...BASE, frobnicate: 'a' })).not.toMatch(/did you mean/);
    expect(msg({ hosts: 'a.com' })).toMatch(/com\.docker\.lb\.port=8080/);
  });

  test('suggestions', () => {
    expect(suggestLabel('host')).toBe('hosts');
    expect(suggestLabel('Hosts')).toBe('hosts');
    expect(suggestLabel('prot')).toBe('port');
    expect(suggestLabel('sslcert')).toBe('ssl_cert');
    expect(suggestLabel('context-root')).toBe('context_root');
    expect(suggestLabel('websocket_endpoint')).toBe('websocket_endpoints');
    expect(suggestLabel('sticky_session')).toBeUndefined();
    expect(suggestLabel('frobnicate')).toBeUndefined();
    expect(suggestLabel('')).toBeUndefined();
    expect(suggestLabel(long(1000))).toBeUndefined();
  });

  test('serviceCluster is reported in a rejection when valid', () => {
    expect(expectRejected(L({ ...BASE, port: 'x', service_cluster: 'blue' })).serviceCluster).toBe('blue');
    expect(expectRejected(L({ ...BASE, port: 'x', service_cluster: 'b lue' })).serviceCluster).toBe('');
    expect(expectRejected(L({ ...BASE, port: 'x' })).serviceCluster).toBe('');
  });

  test('values in diagnostics are bounded', () => {
    const r = expectRejected(L({ ...BASE, hosts: `${long(10000, 'x')}` }));
    expect(r.errors[0]?.code).toBe('ERR_LABEL_TOO_LONG');
    expect((r.errors[0]?.value ?? '').length).toBeLessThanOrEqual(257);
  });

  test('thousands of bad list items give a bounded list of diagnostics', () => {
    const ws = Array.from({ length: 500 }, (_, i) => `a${i}`).join(',');
    const hosts = Array.from({ length: 200 }, (_, i) => `h${i}.com,H${i}.com`).join(',');
    const r = expectRejected(L({ ...BASE, websocket_endpoints: ws, hosts }));
    expect(r.errors).toHaveLength(11);
    expect(r.errors[10]?.message).toMatch(/only the first 10 are listed/);
    expect(r.warnings).toHaveLength(11);
  });

  test('non-string values and hostile objects never throw', () => {
    const r = track(decodeLabels({ ...L(BASE), [`${P}network`]: 42, [`${P}ip_hash`]: null } as unknown as Record<string, string>));
    expect(r.status === 'rejected' && summary(r.errors, false)).toEqual(['ERR_LABEL_NOT_STRING ip_hash', 'ERR_LABEL_NOT_STRING network']);
    const hostile = new Proxy(
      {},
      {
        ownKeys: () => {
          throw new Error('boom');
        },
      },
    );
    const h = decodeLabels(hostile as Record<string, string>);
    expect(h.status === 'rejected' && h.errors.map((e) => e.code)).toEqual(['ERR_LABEL_INTERNAL']);
    const getter = Object.defineProperty({ ...L(BASE) }, `${P}network`, {
      enumerable: true,
      get: () => {
        throw new Error('nope');
      },
    });
    expect(decodeLabels(getter).status).toBe('rejected');
  });
});

// ------------------------------------------------------------------ injection

describe('injection attempts never reach a spec', () => {
  const payloads: string[] = [
    ';',
    ' ;',
    '{',
    '}',
    '"',
    "'",
    '`',
    '\n',
    '\r\n',
    '\0',
    '\t',
    '$',
    '${host}',
    '$(id)',
    '#',
    '\\',
    '\\n',
    ' return 200 "x"',
    'а',
    'ｅ',
    '\uff0f',
    '\u200b',
    '\u202e',
    '\ufeff',
    '\u2028',
    '\u00a0',
    '<script>',
    '\ud800',
  ];
  const tooLong = long(10000);

  test.each([...KNOWN_LABELS])('%s', (suffix) => {
    const valid = exampleLabels(suffix);
    const key = P + suffix;
    const example = valid[key] ?? '';
    const mid = Math.floor(example.length / 2);
    const variants = payloads.flatMap((p) => [`${example}${p}`, `${p}${example}`, `${example.slice(0, mid)}${p}${example.slice(mid)}`]);
    variants.push(tooLong, `${example}${tooLong}`);
    // Interlock's label table ends a redirect with ';': that one is a valid form, not an injection.
    const allowed = suffix === 'redirects' ? [`${example};`, `${example} ;`] : [];
    for (const v of variants.filter((x) => !allowed.includes(x))) {
      const r = track(decodeLabels({ ...valid, [key]: v }));
      if (r.status !== 'rejected') throw new Error(`${suffix}=${JSON.stringify(v)} was accepted: ${JSON.stringify(r)}`);
      expect(r.errors.some((e) => e.key === key)).toBe(true);
    }
  });
});

// ------------------------------------------------------------------ property-style

/** mulberry32: small, seeded, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SAFE = {
  host: /^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*$/,
  name: /^[A-Za-z0-9][A-Za-z0-9_.-]*$/,
  cookie: /^[A-Za-z0-9_.-]+$/,
  path: /^(\/[A-Za-z0-9._~%-]+)+$/,
  wsPath: /^\/$|^(\/[A-Za-z0-9._~%-]+)+$/,
  url: /^https?:\/\/[a-z0-9.-]+(:[0-9]+)?([/?][A-Za-z0-9\-._~:/?@!&()*+=%]*)?$/,
  time: /^[0-9]{1,6}(ms|s|m|h|d)?$/,
};

function assertSafeSpec(s: RouteSpec): void {
  const fail = (what: string): never => {
    throw new Error(`unsafe ${what} in ${JSON.stringify(s)}`);
  };
  if (!/^[\x20-\x7e]*$/.test(JSON.stringify(s))) fail('characters');
  for (const h of s.hosts) if (!SAFE.host.test(h) || h.length > 253) fail('host');
  if (s.hosts.length === 0 && !s.defaultBackend) fail('empty hosts');
  if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535) fail('port');
  for (const n of [s.network, s.sslCert, s.sslKey, s.serviceCluster || undefined]) if (n !== undefined && !SAFE.name.test(n)) fail('name');
  if (s.stickySessionCookie !== undefined && !SAFE.cookie.test(s.stickySessionCookie)) fail('cookie');
  if (s.contextRoot !== undefined && (!SAFE.path.test(s.contextRoot) || /\/\.\.?(\/|$)/.test(s.contextRoot))) fail('context root');
  for (const w of s.websocketEndpoints) if (!SAFE.wsPath.test(w) || /\/\.\.?(\/|$)/.test(w)) fail('websocket endpoint');
  for (const r of s.redirects) {
    if (!SAFE.url.test(r.source) || !SAFE.url.test(r.target) || !SAFE.host.test(r.sourceHost) || r.sourceHost.startsWith('*')) fail('redirect');
  }
  if (s.failTimeout !== undefined && !SAFE.time.test(s.failTimeout)) fail('fail timeout');
  if (s.maxFails !== undefined && !(Number.isInteger(s.maxFails) && s.maxFails >= 0 && s.maxFails <= 1000)) fail('max fails');
  if (!['none', 'required'].includes(s.sslBackendTlsVerify) || !['task', 'vip'].includes(s.backendMode)) fail('enum');
  if (s.contextRootRewrite && s.contextRoot === undefined) fail('rewrite');
  if (s.ipHash && s.stickySessionCookie !== undefined) fail('ip_hash + cookie');
  if ((s.sslCert === undefined) !== (s.sslKey === undefined)) fail('cert/key');
}

const VALID_POOL: Record<KnownLabel, string[]> = {
  hosts: ['a.com', 'A.com,b.com', '*.example.com', 'localhost', 'x-1.y', 'a.com, a.com'],
  port: ['80', '8080', '65535', '1'],
  network: ['net', 'my_net.1'],
  context_root: ['/api', '/a/b/', '/', '/%41'],
  context_root_rewrite: ['true', 'false'],
  sticky_session_cookie: ['s', 'JSESSIONID'],
  ip_hash: ['true', 'false', '1'],
  ssl_cert: ['c', 'a.crt'],
  ssl_key: ['k', 'a.key'],
  ssl_only: ['true', 'false'],
  ssl_passthrough: ['true', 'false', 'false'],
  ssl_backend: ['true', 'false'],
  ssl_backend_tls_verify: ['none', 'required'],
  websocket_endpoints: ['/ws', '/api/ws,/api', '/a,/b/'],
  redirects: ['http://a.com,https://b.com', 'http://a.com/x,https://b.com/y?z=1;http://c.com,http://d.com'],
  default_backend: ['true', 'false'],
  backend_mode: ['task', 'vip'],
  service_cluster: ['blue', 'green-1'],
  max_fails: ['0', '3', '1000'],
  fail_timeout: ['10s', '2h', '30'],
  acme: ['true', 'false', '1'],
};

const ALPHABET = [...'abcXYZ019-_.,;:/*%?#&=@!$"\'`{}\\ ~+()[]<>|^', '\n', '\0', '\t', 'а', 'ｅ', '\u200b', '\u00a0', 'é', '\u212A', '\ud800', '😀'];

function randomValue(rnd: () => number, suffix: KnownLabel | undefined): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const valid = suffix ? pick(VALID_POOL[suffix]) : 'x';
  const r = rnd();
  if (r < 0.45) return valid;
  if (r < 0.85) {
    // 1-3 point mutations of a valid value
    let v = valid;
    const n = 1 + Math.floor(rnd() * 3);
    for (let i = 0; i < n; i++) {
      const at = Math.floor(rnd() * (v.length + 1));
      const op = rnd();
      if (op < 0.5) v = v.slice(0, at) + pick(ALPHABET) + v.slice(at);
      else if (op < 0.75) v = v.slice(0, at) + v.slice(at + 1);
      else v = v.slice(0, at) + pick(ALPHABET) + v.slice(at + 1);
    }
    return v;
  }
  if (r < 0.99) {
    let v = '';
    const len = Math.floor(rnd() * 12);
    for (let i = 0; i < len; i++) v += pick(ALPHABET);
    return v;
  }
  return pick(ALPHABET).repeat(4000 + Math.floor(rnd() * 200));
}

const propertyValidators = new Map<string, ValidateFunction>();
{
  const ajv = new Ajv({ strict: true });
  for (const s of KNOWN_LABELS) {
    const schema = labelSchema.properties[P + s];
    if (!schema) throw new Error(`schema misses ${s}`);
    propertyValidators.set(P + s, ajv.compile(schema));
  }
}
const SHAPE_CODES = new Set([
  'ERR_LABEL_CONTROL_CHAR',
  'ERR_LABEL_TOO_LONG',
  'ERR_LABEL_HOST_INVALID',
  'ERR_LABEL_PORT_INVALID',
  'ERR_LABEL_NETWORK_INVALID',
  'ERR_LABEL_PATH_INVALID',
  'ERR_LABEL_BOOL_INVALID',
  'ERR_LABEL_COOKIE_INVALID',
  'ERR_LABEL_SECRET_INVALID',
  'ERR_LABEL_ENUM_INVALID',
  'ERR_LABEL_REDIRECT_INVALID',
  'ERR_LABEL_SERVICE_CLUSTER_INVALID',
  'ERR_LABEL_MAX_FAILS_INVALID',
  'ERR_LABEL_FAIL_TIMEOUT_INVALID',
]);

/** The schema (ajv, per label) and the decoder's parser must agree on every value (redirects: schema ⊇ parser). */
function assertSchemaAgrees(labels: Record<string, string>, r: DecodeResult): void {
  for (const [key, raw] of Object.entries(labels)) {
    const validate = propertyValidators.get(key);
    if (!validate) continue;
    const bySchema = raw.length <= 4096 && validate(raw.replace(/^ +| +$/g, ''));
    const byDecoder = !(r.status === 'rejected' && r.errors.some((e) => e.key === key && SHAPE_CODES.has(e.code)));
    if (key === `${P}redirects` ? byDecoder && !bySchema : byDecoder !== bySchema) {
      throw new Error(`schema says ${bySchema}, decoder says ${byDecoder} for ${key}=${JSON.stringify(raw)}: ${JSON.stringify(r)}`);
    }
  }
}

describe('property: random label maps', () => {
  test('never throw; rejections explain themselves; accepted specs are safe; schema and parser agree', () => {
    const rnd = prng(0x5eed);
    const errorCodes = new Set<string>(LABEL_ERROR_CODES);
    const warningCodes = new Set<string>(LABEL_WARNING_CODES);
    const counts = { ok: 0, rejected: 0, ignored: 0 };
    for (let i = 0; i < 3000; i++) {
      const labels: Record<string, string> = {};
      if (rnd() < 0.85) labels[`${P}hosts`] = randomValue(rnd, 'hosts');
      if (rnd() < 0.85) labels[`${P}port`] = randomValue(rnd, 'port');
      for (const s of KNOWN_LABELS) if (rnd() < 0.12) labels[P + s] = randomValue(rnd, s);
      if (rnd() < 0.05) labels[P + randomValue(rnd, undefined)] = 'x';
      if (rnd() < 0.2) labels[`com.docker.stack.${i}`] = randomValue(rnd, undefined);
      if (rnd() < 0.03) for (const k of Object.keys(labels)) if (k.startsWith(P)) delete labels[k];

      let r: DecodeResult;
      try {
        r = decodeLabels(labels);
      } catch (e) {
        throw new Error(`threw on ${JSON.stringify(labels)}: ${String(e)}`);
      }
      track(r);
      counts[r.status]++;
      const hasOurs = Object.keys(labels).some((k) => k.startsWith(P));
      if ((r.status === 'ignored') === hasOurs) throw new Error(`wrong ignore decision for ${JSON.stringify(labels)}`);
      if (r.status === 'ignored') continue;
      for (const w of r.warnings) {
        if (!warningCodes.has(w.code) || w.severity !== 'warning' || !w.key.startsWith(P) || !w.message) throw new Error(`bad warning ${JSON.stringify(w)}`);
      }
      if (r.status === 'rejected') {
        if (r.errors.length === 0) throw new Error('rejection without errors');
        for (const e of r.errors) {
          if (!errorCodes.has(e.code) || e.code === 'ERR_LABEL_INTERNAL' || e.severity !== 'error' || !e.key.startsWith(P) || e.message.length < 5) {
            throw new Error(`bad error ${JSON.stringify(e)} for ${JSON.stringify(labels)}`);
          }
          if (e.message.startsWith(LABEL_SCHEMA_MISMATCH_MESSAGE)) throw new Error(`schema/parser disagree: ${JSON.stringify(e)} for ${JSON.stringify(labels)}`);
          if (e.value !== undefined && e.value.length > 257) throw new Error('unbounded value');
        }
        const cluster = labels[`${P}service_cluster`];
        if (r.serviceCluster !== '' && r.serviceCluster !== cluster?.trim()) throw new Error(`wrong serviceCluster ${r.serviceCluster}`);
      } else {
        assertSafeSpec(r.spec);
      }
      assertSchemaAgrees(labels, r);
      // order of keys never matters
      const again = JSON.stringify(decodeLabels(Object.fromEntries(Object.entries(labels).reverse())));
      if (again !== JSON.stringify(r)) throw new Error(`key order changed the result for ${JSON.stringify(labels)}`);
    }
    // the generator must exercise all three outcomes
    expect(counts.ok).toBeGreaterThan(100);
    expect(counts.rejected).toBeGreaterThan(1000);
    expect(counts.ignored).toBeGreaterThan(10);
  });

  test('schema and parser agree on short strings over a tricky alphabet (hosts, paths, ports)', () => {
    const rnd = prng(42);
    const alphabets: [KnownLabel, string][] = [
      ['hosts', 'aZ9-.*, :/_'],
      ['context_root', 'a9./%2eEfF, ?~_-'],
      ['websocket_endpoints', 'a./%2eF, -'],
      ['port', '01569+- '],
      ['fail_timeout', '09msdh '],
      ['redirects', 'a.:/,;hHtps?@%2 '],
    ];
    for (const [suffix, chars] of alphabets) {
      for (let i = 0; i < 600; i++) {
        let v = suffix === 'redirects' ? (rnd() < 0.7 ? 'http://' : '') : '';
        const len = Math.floor(rnd() * 10);
        for (let j = 0; j < len; j++) v += chars[Math.floor(rnd() * chars.length)];
        const labels = L({ ...BASE, [suffix]: v });
        const r = decodeLabels(labels);
        assertSchemaAgrees(labels, r);
        if (r.status === 'ok') assertSafeSpec(r.spec);
      }
    }
  });
});

describe('stricter than Interlock, with the reason', () => {
  test.each([
    ['hosts', 'a.example.com;b'],
    ['context_root', '/a{b'],
    ['sticky_session_cookie', 'sess;x'],
  ])('%s=%s says why Interlock accepting it was unsafe', (suffix, value) => {
    const labels = { 'com.docker.lb.hosts': 'a.example.com', 'com.docker.lb.port': '80', [`com.docker.lb.${suffix}`]: value };
    const r = decodeLabels(labels);
    expect(r.status).toBe('rejected');
    if (r.status !== 'rejected') return;
    expect(r.errors[0]!.message).toMatch(/Interlock wrote label values into nginx\.conf as they were, so '[;{]' there could change the configuration of every site/);
  });
});
