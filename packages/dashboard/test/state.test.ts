// The page's decisions that need no DOM: where the token comes from, which labelled page a failed
// request leads to, what the search matches, and which banners say what is missing.
import { DASHBOARD_AUTH_CODES } from '@signalbox/protocol';
import type { DashboardAuthCode, DashboardPayload } from '../src/state.js';
import { ago, connectionAfterError, routeMatches, serviceMatches, takeToken, warnings } from '../src/state.js';

function memoryStorage() {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v) };
}

const payload = (over: Partial<DashboardPayload> = {}): DashboardPayload => ({
  version: 'v',
  meta: { coreStartedAt: '2026-01-01T00:00:00Z', lastSwarmReadAt: null, generatedAt: '2026-01-01T00:00:00Z' },
  routes: [],
  services: [],
  extensions: [
    {
      name: 'default',
      service: 'signalbox-extension',
      state: 'ok',
      error: null,
      serving: 'c1',
      servingSha256: 'a'.repeat(64),
      modelVersion: 'm',
      lastError: null,
    },
  ],
  proxies: [],
  models: [],
  configs: [],
  failures: [],
  ...over,
});

test('the token is taken from the #token= fragment and kept for the tab; without one there is none', () => {
  const s = memoryStorage();
  expect(takeToken({ hash: '' }, s)).toBeUndefined();
  expect(takeToken({ hash: '#token=a%2Bb' }, s)).toBe('a+b');
  expect(takeToken({ hash: '' }, s)).toBe('a+b');
});

test('401 and a missing token file lead to the access page; anything else to "control plane down", keeping its first time', () => {
  expect(connectionAfterError({ kind: 'live', since: 1 }, 401, { code: 'ERR_DASHBOARD_TOKEN_INVALID', message: 'm' }, 'x', 5)).toEqual({
    kind: 'denied',
    code: 'ERR_DASHBOARD_TOKEN_INVALID',
    message: 'm',
  });
  expect(connectionAfterError({ kind: 'live', since: 1 }, 503, { code: 'ERR_DASHBOARD_NO_TOKEN_FILE', message: 'm' }, 'x', 5).kind).toBe('denied');
  const down = connectionAfterError({ kind: 'live', since: 1 }, undefined, undefined, 'Failed to fetch', 5);
  expect(down).toEqual({ kind: 'down', since: 5, error: 'Failed to fetch' });
  expect(connectionAfterError(down, 502, undefined, 'Bad gateway', 9)).toEqual({
    kind: 'down',
    since: 5,
    error: 'Bad gateway',
  });
});

test('search finds a route by host or service and a service by name, host or error code', () => {
  const r = {
    extension: 'default',
    kind: 'http' as const,
    host: 'shop.example.test',
    path: '/',
    sslOnly: false,
    backendTls: false,
    services: ['shop_web'],
    servers: [],
    split: [],
  };
  expect(routeMatches('SHOP.example', r)).toBe(true);
  expect(routeMatches('shop_web', r)).toBe(true);
  expect(routeMatches('blog', r)).toBe(false);
  const s = {
    id: 'i',
    name: 'blog',
    cluster: '',
    status: 'disabled' as const,
    hosts: [],
    servers: 0,
    errors: [
      {
        code: 'ERR_LABEL_PORT_INVALID' as const,
        severity: 'error' as const,
        key: 'com.docker.lb.port',
        value: 'x',
        message: 'm',
      },
    ],
    warnings: [],
    since: '',
  };
  expect(serviceMatches('port_invalid', s)).toBe(true);
  expect(serviceMatches('', s)).toBe(true);
  expect(serviceMatches('shop', s)).toBe(false);
});

test('banners name an unreachable proxy task, an unreachable extension, and a cluster without proxies', () => {
  expect(warnings(payload())).toEqual(['No proxy task is running: no requests are being routed. See docker service ps signalbox-proxy.']);
  const proxy = {
    extension: 'default',
    service: 'signalbox-proxy',
    task: 'signalbox-proxy.1.abc',
    slot: 1,
    node: 'n1',
    addr: '10.0.0.5',
    config: null,
    sha256: null,
    installedAt: null,
    lastReloadAt: null,
    reloads: 0,
    reloadFailures: 0,
    nginxRestarts: 0,
    drainingWorkers: null,
    lastFailure: null,
  };
  const w = warnings(
    payload({
      extensions: [
        {
          name: 'default',
          service: 'signalbox-extension',
          state: 'unreachable',
          error: 'ECONNREFUSED',
          serving: null,
          servingSha256: null,
          modelVersion: null,
          lastError: null,
        },
      ],
      proxies: [
        { ...proxy, state: 'ok', error: null },
        {
          ...proxy,
          task: 'signalbox-proxy.2.def',
          state: 'unreachable',
          error: 'proxy agent at 10.0.0.6:8082 does not answer',
        },
      ],
    }),
  );
  expect(w).toEqual([
    'Extension signalbox-extension (default) does not answer: ECONNREFUSED. Config history and validation results are not current.',
    'Proxy task signalbox-proxy.2.def on n1 is unreachable: proxy agent at 10.0.0.6:8082 does not answer',
  ]);
});

test('ages read as people say them', () => {
  const now = Date.parse('2026-01-01T01:00:00Z');
  expect(ago(null, now)).toBe('never');
  expect(ago('2026-01-01T00:59:30Z', now)).toBe('30s ago');
  expect(ago('2026-01-01T00:00:00Z', now)).toBe('1h ago');
});

test('the access codes are a typed union: a misspelt code does not compile', () => {
  // @ts-expect-error 'ERR_DASHBOARD_TOKN_INVALID' is not a DashboardAuthCode (pnpm typecheck fails if this compiles)
  const misspelt: DashboardAuthCode = 'ERR_DASHBOARD_TOKN_INVALID';
  expect(DASHBOARD_AUTH_CODES).not.toContain(misspelt);
  for (const code of DASHBOARD_AUTH_CODES) {
    expect(connectionAfterError({ kind: 'connecting' }, 401, { code, message: 'm' }, 'x', 1)).toEqual({ kind: 'denied', code, message: 'm' });
  }
});
