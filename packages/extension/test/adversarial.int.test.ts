// A bad label never takes the proxy down: thousands of hostile label sets (hand-written ones from
// fixtures/adversarial/cases.json plus deterministic mutations of valid sets) are mixed, in batches, with
// known-good services into realistic swarm snapshots, and each batch goes through the real chain:
// buildClusterModels → Pipeline.process (renderNginxConf, policy, sandboxed nginx -t) → published config.
// For every batch:
//   (a) the published config passes nginx -t (checked again, independently of the pipeline),
//   (b) every valid service is enabled and each of its hosts is still routed to its tasks,
//   (c) every rejected service carries at least one error with a code, a key and a message,
//   (d) bisection never had to exclude anything (a bad value never reached nginx), and the config
//       holds no forbidden directive.
import { jest } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildClusterModels, decodeLabels, parseConfig } from '@signalbox/model';
import { createLogger } from '@signalbox/protocol';
import type { ClusterModel, ClusterTarget, DiagnosticCode, ExtensionConfig, ServiceSnapshot, ServiceStatus, SwarmSnapshot } from '@signalbox/model';
import { checkPolicy } from '../src/config-policy.js';
import { NginxValidator } from '../src/nginx-validator.js';
import type { ConfigValidator } from '../src/nginx-validator.js';
import { Pipeline } from '../src/pipeline.js';
import type { PipelineResult } from '../src/pipeline.js';
import { sha256 } from '../src/publisher.js';
import { renderNginxConf } from '../src/render/index.js';
import { ServedConfigState } from '../src/served-config.js';
import { MemoryPublisher } from './helpers/memory-publisher.js';
import { nginxCheck } from './helpers/nginx-check.js';

jest.setTimeout(240_000);

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../../..');
const P = 'com.docker.lb.';
const SEED = Number(process.env.SIGNALBOX_ADVERSARIAL_SEED ?? 0x5eed1e55);
const TOTAL = Number(process.env.SIGNALBOX_ADVERSARIAL_TOTAL ?? 5000);
const ADVERSARIAL_PER_BATCH = 80;
const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';
const SECRETS_DIR = '/run/secrets';
/**
 * A ceiling for catastrophic backtracking (a ReDoS label takes seconds to minutes), not a speed target:
 * high enough that a loaded machine never reaches it. Decode speed is measured by scripts/bench/.
 */
const MAX_DECODE_MS = 2_000;

// ---------------------------------------------------------------- deterministic randomness

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

// ---------------------------------------------------------------- the swarm around the services

const NET = {
  front: { id: 'netfront00000000000000001', name: 'sbx-adv-front', driver: 'overlay', scope: 'swarm', attachable: true, ingress: false, labels: {} },
  back: { id: 'netback000000000000000002', name: 'sbx-adv-back', driver: 'overlay', scope: 'swarm', attachable: true, ingress: false, labels: {} },
  bridge: { id: 'netbridge0000000000000003', name: 'sbx-adv-bridge', driver: 'bridge', scope: 'local', attachable: false, ingress: false, labels: {} },
  ingress: { id: 'netingress000000000000004', name: 'ingress', driver: 'overlay', scope: 'swarm', attachable: false, ingress: true, labels: {} },
};
const NETWORKS = Object.values(NET);
const NODE = { id: 'node0000000000000000000001', hostname: 'sbx-node-1', addr: '192.168.65.3', role: 'manager' as const, ready: true };
const SECRETS = ['adv.cert', 'adv.key', 'valid-cert', 'valid-key'].map((name, i) => ({ id: `secret${String(i).padStart(19, '0')}`, name }));

interface ServiceShape {
  name: string;
  labels: Record<string, string>;
  createdAt: string;
  attach?: readonly string[];
  tasks?: number;
  endpointMode?: 'vip' | 'dnsrr';
  publish?: number;
}

/** Hands out unique task and virtual IPs within a batch. */
class Addresses {
  private n = 0;
  next(): string {
    this.n++;
    return `10.${100 + (this.n >> 16)}.${(this.n >> 8) & 255}.${this.n & 255}`;
  }
}

function serviceSnapshot(s: ServiceShape, addrs: Addresses): ServiceSnapshot {
  const byName = new Map(NETWORKS.map((n) => [n.name, n]));
  const networkIds = (s.attach ?? [NET.front.name]).map((n) => byName.get(n)?.id ?? `missing-${n}`);
  const endpointMode = s.endpointMode ?? 'dnsrr';
  const tasks = Array.from({ length: s.tasks ?? 1 }, (_, i) => ({
    id: `${sha256(`${s.name}/task/${i}`).slice(0, 25)}`,
    nodeId: NODE.id,
    slot: i + 1,
    addresses: networkIds.map((networkId) => ({ networkId, addr: addrs.next() })),
  }));
  return {
    id: sha256(s.name).slice(0, 25),
    name: s.name,
    labels: s.labels,
    createdAt: s.createdAt,
    networkIds,
    endpointMode,
    vips: endpointMode === 'vip' ? networkIds.map((networkId) => ({ networkId, addr: addrs.next() })) : [],
    ports: s.publish !== undefined ? [{ target: s.publish, published: s.publish, protocol: 'tcp', mode: 'host' }] : [],
    tasks,
  };
}

/** Creation time: valid services first, then adversarial ones (which therefore lose every conflict). */
function createdAt(offsetSeconds: number): string {
  return new Date(Date.UTC(2024, 0, 1) + offsetSeconds * 1000).toISOString();
}

// ---------------------------------------------------------------- known-good services of a batch

interface ValidService {
  shape: ServiceShape;
  /** Where its traffic must go in the published config. */
  routes: { host: string; path: string; https: boolean }[];
  passthrough: string[];
  defaultBackend: boolean;
  redirect?: { host: string; target: string };
  /** A passed-through ssl_only host whose plain HTTP must redirect to https. */
  httpsRedirect?: string;
  /** In the blue cluster rather than the default one. */
  blue?: boolean;
}

interface BatchHosts {
  VALID: string;
  VALID_UPPER: string;
  VALID_CTX: string;
  VALID_TLS: string;
  VALID_PT: string;
  VALID_PT_ONLY: string;
  VALID_REDIR_SRC: string;
}

