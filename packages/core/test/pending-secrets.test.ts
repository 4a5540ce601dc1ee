// Issue 15: a route on a certificate secret waits until every running proxy task mounts it (a task that
// started before the secret was added would refuse the config), and then it is published.
import type { ClusterModel, ServiceSnapshot, SwarmSnapshot, TaskSnapshot } from '@signalbox/model';
import { ExclusionStore } from '../src/exclusions.js';
import { pendingSecrets, withPendingSecrets } from '../src/pending-secrets.js';

const PROXY = 'signalbox-proxy';

const task = (id: string, secrets: string[]): TaskSnapshot => ({ id, nodeId: 'n1', slot: 1, addresses: [], secrets });

function proxy(tasks: TaskSnapshot[]): ServiceSnapshot {
  return { id: 'p', name: PROXY, labels: {}, createdAt: '', networkIds: [], endpointMode: 'dnsrr', vips: [], ports: [], tasks };
}

function snap(tasks: TaskSnapshot[] | undefined, secrets = ['a.crt', 'a.key', 'b.crt', 'b.key']): SwarmSnapshot {
  return {
    services: tasks ? [proxy(tasks)] : [],
    networks: [],
    secrets: secrets.map((name, i) => ({ id: `s${i}`, name })),
    nodes: [],
  };
}

const model = (proxySecrets: string[]): ClusterModel => ({
  cluster: '',
  virtualHosts: [],
  passthrough: [],
  redirects: [],
  services: [],
  proxyNetworks: [],
  proxySecrets,
});

test('a secret some running proxy task does not mount is pending; mounted by all, it is not', () => {
  const m = model(['a.crt', 'a.key', 'b.crt', 'b.key']);
  // Two running tasks, one started before b's secrets were added (a start-first roll in progress).
  expect(pendingSecrets(m, snap([task('new', ['signalbox-api-token-1', 'a.crt', 'a.key', 'b.crt', 'b.key']), task('old', ['a.crt', 'a.key'])]), PROXY)).toEqual(['b.crt', 'b.key']);
  // The old task has left (desired state shutdown: no longer in the running tasks).
  expect(pendingSecrets(m, snap([task('new', ['a.crt', 'a.key', 'b.crt', 'b.key'])]), PROXY)).toEqual([]);
});

test('nothing is pending without running proxy tasks, for a secret that does not exist, or for the API token secret', () => {
  const m = model(['a.crt', 'a.key', 'gone.crt', 'signalbox-api-token-1']);
  // Stop-first roll (no task running) or no proxy service yet: the tasks that start mount what the spec names.
  expect(pendingSecrets(m, snap([]), PROXY)).toEqual([]);
  expect(pendingSecrets(m, snap(undefined), PROXY)).toEqual([]);
  // gone.crt does not exist (the extension refuses its pair); the token is never mounted as a route's key.
  expect(pendingSecrets(m, snap([task('t', ['a.crt', 'a.key'])], ['a.crt', 'a.key', 'signalbox-api-token-1']), PROXY)).toEqual([]);
  // Another extension's proxy tasks do not count.
  expect(pendingSecrets(model(['a.crt']), snap([task('t', [])]), 'other-proxy')).toEqual([]);
});

test('withPendingSecrets sets the field only when something is pending, and clears a stale one', () => {
  const m = model(['a.crt']);
  expect(withPendingSecrets(m, snap([task('t', [])]), PROXY).pendingSecrets).toEqual(['a.crt']);
  const none = withPendingSecrets({ ...m, pendingSecrets: ['a.crt'] }, snap([task('t', ['a.crt'])]), PROXY);
  expect('pendingSecrets' in none).toBe(false);
  expect(withPendingSecrets(m, snap([task('t', ['a.crt'])]), PROXY)).toBe(m);
});

test('a pending service stays enabled in the status, with a warning naming the secret', () => {
  const store = new ExclusionStore();
  store.set('default', [
    { service: 'web', code: 'WARN_SECRET_PENDING', reason: 'waiting for the proxy tasks that mount secret "a.crt"' },
    { service: 'api', code: 'ERR_PROXY_REFUSED', reason: 'bad' },
  ]);
  const base = { cluster: '', status: 'enabled' as const, hosts: ['w.test'], servers: 2, errors: [], warnings: [] };
  const [web, api] = store.apply(
    [
      { ...base, id: '1', name: 'web' },
      { ...base, id: '2', name: 'api' },
    ],
    () => '',
  );
  expect(web).toMatchObject({ status: 'enabled', servers: 2, errors: [] });
  expect(web!.warnings).toEqual([{ code: 'WARN_SECRET_PENDING', severity: 'warning', key: 'com.docker.lb.ssl_cert', message: expect.stringContaining('secret "a.crt"') }]);
  expect(api).toMatchObject({ status: 'disabled', servers: 0 });
  expect(api!.errors[0]!.code).toBe('ERR_PROXY_REFUSED');
});
