// The order state machine without a CA: backoff per host, one host's failures never delaying another,
// renewal timing, and sealed storage round trips. (acme.int.test.ts runs the same against pebble.)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@signalbox/protocol';
import { AcmeManager, renewAt, type AcmePolicy, type IssuedPair } from '../src/acme/manager.js';
import { AcmeStore, Sealer, type AcmeBackend, type StoredObject } from '../src/acme/store.js';

const log = createLogger('test', 'silent');
const POLICY: AcmePolicy = { renewBeforeMs: 10 * 86400_000, retry: { initialMs: 1000, maxMs: 8000 }, orderTimeoutMs: 5000, concurrency: 2 };

function selfSigned(host: string, days: number): IssuedPair {
  const dir = mkdtempSync(join(tmpdir(), 'sbx-acme-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', String(days), '-subj', `/CN=${host}`, '-addext', `subjectAltName=DNS:${host}`, '-keyout', join(dir, 'k'), '-out', join(dir, 'c')], { stdio: 'ignore' });
    return { certPem: readFileSync(join(dir, 'c'), 'utf8'), keyPem: readFileSync(join(dir, 'k'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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

test('storage: sealed round trip per extension, newest certificate per host wins, tampering is detected', async () => {
  const backend = new MemoryBackend();
  const store = new AcmeStore(backend, 'default', 't'.repeat(40));
  const a = selfSigned('a.test', 30);
  await store.saveAccount({ keyPem: a.keyPem, url: 'https://ca.test/acct/1', directoryUrl: 'https://ca.test/dir' });
  await store.saveCertificate({ host: 'a.test', ...a, notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2026-02-01T00:00:00.000Z' });
  await store.saveCertificate({ host: 'a.test', ...a, notBefore: '2026-01-15T00:00:00.000Z', notAfter: '2026-03-01T00:00:00.000Z' });
  const loaded = await store.load();
  expect(loaded.account).toEqual({ keyPem: a.keyPem, url: 'https://ca.test/acct/1', directoryUrl: 'https://ca.test/dir' });
  expect(loaded.certificates.get('a.test')?.notAfter).toBe('2026-03-01T00:00:00.000Z');
  expect(backend.objects.size).toBe(2); // the older certificate of the host was removed
  for (const o of backend.objects.values()) expect(o.name.length).toBeLessThanOrEqual(64); // swarm's limit on names
  // Another extension's store (same token) cannot open these: the extension name is bound in.
  expect((await new AcmeStore(backend, 'other', 't'.repeat(40)).load()).certificates.size).toBe(0);
  const sealer = new Sealer('t'.repeat(40), 'default');
  const sealed = sealer.seal({ x: 1 });
  expect(sealer.open(sealed)).toEqual({ x: 1 });
  const flipped = `${sealed.slice(0, -6)}${sealed.slice(-6, -5) === 'A' ? 'B' : 'A'}${sealed.slice(-5)}`;
  expect(() => sealer.open(flipped)).toThrow();
  expect(() => new Sealer('u'.repeat(40), 'default').open(sealed)).toThrow();
});