function validServices(batch: number): { services: ValidService[]; hosts: BatchHosts } {
  const h = (kind: string) => `v${batch}-${kind}.valid.test`;
  const L = (labels: Record<string, string>) => Object.fromEntries(Object.entries(labels).map(([k, v]) => [P + k, v]));
  const svc = (kind: string, labels: Record<string, string>, extra: Partial<ServiceShape> = {}): ServiceShape => ({
    name: `valid-${batch}-${kind}`,
    labels: L(labels),
    createdAt: '',
    tasks: 2,
    ...extra,
  });
  const plain = (kind: string, labels: Record<string, string> = {}, extra: Partial<ServiceShape> = {}): ValidService => ({
    shape: svc(kind, { hosts: h(kind), port: '80', ...labels }, extra),
    routes: [{ host: h(kind), path: '/', https: false }],
    passthrough: [],
    defaultBackend: false,
  });
  const services: ValidService[] = [
    {
      shape: svc('plain', { hosts: `${h('plain')},www.${h('plain')}`, port: '80' }),
      routes: [
        { host: h('plain'), path: '/', https: false },
        { host: `www.${h('plain')}`, path: '/', https: false },
      ],
      passthrough: [],
      defaultBackend: false,
    },
    {
      shape: svc('ctx', { hosts: h('ctx'), port: '8080', context_root: '/api', context_root_rewrite: 'true', websocket_endpoints: '/api/ws' }),
      routes: [{ host: h('ctx'), path: '/api', https: false }],
      passthrough: [],
      defaultBackend: false,
    },
    plain('sticky', { sticky_session_cookie: 'SESSIONID' }),
    plain('sticky-dot', { sticky_session_cookie: 'my.session-id' }),
    plain('iphash', { ip_hash: 'true' }),
    {
      shape: svc('tls', { hosts: h('tls'), port: '80', ssl_cert: 'valid-cert', ssl_key: 'valid-key', ssl_only: 'true' }),
      routes: [{ host: h('tls'), path: '/', https: true }],
      passthrough: [],
      defaultBackend: false,
    },
    {
      shape: svc('pt', { hosts: h('pt'), port: '443', ssl_passthrough: 'true' }),
      routes: [],
      passthrough: [h('pt')],
      defaultBackend: false,
    },
    {
      shape: svc('pt-only', { hosts: h('pt-only'), port: '443', ssl_passthrough: 'true', ssl_only: 'true' }),
      routes: [],
      passthrough: [h('pt-only')],
      defaultBackend: false,
      httpsRedirect: h('pt-only'),
    },
    plain('backend-tls', { port: '8443', ssl_backend: 'true', ssl_backend_tls_verify: 'required' }),
    plain('tuning', { max_fails: '3', fail_timeout: '30s' }),
    {
      ...plain('redir', { redirects: `http://${h('old')},https://${h('redir')}` }),
      redirect: { host: h('old'), target: `https://${h('redir')}` },
    },
    {
      shape: svc('wild', { hosts: `*.${h('wild')}`, port: '80' }),
      routes: [{ host: `*.${h('wild')}`, path: '/', https: false }],
      passthrough: [],
      defaultBackend: false,
    },
    plain('vip', { backend_mode: 'vip' }, { endpointMode: 'vip', tasks: 2 }),
    plain('hostport', { port: '9090' }, { attach: [], publish: 9090 }),
    plain('two-nets', { network: NET.back.name }, { attach: [NET.front.name, NET.back.name] }),
    plain('canary-a', { hosts: h('canary') }),
    plain('canary-b', { hosts: h('canary') }),
    plain('plain-2'),
    plain('plain-3', { port: '65535' }),
    {
      shape: svc('default', { port: '80', default_backend: 'true' }),
      routes: [],
      passthrough: [],
      defaultBackend: true,
    },
    { ...plain('blue', { service_cluster: 'blue' }), blue: true },
  ];
  // canary-a/b share one host: fix up their routes.
  for (const s of services) {
    if (s.shape.name.endsWith('canary-a') || s.shape.name.endsWith('canary-b')) s.routes = [{ host: h('canary'), path: '/', https: false }];
  }
  services.forEach((s, i) => (s.shape.createdAt = createdAt(i)));
  return {
    services,
    hosts: {
      VALID: h('plain'),
      VALID_UPPER: h('plain').toUpperCase(),
      VALID_CTX: h('ctx'),
      VALID_TLS: h('tls'),
      VALID_PT: h('pt'),
      VALID_PT_ONLY: h('pt-only'),
      VALID_REDIR_SRC: h('old'),
    },
  };
}

// ---------------------------------------------------------------- adversarial cases

type Expect = 'rejected' | 'enabled' | 'ignored' | 'any';

interface CaseFile {
  cases: {
    name: string;
    labels?: Record<string, string | null>;
    base?: boolean;
    attach?: string[];
    tasks?: number;
    endpointMode?: 'vip' | 'dnsrr';
    publish?: number;
    expect?: Expect;
    codes?: DiagnosticCode[];
  }[];
}

interface AdversarialCase {
  id: string;
  name: string;
  /** Labels with placeholders, expanded per batch. */
  labels: Record<string, string>;
  attach?: string[];
  tasks?: number;
  endpointMode?: 'vip' | 'dnsrr';
  publish?: number;
  expect: Expect;
  codes: DiagnosticCode[];
}

function loadHandWritten(): AdversarialCase[] {
  const file = JSON.parse(readFileSync(path.join(HERE, 'fixtures/adversarial/cases.json'), 'utf8')) as CaseFile;
  return file.cases.map((c, i) => {
    const labels: Record<string, string> = c.base === false ? {} : { [`${P}hosts`]: '{{ADV}}', [`${P}port`]: '8080' };
    for (const [k, v] of Object.entries(c.labels ?? {})) {
      if (v === null) delete labels[k];
      else labels[k] = v;
    }
    const out: AdversarialCase = { id: `h${String(i).padStart(3, '0')}`, name: c.name, labels, expect: c.expect ?? 'rejected', codes: c.codes ?? [] };
    if (c.attach) out.attach = c.attach;
    if (c.tasks !== undefined) out.tasks = c.tasks;
    if (c.endpointMode) out.endpointMode = c.endpointMode;
    if (c.publish !== undefined) out.publish = c.publish;
    return out;
  });
}

