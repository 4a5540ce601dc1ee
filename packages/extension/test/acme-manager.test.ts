// The order state machine without a CA: backoff per host, one host's failures never delaying another,
// renewal timing, and the sealed store (its own key, so a token rotation keeps it; re-sealing; a wrong
// key). (acme.int.test.ts runs the same against pebble.)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterModel } from '@signalbox/model';
import { parseConfig } from '@signalbox/model';
import { createLogger } from '@signalbox/protocol';
import { selfSigned as makeSelfSigned } from '@signalbox/test-support';
import { AcmeService } from '../src/acme/service.js';
import { AcmeManager, renewAt, type AcmePolicy, type IssuedPair } from '../src/acme/manager.js';
import { AcmeStore, Sealer, StoreKeyError, readStoreKey, type AcmeBackend, type StoreKey, type StoredObject } from '../src/acme/store.js';

const log = createLogger('test', 'silent');
const POLICY: AcmePolicy = { renewBeforeMs: 10 * 86400_000, retry: { initialMs: 1000, maxMs: 8000 }, orderTimeoutMs: 5000, concurrency: 2 };

function selfSigned(host: string, days: number): IssuedPair {
  const { cert, key } = makeSelfSigned({ dnsNames: [host], days });
  return { certPem: cert, keyPem: key };
}

class MemoryBackend implements AcmeBackend {
  readonly objects = new Map<string, StoredObject>();
  async list(extension: string) {
    return [...this.objects.values()].filter((o) => o.labels['com.signalbox.acme.extension'] === extension);
  }
  async create(obj: StoredObject) {
    this.objects.set(obj.name, obj);
  }
  async remove(name: string) {
    this.objects.delete(name);
  }
}

test('a failing host backs off exponentially (capped) while another host is issued at once', async () => {
  let now = 1_000_000;
  const calls: string[] = [];
  const good = selfSigned('good.test', 90);
  const m = new AcmeManager({
    orderer: async (host) => {
      calls.push(host);
      if (host === 'bad.test') throw new Error('urn:ietf:params:acme:error:rateLimited: too many certificates');
      return good;
    },
    save: async () => undefined,
    policy: POLICY,
    log,
    onIssued: () => undefined,
    now: () => now,
    random: () => 0.5, // no jitter
  });
  m.setHosts(['bad.test', 'good.test']);
  m.tick();
  await m.idle();
  expect(m.status().map((s) => [s.host, s.state, s.failures])).toEqual([
    ['bad.test', 'failed', 1],
    ['good.test', 'valid', 0],
  ]);
  expect(m.status()[0]!.error).toMatch(/rateLimited/);
  const waits: number[] = [];
  for (let i = 0; i < 5; i++) {
    const next = Date.parse(m.status()[0]!.nextAt!);
    waits.push(next - now);
    now = next - 1;
    m.tick(); // one millisecond early: nothing
    await m.idle();
    now = next;
    m.tick();
    await m.idle();
  }
  expect(waits).toEqual([1000, 2000, 4000, 8000, 8000]);
  expect(calls.filter((h) => h === 'good.test')).toHaveLength(1);
  expect(calls.filter((h) => h === 'bad.test')).toHaveLength(6);
  expect(m.certificates().has('good.test')).toBe(true);
  expect(m.certificates().has('bad.test')).toBe(false);
});

test('orders beyond the concurrency limit wait for the next tick; a hung order times out as a failure', async () => {
  const pending: ((p: IssuedPair) => void)[] = [];
  const m = new AcmeManager({
    orderer: () => new Promise<IssuedPair>((resolve) => pending.push(resolve)),
    save: async () => undefined,
    policy: { ...POLICY, orderTimeoutMs: 200 },
    log,
    onIssued: () => undefined,
  });
  m.setHosts(['a.test', 'b.test', 'c.test']);
  m.tick();
  expect(m.status().map((s) => s.state)).toEqual(['ordering', 'ordering', 'pending']);
  await m.idle();
  expect(m.status().map((s) => s.state)).toEqual(['failed', 'failed', 'pending']);
  expect(m.status()[0]!.error).toMatch(/no answer within/);
});

