// ACME against a real CA (Debian's pebble on loopback): HTTP-01 answered by the extension's own
// challenge route, certificates issued and chained to pebble's root, stored sealed and restored without
// a new order, one host's refusal not blocking another, and renewal once a short lifetime runs down.
import { X509Certificate } from 'node:crypto';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { createLogger } from '@signalbox/protocol';
import { AcmeManager, type AcmePolicy, type Orderer } from '../src/acme/manager.js';
import { ChallengeStore, createOrderer } from '../src/acme/orderer.js';
import { AcmeStore, type AcmeBackend, type StoredObject } from '../src/acme/store.js';
import { ServedConfigState } from '../src/served-config.js';
import { buildServer } from '../src/server.js';
import { freePort } from './helpers/free-port.js';
import { startPebble, type Pebble } from './helpers/pebble.js';

const log = createLogger('test', 'silent');
const TOKEN = 'x'.repeat(40);
const VALIDITY_S = 45;

/** The swarm's config objects, as a list (the Docker backend is exercised on the real swarm by e2e). */
class MemoryBackend implements AcmeBackend {
  readonly objects = new Map<string, StoredObject>();
  async list(extension: string): Promise<StoredObject[]> {
    return [...this.objects.values()].filter((o) => o.labels['com.signalbox.acme.extension'] === extension);
  }
  async create(obj: StoredObject): Promise<void> {
    this.objects.set(obj.name, obj);
  }
  async remove(name: string): Promise<void> {
    this.objects.delete(name);
  }
}

// A 10-minute first retry: far beyond this test, so "not tried again yet" cannot depend on the machine's speed.
const POLICY: AcmePolicy = { renewBeforeMs: 720 * 3600_000, retry: { initialMs: 600_000, maxMs: 3600_000 }, orderTimeoutMs: 60_000, concurrency: 4 };
// The restarted extension retries a failed order within a second: a renewal that fails once on a loaded
// machine (CI, 1 Dec 2026: the serial was unchanged after one tick) is tried again, as in production.
const RESTARTED_POLICY: AcmePolicy = { ...POLICY, retry: { initialMs: 1000, maxMs: 2000 } };

let pebble: Pebble;
let server: FastifyInstance;
const challenges = new ChallengeStore();

beforeAll(async () => {
  const httpPort = await freePort();
  server = buildServer({ served: new ServedConfigState(), status: () => ({ excluded: [] }), registry: new Registry(), log, apiToken: TOKEN, challenges });
  await server.listen({ host: '127.0.0.1', port: httpPort });
  pebble = await startPebble({ httpPort, validitySeconds: VALIDITY_S, blocklist: ['blocked.acme.test'] });
}, 120_000);

afterAll(async () => {
  await pebble?.stop();
  await server?.close();
});