function expand(text: string, vars: Record<string, string>): string {
  let out = text.replace(/\{\{([A-Z_0-9]+)\}\}/g, (all, name: string) => vars[name] ?? all);
  out = out.replace(/\{\{SEQ:(\d+):([^:]*):(.*?)\}\}/g, (_all, n: string, prefix: string, suffix: string) => Array.from({ length: Number(n) }, (_, i) => `${prefix}${i}${suffix}`).join(','));
  return out.replace(/\{\{REPEAT:(\d+):(.*?)\}\}/gs, (_all, n: string, unit: string) => unit.repeat(Number(n)));
}

// Generated cases: a random valid label set, then 1-3 hostile mutations.

const HOSTILE_SNIPPETS = [
  ';',
  '{',
  '}',
  '"',
  "'",
  '\\',
  '$',
  '#',
  '\n',
  '\r',
  '\t',
  '\u0000',
  '\u0007',
  '\u001b',
  '\u007f',
  '\u200b',
  '\u200c',
  '\u200d',
  '\u2060',
  '\ufeff',
  '\u202e',
  '\u2066',
  '\u00a0',
  '\u3000',
  '\u2028',
  '\u2029',
  '\ud800',
  ' ',
  ',',
  '%',
  '%2e',
  '%2E%2e',
  '%2f',
  '%00',
  '%5c',
  '..',
  '/../',
  '/./',
  '//',
  '*',
  '*.',
  '.',
  '~',
  '`',
  '|',
  '&',
  '<',
  '>',
  '(',
  ')',
  '[',
  ']',
  '@',
  ':',
  '=',
  '?',
  '!',
  '+',
  '\u0430',
  '\u0435',
  '\u043e',
  '\u0440',
  '\u0441',
  '\uff45',
  '\uff0e',
  '\uff10',
  '\uff1a',
  '\u0131',
  '\u017f',
  '\u212a',
  '${host}',
  '$request_uri',
  '$1',
  ' include /etc/passwd;',
  '; include /etc/passwd',
  '\ninclude /etc/passwd;\n',
  '} server { listen 81; }',
  '{ content_by_lua_block { os.execute("id") } }',
  '"; return 200 "pwn',
  '\\"',
  '#{',
  '\\n',
  '; access_by_lua_block { ngx.exit(200) }',
  ' load_module /tmp/x.so;',
  ' env PATH;',
  '; proxy_pass http://169.254.169.254;',
];

const HOSTILE_VALUES = [
  '',
  ' ',
  '  ',
  '\u200b',
  'include /etc/passwd;',
  'a.test;include /etc/passwd',
  '../../etc/passwd',
  '/etc/passwd',
  '$host',
  '${http_host}',
  '~^(.*)$',
  '*',
  '*.',
  '.',
  '..',
  '-',
  '_',
  'null',
  'undefined',
  'true',
  'false',
  'NaN',
  '0',
  '-0',
  '1e3',
  '0x10',
  '65536',
  '4294967297',
  '99999999999999999999',
  'http://evil.test',
  '//evil.test',
  'javascript:alert(1)',
  '{}',
  '[]',
  '"x"',
  'a'.repeat(4097),
  'a.'.repeat(2100),
  '/'.repeat(3000),
  '%'.repeat(100),
  '\u0430pp.test',
  '\uff41pp.test',
  'app\u3002test',
  'api..example.com',
  '*.*.test',
  'a.*.test',
  'test.*',
  'A'.repeat(64) + '.test',
  'x'.repeat(64),
  '/a'.repeat(600),
  'http://a.test,https://b.test;http://a.test,https://c.test',
  'http://a.test,http://a.test',
  'https://evil.test:0,https://x.test',
];

const KEYS = [
  'hosts',
  'port',
  'network',
  'context_root',
  'context_root_rewrite',
  'sticky_session_cookie',
  'ip_hash',
  'ssl_cert',
  'ssl_key',
  'ssl_only',
  'ssl_passthrough',
  'ssl_backend',
  'ssl_backend_tls_verify',
  'websocket_endpoints',
  'redirects',
  'default_backend',
  'backend_mode',
  'service_cluster',
  'max_fails',
  'fail_timeout',
] as const;

/** Plausible values per label, valid and invalid, for the "add a label" mutation. */
const VALUE_POOL: Record<(typeof KEYS)[number], readonly string[]> = {
  hosts: ['{{SELF}}', '{{SELF}},www.{{SELF}}', '*.{{SELF}}', '{{VALID}}', '{{VALID_TLS}}', '{{VALID_PT}}', '{{VALID_CTX}}', '{{VALID_UPPER}}'],
  port: ['80', '443', '8080', '1', '65535', '0', '65536', '-1', '08080', '80 ', ' 80', '８０'],
  network: ['sbx-adv-front', 'sbx-adv-back', 'sbx-adv-bridge', 'ingress', 'sbx-no-such-net', 'sbx-adv-front;', '..'],
  context_root: ['/', '/api', '/api/', '/a%20b', '/~me', '/api/v1', '/.', '/..', '/%2e%2e', '/api;', 'api', '/a b', '//x'],
  context_root_rewrite: ['true', 'false', '1', '0', 'T', 'yes', 'TRUE', 'tRue'],
  sticky_session_cookie: ['SESSION', 'sid', 'my.cookie-1', '_x', 'a{', 'a=b', '$x', 'k'.repeat(128), 'k'.repeat(129)],
  ip_hash: ['true', 'false', '1', 'on', 'True'],
  ssl_cert: ['adv.cert', 'valid-cert', 'sbx-no-such-cert', '../x', '.x', 'a'.repeat(65)],
  ssl_key: ['adv.key', 'valid-key', 'sbx-no-such-key', 'x/y', 'adv.cert'],
  ssl_only: ['true', 'false', '1', 'F', 'yes'],
  ssl_passthrough: ['true', 'false', '1', 'no'],
  ssl_backend: ['true', 'false', 't', 'ON'],
  ssl_backend_tls_verify: ['none', 'required', 'Required', 'optional', ''],
  websocket_endpoints: ['/ws', '/api/ws', '/ws,/ws', '/ws,,/x', '/ws;', '/../ws', 'ws', '/ws/'],
  redirects: [
    'http://old-{{SELF}},https://{{SELF}}',
    'http://{{SELF}}/old,https://{{SELF}}/new',
    'http://{{VALID}},https://evil.test',
    'http://{{VALID_PT_ONLY}},https://evil.test',
    'http://{{VALID_REDIR_SRC}},https://evil.test',
    'http://{{VALID_CTX}}/api,https://evil.test',
    'http://x.test',
    'http://x.test,ftp://y.test',
    'http://a.test/$x,https://b.test',
  ],
  default_backend: ['true', 'false', '1', 'yes'],
  backend_mode: ['task', 'vip', 'VIP', 'dnsrr', ''],
  service_cluster: ['blue', 'nosuchcluster', 'blue;', '', 'BLUE'],
  max_fails: ['0', '1', '1000', '1001', '-1', '01', '1.5'],
  fail_timeout: ['10s', '0', '30', '5m', '1h', '2d', '999999', '500ms', '1000000', '1m30s', '10 s', 's'],
};

