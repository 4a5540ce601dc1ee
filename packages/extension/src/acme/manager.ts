// The certificate of each ACME host: restored from the store, ordered when missing, renewed before expiry,
// and retried with capped exponential backoff after a failure. Every host has its own state and its own
// order, so a rate limit or CA error for one host never delays or blocks another.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { BackoffPolicy, Logger } from '@signalbox/protocol';
import { backoffDelay } from '@signalbox/protocol';
import type { CertificateRecord } from './store.js';

export interface IssuedPair {
  certPem: string;
  keyPem: string;
}

/** Obtains a certificate for one host (HTTP-01); throws with the CA's reason when it cannot. */
export type Orderer = (host: string) => Promise<IssuedPair>;

export interface AcmePolicy {
  /** Renew this long before notAfter, or at two thirds of the lifetime if that comes first. */
  renewBeforeMs: number;
  retry: BackoffPolicy;
  /** An order that takes longer than this counts as failed (the CA or the challenge path hangs). */
  orderTimeoutMs: number;
  /** Orders in flight at once, across hosts. */
  concurrency: number;
}

// Declared once on the wire: the extension's GET /v1/status carries them.
export type { AcmeHostState, AcmeHostStatus } from '@signalbox/protocol';
import type { AcmeHostStatus } from '@signalbox/protocol';

interface Entry {
  host: string;
  cert?: CertificateRecord;
  inFlight?: Promise<void>;
  failures: number;
  nextTryAt: number;
  error?: string;
}

export interface AcmeManagerDeps {
  orderer: Orderer;
  save: (rec: CertificateRecord) => Promise<void>;
  policy: AcmePolicy;
  log: Logger;
  /** Called after a certificate was issued and stored (the served config must change). */
  onIssued: (host: string) => void;
  now?: () => number;
  random?: () => number;
}

/** The pair as a record with its dates; throws when it is not a usable certificate for `host` with this key. */
export function certificateRecord(host: string, pair: IssuedPair): CertificateRecord {
  const x = new X509Certificate(pair.certPem);
  if (x.checkHost(host) === undefined) throw new Error(`the issued certificate is not for ${host}`);
  if (!x.checkPrivateKey(createPrivateKey(pair.keyPem))) throw new Error('the issued certificate does not match its key');
  return { host, certPem: pair.certPem, keyPem: pair.keyPem, notBefore: new Date(x.validFrom).toISOString(), notAfter: new Date(x.validTo).toISOString() };
}

export function renewAt(rec: CertificateRecord, renewBeforeMs: number): number {
  const from = Date.parse(rec.notBefore);
  const to = Date.parse(rec.notAfter);
  return to - Math.min(renewBeforeMs, (to - from) / 3);
}

export class AcmeManager {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private inFlightCount = 0;

  constructor(private readonly d: AcmeManagerDeps) {
    this.now = d.now ?? Date.now;
  }

  /** Certificates found in the store at start: a valid one is served at once and not ordered again. */
  restore(certs: Iterable<CertificateRecord>): void {
    for (const c of certs) {
      const e = this.entry(c.host);
      if (!e.cert || Date.parse(c.notAfter) > Date.parse(e.cert.notAfter)) e.cert = c;
    }
  }

  /** The hosts the model asks for; others are forgotten (their stored certificate is no longer served). */
  setHosts(hosts: readonly string[]): void {
    const want = new Set(hosts);
    for (const h of [...this.entries.keys()]) if (!want.has(h) && !this.entries.get(h)!.inFlight) this.entries.delete(h);
    for (const h of hosts) this.entry(h);
    this.wanted = want;
  }

  private wanted = new Set<string>();

  private entry(host: string): Entry {
    let e = this.entries.get(host);
    if (!e) {
      e = { host, failures: 0, nextTryAt: 0 };
      this.entries.set(host, e);
    }
    return e;
  }