async function waitFor(what: string, cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('issues pebble certificates over HTTP-01, stores them sealed, restores them without ordering, isolates a refused host, renews', async () => {
  const backend = new MemoryBackend();
  const store = new AcmeStore(backend, 'default', { key: { material: Buffer.from('k'.repeat(64)), name: 'test key' }, legacyApiToken: TOKEN });
  const orderer = await createOrderer({
    directoryUrl: pebble.directoryUrl,
    email: 'ops@example.test',
    caBundle: pebble.listenerCaPem,
    challenges,
    account: undefined,
    saveAccount: (a) => store.saveAccount(a),
  });
  const ordered: string[] = [];
  const counting: Orderer = (host) => {
    ordered.push(host);
    return orderer(host);
  };
  const issued: string[] = [];
  const manager = new AcmeManager({ orderer: counting, save: (r) => store.saveCertificate(r), policy: POLICY, log, onIssued: (h) => issued.push(h) });
  manager.setHosts(['a.acme.test', 'b.acme.test', 'blocked.acme.test']);
  const started = Date.now();
  manager.tick();
  await manager.idle();

  // Issued for the two allowed hosts, chained to pebble's issuing root; the blocked one failed on its own.
  expect(issued.sort()).toEqual(['a.acme.test', 'b.acme.test']);
  const certs = manager.certificates();
  expect([...certs.keys()].sort()).toEqual(['a.acme.test', 'b.acme.test']);
  const root = new X509Certificate(await pebble.issuerRootPem());
  for (const [host, rec] of certs) {
    const chain = rec.certPem.split(/(?=-----BEGIN CERTIFICATE-----)/).map((p) => new X509Certificate(p));
    expect(chain[0]!.checkHost(host)).toBe(host);
    expect(chain[chain.length - 1]!.verify(root.publicKey)).toBe(true);
  }
  const blocked = manager.status().find((s) => s.host === 'blocked.acme.test')!;
  expect(blocked.state).toBe('failed');
  expect(blocked.failures).toBe(1);
  expect(blocked.error).toMatch(/rejectedIdentifier|blocked|policy/i);
  // Backoff: the next try is RetryInitial (±20 % jitter) after the failure, and not before.
  expect(Date.parse(blocked.nextAt!) - started).toBeGreaterThanOrEqual(0.8 * 600_000);
  manager.tick();
  await manager.idle();
  expect(ordered.filter((h) => h === 'blocked.acme.test')).toHaveLength(1);

  // At rest: one account and one certificate per host, none readable without the token.
  const objects = [...backend.objects.values()];
  expect(objects.map((o) => o.labels['com.signalbox.acme.kind']).sort()).toEqual(['account', 'certificate', 'certificate']);
  for (const o of objects) expect(o.data).not.toMatch(/PRIVATE KEY|CERTIFICATE/);
  expect((await new AcmeStore(backend, 'default', { key: { material: Buffer.from('y'.repeat(64)), name: 'other key' }, legacyApiToken: TOKEN }).load()).unreadable).toHaveLength(3);

  // A restarted extension: same account, certificates back from the store, nothing ordered.
  const loaded = await store.load();
  expect(loaded.account?.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);
  const before = ordered.length;
  const renewedHosts: string[] = [];
  const restarted = new AcmeManager({ orderer: counting, save: (r) => store.saveCertificate(r), policy: RESTARTED_POLICY, log, onIssued: (h) => renewedHosts.push(h) });
  restarted.restore(loaded.certificates.values());
  restarted.setHosts(['a.acme.test', 'b.acme.test']);
  restarted.tick();
  await restarted.idle();
  expect(ordered.length).toBe(before);
  expect(restarted.certificates().get('a.acme.test')?.certPem).toBe(certs.get('a.acme.test')!.certPem);
  expect(restarted.status().map((s) => s.state)).toEqual(['valid', 'valid']);
  // Its orderer finds the stored account by its key (no second account, nothing saved again).
  const accountObjects = [...backend.objects.keys()].filter((n) => n.startsWith('signalbox-acme-account-'));
  const savedAccounts: string[] = [];
  await createOrderer({
    directoryUrl: pebble.directoryUrl,
    email: 'ops@example.test',
    caBundle: pebble.listenerCaPem,
    challenges,
    account: loaded.account,
    saveAccount: async (a) => void savedAccounts.push(a.url ?? ''),
  });
  expect(savedAccounts).toEqual([]);
  expect([...backend.objects.keys()].filter((n) => n.startsWith('signalbox-acme-account-'))).toEqual(accountObjects);

  // Renewal: at two thirds of the 45 s lifetime the next tick orders a new certificate, which replaces
  // the old one in the store (one object per host). Both hosts must be due (their dates may differ by a second).
  const oldSerial = new X509Certificate(certs.get('a.acme.test')!.certPem).serialNumber;
  const renewAtMs = Math.max(...restarted.status().map((h) => Date.parse(h.nextAt!)));
  await waitFor('renewal time', () => Date.now() >= renewAtMs, 60_000);
  // Tick until both hosts are renewed; an order that fails is retried a second later (RESTARTED_POLICY),
  // and what failed is printed so a failure has a cause.
  const failures = new Set<string>();
  const renewDeadline = Date.now() + 120_000;
  while (!(renewedHosts.includes('a.acme.test') && renewedHosts.includes('b.acme.test'))) {
    if (Date.now() > renewDeadline) throw new Error(`no renewal of both hosts within 120 s; renewed ${renewedHosts.join(', ') || 'none'}; failures: ${[...failures].join(' | ') || 'none'}`);
    restarted.tick();
    await restarted.idle();
    for (const h of restarted.status()) if (h.error) failures.add(`${h.host}: ${h.error}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  if (failures.size) console.log(`acme renewal: retried after ${[...failures].join(' | ')}`);
  const renewed = restarted.certificates().get('a.acme.test')!;
  expect(new X509Certificate(renewed.certPem).serialNumber).not.toBe(oldSerial);
  // Renewal ordered each host, and nothing else (a retried order names the same host again).
  expect([...new Set(ordered.slice(before))].sort()).toEqual(['a.acme.test', 'b.acme.test']);
  expect(renewedHosts.sort()).toEqual(['a.acme.test', 'b.acme.test']);
  const after = await store.load();
  expect(after.certificates.get('a.acme.test')!.certPem).toBe(renewed.certPem);
  expect([...backend.objects.values()].filter((o) => o.labels['com.signalbox.acme.host'] === 'a.acme.test')).toHaveLength(1);
}, 240_000);

test('the challenge route answers only known tokens and needs no API token; the rest of the API still does', async () => {
  challenges.set('tok-1', 'tok-1.thumb');
  const ok = await server.inject({ url: '/.well-known/acme-challenge/tok-1' });
  expect([ok.statusCode, ok.body]).toEqual([200, 'tok-1.thumb']);
  expect((await server.inject({ url: '/.well-known/acme-challenge/unknown' })).statusCode).toBe(404);
  expect((await server.inject({ url: '/.well-known/acme-challenge/a%2F..%2Fv1' })).statusCode).toBe(404);
  expect((await server.inject({ url: '/v1/status' })).statusCode).toBe(401);
  expect((await server.inject({ method: 'POST', url: '/.well-known/acme-challenge/tok-1' })).statusCode).toBe(401);
  challenges.delete('tok-1');
});