const CONFUSABLES: Record<string, string[]> = {
  a: ['\u0430', '\uff41'],
  e: ['\u0435', '\uff45'],
  o: ['\u043e', '\uff4f'],
  p: ['\u0440'],
  c: ['\u0441'],
  x: ['\u0445'],
  i: ['\u0456', '\u0131'],
  s: ['\u0455', '\u017f'],
  '.': ['\uff0e', '\u3002', '\u2024'],
  '/': ['\u2215', '\uff0f'],
  '-': ['\u2010', '\u2212'],
  '1': ['\uff11', '\u0661'],
  '0': ['\uff10'],
  '8': ['\uff18'],
  k: ['\u212a'],
};

function typo(r: Rng, suffix: string): string {
  const ops = [
    () => suffix.slice(0, -1),
    () => `${suffix}s`,
    () => suffix.replace(/_/g, '-'),
    () => suffix.toUpperCase(),
    () => suffix[0]!.toUpperCase() + suffix.slice(1),
    () => {
      const i = r.int(Math.max(1, suffix.length - 1));
      return suffix.slice(0, i) + suffix[i + 1] + suffix[i] + suffix.slice(i + 2);
    },
    () => {
      const i = r.int(suffix.length);
      return suffix.slice(0, i) + suffix[i] + suffix.slice(i);
    },
    () => `${suffix}\u200b`,
    () => suffix.replace(/[aeo]/, (c) => CONFUSABLES[c]![0]!),
    () => `.${suffix}`,
  ];
  return r.pick(ops)();
}

function generateValidish(r: Rng): { labels: Record<string, string>; attach?: string[]; tasks?: number; endpointMode?: 'vip' } {
  const l: Record<string, string> = {};
  const hosts = ['{{SELF}}'];
  if (r.chance(0.3)) hosts.push('www.{{SELF}}');
  if (r.chance(0.15)) hosts.push('*.{{SELF}}');
  l.hosts = hosts.join(',');
  l.port = r.pick(['80', '8080', '443', '3000', String(1 + r.int(65535))]);
  const passthrough = r.chance(0.1);
  if (passthrough) {
    l.ssl_passthrough = 'true';
    if (r.chance(0.3)) l.ssl_only = 'true';
  } else {
    if (r.chance(0.3)) {
      const root = r.pick(['/api', '/v1/users', '/~me', '/a%20b', '/app/']);
      l.context_root = root;
      if (r.chance(0.5)) l.context_root_rewrite = 'true';
      if (r.chance(0.3)) l.websocket_endpoints = `${root.replace(/\/$/, '')}/ws`;
    } else if (r.chance(0.15)) {
      l.websocket_endpoints = '/ws,/live';
    }
    const pin = r.int(6);
    if (pin === 0) l.sticky_session_cookie = r.pick(['SESSION', 'sid', 'my.cookie-1', '_x']);
    if (pin === 1) l.ip_hash = 'true';
    if (r.chance(0.2)) {
      l.ssl_cert = 'adv.cert';
      l.ssl_key = 'adv.key';
      if (r.chance(0.5)) l.ssl_only = 'true';
    }
    if (r.chance(0.1)) {
      l.ssl_backend = 'true';
      if (r.chance(0.5)) l.ssl_backend_tls_verify = 'required';
    }
    if (r.chance(0.15)) l.redirects = r.pick(['http://old-{{SELF}},https://{{SELF}}', 'http://{{SELF}}/old,https://{{SELF}}/new', 'http://old-{{SELF}}/x,http://{{SELF}}/y?z=1']);
  }
  if (r.chance(0.15)) l.max_fails = r.pick(['0', '2', '1000']);
  if (r.chance(0.15)) l.fail_timeout = r.pick(['10s', '0', '30', '5m', '1h', '2d', '999999', '500ms']);
  if (r.chance(0.1)) l.network = NET.front.name;
  const out: ReturnType<typeof generateValidish> = { labels: Object.fromEntries(Object.entries(l).map(([k, v]) => [P + k, v])) };
  if (r.chance(0.05)) out.tasks = 0;
  return out;
}

// Valid-grammar fuzzing: random values the decoder should accept, to find ones nginx would not.
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const ALNUM = `${LOWER}${LOWER.toUpperCase()}0123456789`;
const randStr = (r: Rng, alphabet: string, min: number, max: number) => Array.from({ length: min + r.int(max - min + 1) }, () => alphabet[r.int(alphabet.length)]!).join('');
/** %XX escapes the path grammar allows (not controls, '.', '/', '\\', DEL). */
const pctEscape = (r: Rng) => `%${r.pick(['20', '21', '24', '25', '26', '2B', '2C', '3A', '3B', '3D', '40', '5B', '5D', '7B', '7D', '7E', 'C3', 'A9', 'e9', 'ff', '22', '27', '23', '3F'])}`;

function fuzzHost(r: Rng, self: string): string {
  if (r.chance(0.15)) return r.pick(['default', 'include', 'hostnames', 'volatile', 'server', 'localhost', '127.0.0.1', '0', 'xn--80ak6aa92e.test', 'a-b--c.test']);
  const label = () => {
    const core = randStr(r, `${LOWER}0123456789-`, 0, r.chance(0.1) ? 61 : 10);
    const edge = () => r.pick([...ALNUM]);
    return `${edge()}${core}${core.length > 0 || r.chance(0.5) ? edge() : ''}`.slice(0, 63).replace(/-$/, 'x');
  };
  const name = Array.from({ length: 1 + r.int(3) }, label).join('.');
  return `${r.chance(0.1) ? '*.' : ''}${name}.${self}`.slice(-253).replace(/^[-.]+/, '');
}