  private due(e: Entry, now: number): boolean {
    if (e.inFlight || now < e.nextTryAt) return false;
    return e.cert === undefined || now >= renewAt(e.cert, this.d.policy.renewBeforeMs);
  }

  /** Starts the orders that are due (missing, renewal time reached, backoff over), up to the concurrency limit. */
  tick(): void {
    const now = this.now();
    for (const e of [...this.entries.values()].sort((a, b) => a.nextTryAt - b.nextTryAt || (a.host < b.host ? -1 : 1))) {
      if (this.inFlightCount >= this.d.policy.concurrency) return;
      if (!this.wanted.has(e.host) || !this.due(e, now)) continue;
      this.inFlightCount++;
      e.inFlight = this.order(e).finally(() => {
        this.inFlightCount--;
        delete e.inFlight;
      });
    }
  }

  private async order(e: Entry): Promise<void> {
    const renewing = e.cert !== undefined;
    this.d.log.info({ host: e.host, renewing, attempt: e.failures + 1 }, 'ACME order started');
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${Math.round(this.d.policy.orderTimeoutMs / 1000)} s`)), this.d.policy.orderTimeoutMs);
      });
      const pair = await Promise.race([this.d.orderer(e.host), timeout]);
      const rec = certificateRecord(e.host, pair);
      await this.d.save(rec);
      e.cert = rec;
      e.failures = 0;
      e.nextTryAt = 0;
      delete e.error;
      this.d.log.info({ host: e.host, notAfter: rec.notAfter, renewing }, 'ACME certificate issued');
      this.d.onIssued(e.host);
    } catch (err) {
      const delay = backoffDelay(e.failures, this.d.policy.retry, this.d.random);
      e.failures++;
      e.nextTryAt = this.now() + delay;
      e.error = describe(err);
      this.d.log.warn({ host: e.host, failures: e.failures, retryInMs: delay, err: e.error }, 'ACME order failed; the host keeps what it has and is retried later');
    } finally {
      clearTimeout(timer);
    }
  }

  /** Issued, unexpired certificates of the wanted hosts. */
  certificates(): Map<string, CertificateRecord> {
    const now = this.now();
    const out = new Map<string, CertificateRecord>();
    for (const e of this.entries.values()) {
      if (this.wanted.has(e.host) && e.cert && Date.parse(e.cert.notAfter) > now) out.set(e.host, e.cert);
    }
    return out;
  }

  status(): AcmeHostStatus[] {
    const now = this.now();
    return [...this.entries.values()]
      .filter((e) => this.wanted.has(e.host))
      .sort((a, b) => (a.host < b.host ? -1 : 1))
      .map((e): AcmeHostStatus => {
        const s: AcmeHostStatus = { host: e.host, state: 'pending', failures: e.failures };
        if (e.cert) s.notAfter = e.cert.notAfter;
        if (e.error !== undefined) s.error = e.error;
        if (e.inFlight) s.state = e.cert ? 'renewing' : 'ordering';
        else if (e.failures > 0) {
          s.state = 'failed';
          s.nextAt = new Date(e.nextTryAt).toISOString();
        } else if (e.cert && Date.parse(e.cert.notAfter) > now) {
          s.state = 'valid';
          s.nextAt = new Date(renewAt(e.cert, this.d.policy.renewBeforeMs)).toISOString();
        }
        return s;
      });
  }

  /** Resolves when no order is in flight (tests, shutdown). */
  async idle(): Promise<void> {
    while (true) {
      const pending = [...this.entries.values()].map((e) => e.inFlight).filter((p): p is Promise<void> => p !== undefined);
      if (pending.length === 0) return;
      await Promise.all(pending);
    }
  }
}

function describe(err: unknown): string {
  const e = err as { message?: string; type?: string; detail?: string };
  const text = e?.message ?? String(err);
  // acme-client puts the CA's problem document (RFC 8555 §6.7) in the message; keep it short for status.
  return text.replace(/\s+/g, ' ').slice(0, 500);
}