test('a certificate not matching the host or its key is a failed order, not a served certificate', async () => {
  const other = selfSigned('other.test', 30);
  const mine = selfSigned('mine.test', 30);
  const saved: string[] = [];
  const m = new AcmeManager({
    orderer: async (host) => (host === 'mine.test' ? { certPem: mine.certPem, keyPem: other.keyPem } : other),
    save: async (r) => void saved.push(r.host),
    policy: POLICY,
    log,
    onIssued: () => undefined,
  });
  m.setHosts(['mine.test', 'x.test']);
  m.tick();
  await m.idle();
  expect(m.status().map((s) => [s.host, s.state, s.error])).toEqual([
    ['mine.test', 'failed', 'the issued certificate does not match its key'],
    ['x.test', 'failed', 'the issued certificate is not for x.test'],
  ]);
  expect(saved).toEqual([]);
});

test('renewal time: RenewBefore before expiry, or two thirds of a short lifetime', () => {
  const rec = { host: 'h', certPem: '', keyPem: '', notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2026-04-01T00:00:00.000Z' };
  expect(new Date(renewAt(rec, 30 * 86400_000)).toISOString()).toBe('2026-03-02T00:00:00.000Z');
  const short = { ...rec, notAfter: '2026-01-01T00:00:30.000Z' };
  expect(new Date(renewAt(short, 30 * 86400_000)).toISOString()).toBe('2026-01-01T00:00:20.000Z');
});

const KEY: StoreKey = { material: Buffer.from('k'.repeat(64)), name: 'Docker secret signalbox-acme-store-key (test)' };
const TOKEN = 't'.repeat(40);

test('storage: sealed round trip per extension, newest certificate per host wins, tampering is detected', async () => {
  const backend = new MemoryBackend();
  const store = new AcmeStore(backend, 'default', { key: KEY, legacyApiToken: TOKEN });
  const a = selfSigned('a.test', 30);
  await store.saveAccount({ keyPem: a.keyPem, url: 'https://ca.test/acct/1', directoryUrl: 'https://ca.test/dir' });
  await store.saveCertificate({ host: 'a.test', ...a, notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2026-02-01T00:00:00.000Z' });
  await store.saveCertificate({ host: 'a.test', ...a, notBefore: '2026-01-15T00:00:00.000Z', notAfter: '2026-03-01T00:00:00.000Z' });
  const loaded = await store.load();
  expect(loaded.account).toEqual({ keyPem: a.keyPem, url: 'https://ca.test/acct/1', directoryUrl: 'https://ca.test/dir' });
  expect(loaded.certificates.get('a.test')?.notAfter).toBe('2026-03-01T00:00:00.000Z');
  expect(backend.objects.size).toBe(2); // the older certificate of the host was removed
  for (const o of backend.objects.values()) {
    expect(o.name.length).toBeLessThanOrEqual(64); // swarm's limit on names
    expect(o.labels['com.signalbox.acme.key-id']).toBe(store.keyId);
    expect(o.data).not.toMatch(/PRIVATE KEY|CERTIFICATE/);
  }
  // Another extension's store (same key) cannot open these: the extension name is bound in.
  expect((await new AcmeStore(backend, 'other', { key: KEY }).load()).certificates.size).toBe(0);
  const sealer = Sealer.fromStoreKey(KEY.material, 'default');
  const sealed = sealer.seal({ x: 1 });
  expect(sealer.open(sealed)).toEqual({ x: 1 });
  const flipped = `${sealed.slice(0, -6)}${sealed.slice(-6, -5) === 'A' ? 'B' : 'A'}${sealed.slice(-5)}`;
  expect(() => sealer.open(flipped)).toThrow();
  expect(() => Sealer.fromStoreKey(Buffer.from('u'.repeat(64)), 'default').open(sealed)).toThrow();
});

test('storage: a rotated API token keeps every record readable; no object is rewritten', async () => {
  const backend = new MemoryBackend();
  const before = new AcmeStore(backend, 'default', { key: KEY, legacyApiToken: TOKEN });
  const a = selfSigned('a.test', 30);
  await before.saveAccount({ keyPem: a.keyPem, url: 'https://ca.test/acct/1', directoryUrl: 'https://ca.test/dir' });
  await before.saveCertificate({ host: 'a.test', ...a, notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2026-03-01T00:00:00.000Z' });
  const names = [...backend.objects.keys()].sort();
  const after = await new AcmeStore(backend, 'default', { key: KEY, legacyApiToken: 'r'.repeat(40) }).load();
  expect(after.unreadable).toEqual([]);
  expect(after.account?.url).toBe('https://ca.test/acct/1');
  expect(after.certificates.get('a.test')?.certPem).toBe(a.certPem);
  expect(after.resealed).toBe(0);
  expect([...backend.objects.keys()].sort()).toEqual(names);
});

test('storage: records sealed under the API token (before the store key) are re-sealed under it, then survive a rotation', async () => {
  const backend = new MemoryBackend();
  // As the previous release wrote them: sealed with HKDF(API token), no key-id label.
  const legacy = Sealer.fromApiToken(TOKEN, 'default');
  const a = selfSigned('a.test', 30);
  const rec = { host: 'a.test', ...a, notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2026-03-01T00:00:00.000Z' };
  await backend.create({
    name: 'signalbox-acme-old-cert',
    labels: { 'com.signalbox.acme.extension': 'default', 'com.signalbox.acme.kind': 'certificate', 'com.signalbox.acme.host': 'a.test' },
    data: legacy.seal(rec),
  });
  await backend.create({
    name: 'signalbox-acme-account-old',
    labels: { 'com.signalbox.acme.extension': 'default', 'com.signalbox.acme.kind': 'account' },
    data: legacy.seal({ keyPem: a.keyPem, url: 'u', directoryUrl: 'd' }),
  });
  // Without a store key they can still be read (served), but nothing can be written.
  const keyless = new AcmeStore(backend, 'default', { key: new StoreKeyError('no key: create the secret'), legacyApiToken: TOKEN });
  const read = await keyless.load();
  expect(read.certificates.get('a.test')?.certPem).toBe(a.certPem);
  expect(read.resealed).toBe(0);
  await expect(keyless.saveCertificate(rec)).rejects.toThrow('no key: create the secret');

  const store = new AcmeStore(backend, 'default', { key: KEY, legacyApiToken: TOKEN });
  const loaded = await store.load();
  expect(loaded.resealed).toBe(2);
  expect(loaded.certificates.get('a.test')?.certPem).toBe(a.certPem);
  const objects = [...backend.objects.values()];
  expect(objects.map((o) => o.name)).not.toContain('signalbox-acme-old-cert');
  expect(objects.map((o) => o.labels['com.signalbox.acme.key-id'])).toEqual([store.keyId, store.keyId]);
  const rotated = await new AcmeStore(backend, 'default', { key: KEY, legacyApiToken: 'r'.repeat(40) }).load();
  expect(rotated.unreadable).toEqual([]);
  expect(rotated.account?.url).toBe('u');
  expect(rotated.certificates.get('a.test')?.certPem).toBe(a.certPem);
});

test('storage: a wrong store key is a clear error naming the key, not a crash; the objects it cannot open are kept', async () => {
  const backend = new MemoryBackend();
  const right = new AcmeStore(backend, 'default', { key: KEY, legacyApiToken: TOKEN });
  const a = selfSigned('a.test', 30);
  await right.saveCertificate({ host: 'a.test', ...a, notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2026-03-01T00:00:00.000Z' });
  const original = [...backend.objects.keys()];
  const wrong = new AcmeStore(backend, 'default', { key: { material: Buffer.from('w'.repeat(64)), name: 'Docker secret ops-key (test)' }, legacyApiToken: TOKEN });
  const loaded = await wrong.load();
  expect(loaded.certificates.size).toBe(0);
  expect(loaded.unreadable).toHaveLength(1);
  expect(loaded.unreadable[0]).toMatchObject({ name: original[0], kind: 'certificate', host: 'a.test' });
  expect(loaded.unreadable[0]!.reason).toBe(
    `sealed under store key ${right.keyId}, but the Docker secret ops-key (test) is key ${wrong.keyId}: put the secret that sealed it back, or remove the object (its host is ordered again)`,
  );
  // Its host gets a new certificate under the wrong key; the original object stays for the operator.
  await wrong.saveCertificate({ host: 'a.test', ...a, notBefore: '2026-01-02T00:00:00.000Z', notAfter: '2026-03-02T00:00:00.000Z' });
  expect([...backend.objects.keys()]).toEqual(expect.arrayContaining(original));
  expect(backend.objects.size).toBe(2);
  // Putting the right key back opens the original again.
  expect((await right.load()).certificates.get('a.test')?.notAfter).toBe('2026-03-01T00:00:00.000Z');
});

test('storage: the store key file is read and checked; a missing or short one names the secret and the fix', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbx-acme-key-'));
  try {
    writeFileSync(join(dir, 'key'), `${'ab'.repeat(32)}\n`);
    const key = readStoreKey(join(dir, 'key'), 'signalbox-acme-store-key', 'default');
    expect(key.material.toString()).toBe('ab'.repeat(32));
    expect(key.name).toBe(`Docker secret signalbox-acme-store-key (config.toml Extensions.default.Acme.StoreKeySecret, mounted at ${join(dir, 'key')})`);
    expect(() => readStoreKey(join(dir, 'none'), 'ops-key', 'edge')).toThrow(
      /^the ACME store key, Docker secret ops-key \(config\.toml Extensions\.edge\.Acme\.StoreKeySecret, mounted at .*\), cannot be read \(ENOENT\): create it once with `head -c 32 \/dev\/urandom .* docker secret create ops-key -`/,
    );
    writeFileSync(join(dir, 'short'), 'abc\n');
    expect(() => readStoreKey(join(dir, 'short'), 'ops-key', 'edge')).toThrow(StoreKeyError);
    expect(() => readStoreKey(join(dir, 'short'), 'ops-key', 'edge')).toThrow(/has 3 bytes; it needs at least 32/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without a store key no order is placed: every ACME host fails with the message naming the secret to create', async () => {
  const created: string[] = [];
  const service = new AcmeService({
    store: new AcmeStore(new MemoryBackend(), 'default', { key: new StoreKeyError('the ACME store key, Docker secret signalbox-acme-store-key (…), cannot be read (ENOENT): create it once with …') }),
    log,
    onIssued: () => undefined,
    createOrderer: async (o) => {
      created.push(o.directoryUrl);
      return async () => selfSigned('never.test', 1);
    },
  });
  try {
    const cfg = parseConfig('[Extensions.default]\n[Extensions.default.Acme]\nDirectoryURL = "https://ca.test/dir"\n');
    if (!cfg.ok) throw new Error('config');
    const model: ClusterModel = { cluster: '', virtualHosts: [], passthrough: [], redirects: [], services: [], proxyNetworks: [], proxySecrets: [], acmeHosts: ['a.test', 'b.test'] };
    await service.apply(model, cfg.config.Extensions.default!.Acme);
    const deadline = Date.now() + 10_000;
    while (!service.status().every((s) => s.state === 'failed') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(service.status().map((s) => [s.host, s.state, s.error])).toEqual([
      ['a.test', 'failed', expect.stringMatching(/^the ACME store key, Docker secret signalbox-acme-store-key .* create it once/)],
      ['b.test', 'failed', expect.stringMatching(/^the ACME store key, Docker secret signalbox-acme-store-key .* create it once/)],
    ]);
    expect(created).toEqual([]);
    expect(service.storeStatus()).toMatchObject({ key: '', problem: expect.stringMatching(/^the ACME store key/), unreadable: [] });
  } finally {
    service.stop();
  }
});