function fuzzPath(r: Rng): string {
  const seg = () => {
    let out = '';
    const n = 1 + r.int(8);
    for (let i = 0; i < n; i++) out += r.chance(0.15) ? pctEscape(r) : r.pick([...`${ALNUM}._~-`]);
    return out === '.' || out === '..' ? `${out}x` : out;
  };
  return `/${Array.from({ length: 1 + r.int(3) }, seg).join('/')}${r.chance(0.2) ? '/' : ''}`;
}

const URL_CHARS = `${ALNUM}-._~:/?@!&()*+=%`;
function fuzzUrl(r: Rng, host: string, role: 'source' | 'target'): string {
  const scheme = r.pick(['http', 'https']);
  const port = role === 'target' && r.chance(0.2) ? `:${1 + r.int(65535)}` : '';
  let rest = '';
  if (r.chance(0.7)) rest += `/${randStr(r, URL_CHARS.replace(/[?]/g, ''), 0, 20)}`;
  if (role === 'target' && r.chance(0.3)) rest += `?${randStr(r, URL_CHARS, 0, 20)}`;
  return `${scheme}://${host}${port}${rest}`;
}

function validFuzz(r: Rng, c: { labels: Record<string, string> }): void {
  const k = r.pick(['hosts', 'context_root', 'websocket_endpoints', 'sticky_session_cookie', 'redirects', 'fail_timeout', 'max_fails', 'port'] as const);
  const set = (v: string) => (c.labels[P + k] = v);
  if (k === 'hosts') set(['{{SELF}}', ...Array.from({ length: r.int(4) }, () => fuzzHost(r, '{{SELF}}'))].join(','));
  if (k === 'context_root') set(fuzzPath(r));
  if (k === 'websocket_endpoints') {
    const root = (c.labels[`${P}context_root`] ?? '').replace(/\/+$/, '');
    set(Array.from({ length: 1 + r.int(3) }, () => `${root.startsWith('/') ? root : ''}${fuzzPath(r)}`).join(','));
  }
  if (k === 'sticky_session_cookie') set(randStr(r, `${ALNUM}_.-`, 1, r.chance(0.1) ? 128 : 12));
  if (k === 'redirects') {
    set(
      Array.from(
        { length: 1 + r.int(3) },
        (_, i) => `${fuzzUrl(r, r.chance(0.5) ? `r${i}-{{SELF}}` : '{{SELF}}', 'source')},${fuzzUrl(r, r.chance(0.5) ? '{{SELF}}' : fuzzHost(r, 'elsewhere.test').replace(/^\*\./, ''), 'target')}`,
      ).join(';'),
    );
  }
  if (k === 'fail_timeout') set(`${randStr(r, '0123456789', 1, 6)}${r.pick(['', 's', 'm', 'h', 'd'])}`);
  if (k === 'max_fails') set(String(r.int(1001)));
  if (k === 'port') set(String(1 + r.int(65535)));
}

function mutate(r: Rng, c: { labels: Record<string, string>; attach?: string[]; tasks?: number; endpointMode?: 'vip' }): string[] {
  const keys = () => Object.keys(c.labels);
  const anyKey = () => (keys().length > 0 ? r.pick(keys()) : `${P}hosts`);
  const ops: [string, () => void][] = [
    [
      'insert',
      () => {
        const k = anyKey();
        const v = c.labels[k] ?? '';
        const at = r.int(v.length + 1);
        c.labels[k] = v.slice(0, at) + r.pick(HOSTILE_SNIPPETS) + v.slice(at);
      },
    ],
    [
      'replace',
      () => {
        c.labels[anyKey()] = r.pick(HOSTILE_VALUES);
      },
    ],
    [
      'typo-key',
      () => {
        const k = anyKey();
        const v = c.labels[k]!;
        delete c.labels[k];
        c.labels[P + typo(r, k.slice(P.length) || 'hosts')] = v;
      },
    ],
    [
      'drop-key',
      () => {
        delete c.labels[anyKey()];
      },
    ],
    [
      'add-label',
      () => {
        const k = r.pick(KEYS);
        c.labels[P + k] = r.pick(VALUE_POOL[k]);
      },
    ],
    [
      'steal-host',
      () => {
        c.labels[`${P}hosts`] =
          `${c.labels[`${P}hosts`] ?? '{{SELF}}'},${r.pick(['{{VALID}}', '{{VALID_TLS}}', '{{VALID_PT}}', '{{VALID_PT_ONLY}}', '{{VALID_CTX}}', '{{VALID_UPPER}}', '{{VALID_REDIR_SRC}}'])}`;
      },
    ],
    [
      'confusable',
      () => {
        const k = anyKey();
        const v = c.labels[k] ?? '';
        const spots = [...v].map((ch, i) => [ch, i] as const).filter(([ch]) => CONFUSABLES[ch]);
        if (spots.length === 0) return;
        const [ch, i] = r.pick(spots);
        const chars = [...v];
        chars[i] = r.pick(CONFUSABLES[ch]!);
        c.labels[k] = chars.join('');
      },
    ],
    [
      'huge',
      () => {
        const k = anyKey();
        const unit = c.labels[k] || 'a';
        c.labels[k] = unit.repeat(Math.ceil((3000 + r.int(8000)) / unit.length)).slice(0, 3000 + r.int(8000));
      },
    ],
    [
      'case-flip',
      () => {
        const k = anyKey();
        const v = c.labels[k] ?? '';
        c.labels[k] = [...v].map((ch) => (r.chance(0.5) ? ch.toUpperCase() : ch.toLowerCase())).join('');
      },
    ],
    [
      'random-chars',
      () => {
        const k = anyKey();
        c.labels[k] = Array.from({ length: 1 + r.int(40) }, () => (r.chance(0.7) ? String.fromCharCode(0x20 + r.int(95)) : r.pick(HOSTILE_SNIPPETS))).join('');
      },
    ],
    [
      'networks',
      () => {
        const pick = r.int(4);
        if (pick === 0) c.attach = [NET.front.name, NET.back.name];
        else if (pick === 1) c.attach = [];
        else if (pick === 2) c.attach = [NET.bridge.name];
        else c.attach = [NET.ingress.name];
      },
    ],
    [
      'vip',
      () => {
        c.endpointMode = 'vip';
        c.labels[`${P}backend_mode`] = 'vip';
      },
    ],
  ];
  const applied: string[] = [];
  const n = 1 + r.int(3);
  // A third of the sets stay inside the label grammar: values the decoder accepts must render to valid nginx.
  const validOnly = r.chance(0.33);
  for (let i = 0; i < n; i++) {
    if (validOnly || r.chance(0.15)) {
      validFuzz(r, c);
      applied.push('valid-fuzz');
      continue;
    }
    const [name, op] = r.pick(ops);
    op();
    applied.push(name);
  }
  return applied;
}

