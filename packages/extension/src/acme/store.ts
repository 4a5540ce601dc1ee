// Where ACME keys and certificates rest: in the swarm (Docker config objects, replicated in the Raft log),
// sealed with AES-256-GCM under a key derived from the API token secret, which only tasks that mount it
// (core, the extension, proxies) can read. So a restarted or rescheduled extension finds its account and
// certificates again, and anyone reading config objects through the Docker API sees only ciphertext.
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type Docker from 'dockerode';

export const LABEL_ACME_EXTENSION = 'com.signalbox.acme.extension';
export const LABEL_ACME_KIND = 'com.signalbox.acme.kind';
export const LABEL_ACME_HOST = 'com.signalbox.acme.host';
export const LABEL_ACME_NOT_AFTER = 'com.signalbox.acme.not-after';

export interface AccountRecord {
  keyPem: string;
  url?: string;
  directoryUrl: string;
}

export interface CertificateRecord {
  host: string;
  /** PEM chain as the CA issued it, leaf first. */
  certPem: string;
  keyPem: string;
  notBefore: string;
  notAfter: string;
}

/** Seals records: the key is HKDF-SHA256(API token, extension name); the extension name is also the AAD. */
export class Sealer {
  private readonly key: Buffer;

  constructor(
    secret: string,
    private readonly context: string,
  ) {
    this.key = Buffer.from(hkdfSync('sha256', secret, 'signalbox-acme-store-v1', context, 32));
  }

  seal(value: unknown): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(this.context));
    const body = Buffer.concat([c.update(JSON.stringify(value), 'utf8'), c.final()]);
    return `v1.${Buffer.concat([iv, c.getAuthTag(), body]).toString('base64')}`;
  }

  /** Throws when the text was not sealed with this key and context (another token, another extension, tampering). */
  open(text: string): unknown {
    if (!text.startsWith('v1.')) throw new Error('not a sealed ACME record');
    const raw = Buffer.from(text.slice(3), 'base64');
    const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    d.setAAD(Buffer.from(this.context));
    d.setAuthTag(raw.subarray(12, 28));
    return JSON.parse(Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8')) as unknown;
  }
}

export interface StoredObject {
  name: string;
  labels: Record<string, string>;
  data: string;
}

/** The swarm objects the store reads and writes; Docker config objects in production. */
export interface AcmeBackend {
  list(extension: string): Promise<StoredObject[]>;
  create(obj: StoredObject): Promise<void>;
  remove(name: string): Promise<void>;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
export class DockerConfigBackend implements AcmeBackend {
  constructor(private readonly docker: Docker) {}

  async list(extension: string): Promise<StoredObject[]> {
    const configs: any[] = await this.docker.listConfigs({ filters: JSON.stringify({ label: [`${LABEL_ACME_EXTENSION}=${extension}`] }) });
    return configs.map((c) => ({
      name: String(c.Spec?.Name ?? ''),
      labels: (c.Spec?.Labels ?? {}) as Record<string, string>,
      data: Buffer.from(String(c.Spec?.Data ?? ''), 'base64').toString('utf8'),
    }));
  }

  async create(obj: StoredObject): Promise<void> {
    try {
      await this.docker.createConfig({ Name: obj.name, Labels: obj.labels, Data: Buffer.from(obj.data).toString('base64') });
    } catch (e) {
      // Content-addressed names: the same object is already there (a retry after a lost answer).
      if ((e as { statusCode?: number }).statusCode !== 409) throw e;
    }
  }

  async remove(name: string): Promise<void> {
    try {
      await this.docker.getConfig(name).remove();
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 404) throw e;
    }
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */

const short = (s: string, n: number): string => createHash('sha256').update(s).digest('hex').slice(0, n);

export interface LoadedState {
  account?: AccountRecord;
  /** The newest valid record per host (latest notAfter). */
  certificates: Map<string, CertificateRecord>;
  /** Objects that could not be opened (sealed under another token, or damaged), by name. */
  unreadable: string[];
}

export class AcmeStore {
  private readonly sealer: Sealer;

  constructor(
    private readonly backend: AcmeBackend,
    private readonly extension: string,
    secret: string,
  ) {
    this.sealer = new Sealer(secret, extension);
  }

  async load(): Promise<LoadedState> {
    const out: LoadedState = { certificates: new Map(), unreadable: [] };
    for (const obj of await this.backend.list(this.extension)) {
      let value: unknown;
      try {
        value = this.sealer.open(obj.data);
      } catch {
        out.unreadable.push(obj.name);
        continue;
      }
      const kind = obj.labels[LABEL_ACME_KIND];
      if (kind === 'account') out.account = value as AccountRecord;
      else if (kind === 'certificate') {
        const rec = value as CertificateRecord;
        const prev = out.certificates.get(rec.host);
        if (!prev || Date.parse(rec.notAfter) > Date.parse(prev.notAfter)) out.certificates.set(rec.host, rec);
      }
    }
    return out;
  }

  async saveAccount(rec: AccountRecord): Promise<void> {
    const data = this.sealer.seal(rec);
    const prefix = `signalbox-acme-account-${short(this.extension, 8)}-`;
    const name = `${prefix}${short(data, 12)}`;
    await this.backend.create({ name, labels: { [LABEL_ACME_EXTENSION]: this.extension, [LABEL_ACME_KIND]: 'account' }, data });
    await this.removeOthers((o) => o.name.startsWith(prefix) && o.name !== name);
  }

  /** Stores a new certificate for its host, then removes the host's older ones. */
  async saveCertificate(rec: CertificateRecord): Promise<void> {
    const data = this.sealer.seal(rec);
    const prefix = `signalbox-acme-${short(`${this.extension}\n${rec.host}`, 12)}-`;
    const name = `${prefix}${short(data, 12)}`;
    await this.backend.create({
      name,
      labels: { [LABEL_ACME_EXTENSION]: this.extension, [LABEL_ACME_KIND]: 'certificate', [LABEL_ACME_HOST]: rec.host, [LABEL_ACME_NOT_AFTER]: rec.notAfter },
      data,
    });
    await this.removeOthers((o) => o.name.startsWith(prefix) && o.name !== name);
  }

  private async removeOthers(match: (o: StoredObject) => boolean): Promise<void> {
    for (const o of await this.backend.list(this.extension)) if (match(o)) await this.backend.remove(o.name);
  }
}