function generated(count: number): AdversarialCase[] {
  const r = new Rng(SEED);
  const out: AdversarialCase[] = [];
  for (let i = 0; i < count; i++) {
    const c = generateValidish(r);
    const ops = mutate(r, c);
    const gc: AdversarialCase = { id: `g${String(i).padStart(4, '0')}`, name: `generated #${i} (${ops.join(', ')})`, labels: c.labels, expect: 'any', codes: [] };
    if (c.attach) gc.attach = c.attach;
    if (c.tasks !== undefined) gc.tasks = c.tasks;
    if (c.endpointMode) gc.endpointMode = c.endpointMode;
    out.push(gc);
  }
  return out;
}

// ---------------------------------------------------------------- reading the published config back

interface Stmt {
  args: string[];
  block?: Stmt[];
}

/** nginx.conf → statements (words unquoted, comments dropped). Enough for what the generator emits. */
function parseNginx(text: string): Stmt[] {
  let i = 0;
  const word = (): string => {
    let w = '';
    const q = text[i];
    if (q === '"' || q === "'") {
      i++;
      while (i < text.length && text[i] !== q) {
        if (text[i] === '\\' && i + 1 < text.length) {
          const n = text[i + 1]!;
          w += n === 'n' ? '\n' : n === 't' ? '\t' : n === 'r' ? '\r' : n === '"' || n === "'" || n === '\\' ? n : `\\${n}`;
          i += 2;
        } else w += text[i++];
      }
      i++;
      return w;
    }
    while (i < text.length && !/[\s;{}]/.test(text[i]!)) w += text[i++];
    return w;
  };
  const block = (): Stmt[] => {
    const out: Stmt[] = [];
    let args: string[] = [];
    while (i < text.length) {
      const ch = text[i]!;
      if (/\s/.test(ch)) {
        i++;
      } else if (ch === '#') {
        while (i < text.length && text[i] !== '\n') i++;
      } else if (ch === ';') {
        out.push({ args });
        args = [];
        i++;
      } else if (ch === '{') {
        i++;
        out.push({ args, block: block() });
        args = [];
      } else if (ch === '}') {
        i++;
        return out;
      } else {
        args.push(word());
      }
    }
    return out;
  };
  return block();
}

interface Published {
  servers: { listen: string[][]; names: string[]; returnAll?: string[]; locations: { args: string[]; proxyPass?: string; ret?: string[] }[] }[];
  upstreams: Map<string, string[]>;
  streamUpstreams: Map<string, string[]>;
  passthroughMap: Map<string, string>;
  /** Behind the edge: the TLS front's certificate map (host → files), else null. */
  frontCertificates: Map<string, string> | null;
}

function readPublished(text: string): Published {
  const top = parseNginx(text);
  const find = (list: Stmt[] | undefined, name: string) => (list ?? []).filter((s) => s.args[0] === name);
  const http = find(top, 'http')[0]?.block;
  const stream = find(top, 'stream')[0]?.block;
  const ups = (list: Stmt[] | undefined) => new Map(find(list, 'upstream').map((u) => [u.args[1]!, find(u.block, 'server').map((s) => s.args[1]!)]));
  const servers = find(http, 'server').map((s) => ({
    listen: find(s.block, 'listen').map((l) => l.args.slice(1)),
    names: find(s.block, 'server_name').flatMap((n) => n.args.slice(1)),
    ...(find(s.block, 'return')[0] ? { returnAll: find(s.block, 'return')[0]!.args.slice(1) } : {}),
    locations: find(s.block, 'location').map((l) => {
      const pass = find(l.block, 'proxy_pass')[0]?.args[1];
      const ret = find(l.block, 'return')[0]?.args.slice(1);
      return { args: l.args.slice(1), ...(pass ? { proxyPass: pass } : {}), ...(ret ? { ret } : {}) };
    }),
  }));
  const passthroughMap = new Map<string, string>();
  for (const m of find(stream, 'map')) {
    if (m.args[2] !== '$signalbox_passthrough') continue;
    for (const e of m.block ?? []) if (e.args[0] !== 'hostnames' && e.args[0] !== 'default') passthroughMap.set(e.args[0]!.replace(/^\\/, ''), e.args[1]!);
  }
  const front = find(http, 'map').find((m) => m.args[2] === '$signalbox_tls_certificate');
  const frontCertificates = front ? new Map((front.block ?? []).filter((e) => e.args[0] !== 'hostnames' && e.args[0] !== 'default').map((e) => [e.args[0]!.replace(/^\\/, ''), e.args[1]!])) : null;
  return { servers, upstreams: ups(http), streamUpstreams: ups(stream), passthroughMap, frontCertificates };
}

/** Where `valid` must be routed in the published config; returns what is wrong. */
function checkValidRouted(pub: Published, valid: ValidService, snap: ServiceSnapshot): string[] {
  const problems: string[] = [];
  const addrs = new Set<string>();
  if (snap.endpointMode === 'vip') for (const v of snap.vips) addrs.add(v.addr);
  else if (snap.tasks.length > 0 && snap.tasks[0]!.addresses.length === 0) addrs.add(NODE.addr);
  else for (const t of snap.tasks) for (const a of t.addresses) addrs.add(a.addr);
  const feeds = (servers: string[] | undefined) => (servers ?? []).some((s) => addrs.has(s.replace(/:\d+$/, '')));
  const upstreamOf = (proxyPass: string | undefined) => proxyPass?.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  for (const r of valid.routes) {
    // HTTPS servers listen with ssl, or behind the edge in plain HTTP on the TLS front's request socket.
    const https = (l: string[]) => l.includes('ssl') || l[0]!.startsWith('unix:');
    const server = pub.servers.find((s) => s.names.includes(r.host) && s.listen.some(https) === r.https);
    if (!server) {
      problems.push(`${valid.shape.name}: no ${r.https ? 'https' : 'http'} server for ${r.host}`);
      continue;
    }
    if (r.https && pub.frontCertificates && !pub.frontCertificates.has(r.host)) problems.push(`${valid.shape.name}: no certificate for ${r.host} in the TLS front's map`);
    if (server.returnAll) {
      problems.push(`${valid.shape.name}: ${r.host} answers "return ${server.returnAll.join(' ')}" for every request`);
      continue;
    }
    const want = r.path === '/' ? ['/'] : [`${r.path}/`];
    const loc = server.locations.find((l) => l.args.length === 1 && want.includes(l.args[0]!));
    if (!loc?.proxyPass) {
      problems.push(`${valid.shape.name}: ${r.host} has no proxying location ${want[0]} (${loc ? `return ${loc.ret?.join(' ')}` : 'missing'})`);
      continue;
    }
    if (!feeds(pub.upstreams.get(upstreamOf(loc.proxyPass) ?? ''))) problems.push(`${valid.shape.name}: ${r.host}${r.path} proxies to ${loc.proxyPass}, which holds none of its tasks`);
  }
  for (const host of valid.passthrough) {
    const up = pub.passthroughMap.get(host);
    if (!up || !feeds(pub.streamUpstreams.get(up))) problems.push(`${valid.shape.name}: passthrough host ${host} does not reach its tasks`);
  }
  if (valid.defaultBackend) {
    const def = pub.servers.find((s) => s.listen.some((l) => l.includes('default_server') && !l.includes('ssl')));
    const loc = def?.locations.find((l) => l.args.length === 1 && l.args[0] === '/');
    if (!loc?.proxyPass || !feeds(pub.upstreams.get(upstreamOf(loc.proxyPass) ?? ''))) problems.push(`${valid.shape.name}: the default backend is not routed to it`);
  }
  if (valid.httpsRedirect) {
    const server = pub.servers.find((s) => s.names.includes(valid.httpsRedirect!) && !s.listen.some((l) => l.includes('ssl')));
    const loc = server?.locations.find((l) => l.args.length === 1 && l.args[0] === '/');
    if (server?.returnAll || !loc?.ret || loc.ret[0] !== '302' || !loc.ret[1]?.startsWith('https://')) {
      problems.push(`${valid.shape.name}: plain HTTP to ${valid.httpsRedirect} does not redirect to https (${JSON.stringify(server?.returnAll ?? loc?.ret ?? 'no server')})`);
    }
  }
  if (valid.redirect) {
    const server = pub.servers.find((s) => s.names.includes(valid.redirect!.host) && !s.listen.some((l) => l.includes('ssl')));
    if (!server?.returnAll || !server.returnAll.join(' ').startsWith(`302 ${valid.redirect.target}`)) {
      problems.push(`${valid.shape.name}: ${valid.redirect.host} does not redirect to ${valid.redirect.target} (${JSON.stringify(server?.returnAll ?? server?.locations.slice(0, 3))})`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------- pipeline plumbing

class CountingValidator implements ConfigValidator {
  runs = 0;
  constructor(private readonly inner: ConfigValidator) {}
  validate(...args: Parameters<ConfigValidator['validate']>) {
    this.runs++;
    return this.inner.validate(...args);
  }
}

function extensionConfigs(): { default: ExtensionConfig; blue: ExtensionConfig; targets: ClusterTarget[] } {
  const text = `${readFileSync(path.join(REPO, 'deploy/config.toml'), 'utf8')}
[Extensions.blue]
Image = "signalbox-extension:local"
ProxyImage = "signalbox-proxy:local"
ServiceName = "signalbox-extension-blue"
ProxyServiceName = "signalbox-proxy-blue"
ServiceCluster = "blue"
PublishMode = "host"
PublishedPort = 9080
PublishedSSLPort = 9443
`;
  const parsed = parseConfig(text);
  if (!parsed.ok) throw new Error(`test config does not parse: ${JSON.stringify(parsed.errors)}`);
  const ex = parsed.config.Extensions;
  const targets = Object.entries(ex).map(([name, e]) => ({ name, serviceCluster: e.ServiceCluster, networks: e.Networks }));
  return { default: ex.default!, blue: ex.blue!, targets };
}

// ---------------------------------------------------------------- the test

test(`${TOTAL} adversarial label sets never break the published config or a valid service`, async () => {
  const started = Date.now();
  const { default: extDefault, blue: extBlue, targets } = extensionConfigs();
  const validator = new CountingValidator(new NginxValidator());
  const make = () => {
    const served = new ServedConfigState();
    const publisher = new MemoryPublisher();
    const pipeline = new Pipeline({
      render: renderNginxConf,
      validator,
      publisher,
      served,
      log: createLogger('adversarial', 'silent'),
      renderOptions: { proxyId: 'adversarial', streamModulePath: STREAM_MODULE },
      allowedModules: [STREAM_MODULE],
    });
    return { pipeline, served };
  };
  const pipes = { default: make(), blue: make() };

  const hand = loadHandWritten();
  expect(hand.length).toBeGreaterThanOrEqual(100);
  const cases = [...hand, ...generated(Math.max(0, TOTAL - hand.length))];

  const problems: string[] = [];
  const problem = (p: string) => {
    if (problems.length < 200) problems.push(p);
  };
  let rejected = 0;
  let enabled = 0;
  let ignored = 0;
  let batches = 0;
  let independentChecks = 0;
  let slowest = { ms: 0, id: '' };
  const codeCounts = new Map<string, number>();

  for (let start = 0; start < cases.length; start += ADVERSARIAL_PER_BATCH) {
    const batch = batches++;
    const chunk = cases.slice(start, start + ADVERSARIAL_PER_BATCH);
    const { services: valid, hosts } = validServices(batch);
    const addrs = new Addresses();
    const validSnaps = valid.map((v) => serviceSnapshot(v.shape, addrs));
    const advSnaps: { c: AdversarialCase; snap: ServiceSnapshot }[] = chunk.map((c, i) => {
      const self = `${c.id}.b${batch}.adv.test`;
      const vars: Record<string, string> = { ...hosts, ADV: self, ADV2: `${c.id}-2.b${batch}.adv.test`, SELF: self };
      const labels = Object.fromEntries(Object.entries(c.labels).map(([k, v]) => [expand(k, vars), expand(v, vars)]));
      const shape: ServiceShape = { name: `sbx-adv-${c.id}`, labels, createdAt: createdAt(1000 + i), tasks: c.tasks ?? 1 };
      if (c.attach) shape.attach = c.attach;
      if (c.endpointMode) shape.endpointMode = c.endpointMode;
      if (c.publish !== undefined) shape.publish = c.publish;
      return { c, snap: serviceSnapshot(shape, addrs) };
    });

    // The decoder alone: never throws, never slow.
    for (const { c, snap } of advSnaps) {
      const t0 = performance.now();
      const d = decodeLabels(snap.labels);
      const ms = performance.now() - t0;
      if (ms > slowest.ms) slowest = { ms, id: `${c.id} ${c.name}` };
      if (ms > MAX_DECODE_MS) problem(`${c.id} ${c.name}: decodeLabels took ${ms.toFixed(0)} ms`);
      if (d.status === 'rejected' && d.errors.some((e) => e.code === 'ERR_LABEL_INTERNAL')) problem(`${c.id} ${c.name}: ${JSON.stringify(d.errors)}`);
    }

    const snapshot: SwarmSnapshot = {
      services: [...validSnaps, ...advSnaps.map((a) => a.snap)],
      networks: NETWORKS,
      secrets: SECRETS,
      nodes: [NODE],
    };
    const models = buildClusterModels(snapshot, targets);
    const statuses = new Map<string, ServiceStatus>();
    for (const m of models.values()) for (const s of m.services) statuses.set(s.id, s);

    // (c) every rejection explains itself.
    for (const s of statuses.values()) {
      if (s.status !== 'disabled') continue;
      if (s.errors.length === 0) problem(`${s.name}: disabled without an error`);
      for (const e of s.errors) {
        if (!/^ERR_[A-Z_]+$/.test(e.code) || !e.key || !e.message) problem(`${s.name}: incomplete diagnostic ${JSON.stringify(e)}`);
        codeCounts.set(e.code, (codeCounts.get(e.code) ?? 0) + 1);
      }
    }

    // Per-case expectations of the hand-written corpus.
    for (const { c, snap } of advSnaps) {
      const st = statuses.get(snap.id);
      const state = st === undefined ? 'ignored' : st.status === 'disabled' ? 'rejected' : 'enabled';
      if (state === 'rejected') rejected++;
      else if (state === 'enabled') enabled++;
      else ignored++;
      if (c.expect !== 'any' && state !== c.expect) {
        problem(`${c.id} ${c.name}: expected ${c.expect}, got ${state}${st?.errors.length ? ` (${st.errors.map((e) => `${e.code} ${e.message}`).join('; ')})` : ''}`);
      }
      const codes = new Set((st?.errors ?? []).map((e) => e.code));
      const missing = c.codes.filter((code) => !codes.has(code));
      if (missing.length > 0) problem(`${c.id} ${c.name}: missing ${missing.join(', ')} (got ${[...codes].join(', ') || 'none'})`);
    }

    // (b, first half) valid services are enabled in the model.
    for (const v of valid) {
      const st = [...statuses.values()].find((s) => s.name === v.shape.name);
      if (st?.status !== 'enabled') problem(`batch ${batch}: valid service ${v.shape.name} is ${st?.status ?? 'missing'}: ${JSON.stringify(st?.errors)}`);
    }

    // Through the pipeline, per cluster.
    for (const [name, ext, pipe] of [
      ['default', extDefault, pipes.default],
      ['blue', extBlue, pipes.blue],
    ] as const) {
      const model: ClusterModel = models.get(name)!;
      const runsBefore = validator.runs;
      let res: PipelineResult;
      try {
        res = await pipe.pipeline.process(model, ext);
      } catch (e) {
        problem(`batch ${batch} (${name}): the pipeline threw: ${(e as Error).message}`);
        continue;
      }
      const runs = validator.runs - runsBefore;
      // (d) nothing excluded, one nginx -t for the whole batch.
      if (res.outcome !== 'published' && res.outcome !== 'unchanged') problem(`batch ${batch} (${name}): outcome ${res.outcome}: ${res.error}`);
      if (res.excluded.length > 0) problem(`batch ${batch} (${name}): bisection excluded ${JSON.stringify(res.excluded)}`);
      if (runs > 1) problem(`batch ${batch} (${name}): ${runs} nginx -t runs (bisection)`);
      const text = pipe.served.get()?.text;
      if (text === undefined) {
        problem(`batch ${batch} (${name}): nothing published`);
        continue;
      }
      // (a) independently: the published bytes pass nginx -t and the policy.
      const check = await nginxCheck(text, { secretsDir: SECRETS_DIR });
      independentChecks++;
      if (!check.ok) problem(`batch ${batch} (${name}): published config fails nginx -t: ${check.output}`);
      const policy = checkPolicy(text, { allowedModules: [STREAM_MODULE] });
      if (policy.length > 0) problem(`batch ${batch} (${name}): policy: ${policy.join('; ')}`);
      // (b, second half) every valid service is routed to its tasks.
      const pub = readPublished(text);
      valid.forEach((v, i) => {
        if ((v.blue === true) !== (name === 'blue')) return;
        for (const p of checkValidRouted(pub, v, validSnaps[i]!)) problem(`batch ${batch} (${name}): ${p}`);
      });
    }
  }

  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const topCodes = [...codeCounts.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([c, n]) => `${c}=${n}`)
    .join(' ');
  console.log(
    `adversarial: ${cases.length} label sets (${hand.length} hand-written, ${cases.length - hand.length} generated, seed ${SEED}); ` +
      `${rejected} rejected, ${enabled} enabled, ${ignored} ignored; ${batches} batches; ${validator.runs} pipeline nginx -t runs + ` +
      `${independentChecks} independent; slowest decode ${slowest.ms.toFixed(1)} ms; ${seconds} s\n  codes: ${topCodes}`,
  );
  expect(problems).toEqual([]);
});
