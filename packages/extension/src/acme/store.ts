// Where ACME keys and certificates rest: in the swarm (Docker config objects, replicated in the Raft log),
// sealed with AES-256-GCM under the store's own key, a Docker secret mounted into the extension only
// (config.toml [Extensions.NAME.Acme] StoreKeySecret). It is not the API token, so rotating the token
// keeps every certificate and the account; a restarted or rescheduled extension finds them again, and
// anyone reading config objects through the Docker API sees only ciphertext.
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type Docker from 'dockerode';

export const LABEL_ACME_EXTENSION = 'com.signalbox.acme.extension';
export const LABEL_ACME_KIND = 'com.signalbox.acme.kind';
export const LABEL_ACME_HOST = 'com.signalbox.acme.host';
export const LABEL_ACME_NOT_AFTER = 'com.signalbox.acme.not-after';
/** Which store key sealed an object (an HMAC of the key, not the key): a wrong key is named, not guessed. */
export const LABEL_ACME_KEY_ID = 'com.signalbox.acme.key-id';

/** Where core mounts the store key secret in the extension task, and the env naming it. */
export const ACME_STORE_KEY_FILE_ENV = 'SIGNALBOX_ACME_STORE_KEY_FILE';
export const ACME_STORE_KEY_SECRET_ENV = 'SIGNALBOX_ACME_STORE_KEY_SECRET';
export const DEFAULT_ACME_STORE_KEY_FILE = '/run/secrets/signalbox-acme-store-key';
/** Key material shorter than this is refused: it could be guessed. */
export const MIN_STORE_KEY_LENGTH = 32;

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

/** Seals records with AES-256-GCM; the extension name is the associated data (one extension cannot open another's). */
export class Sealer {
  /** Names the key on the objects it seals: HMAC-SHA256(key, fixed text), 16 hex digits. */
  readonly id: string;

  private constructor(
    private readonly key: Buffer,
    private readonly context: string,
  ) {
    this.id = createHmac('sha256', key).update('signalbox-acme-key-id').digest('hex').slice(0, 16);
  }

  /** The store's own key: HKDF-SHA256(secret's content, extension name). */
  static fromStoreKey(material: Buffer | string, extension: string): Sealer {
    return new Sealer(Buffer.from(hkdfSync('sha256', material, 'signalbox-acme-store-v2', extension, 32)), extension);
  }

  /** How records were sealed before the store had its own key (HKDF of the API token); read only, to re-seal them. */
  static fromApiToken(token: string, extension: string): Sealer {
    return new Sealer(Buffer.from(hkdfSync('sha256', token, 'signalbox-acme-store-v1', extension, 32)), extension);
  }

  seal(value: unknown): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(this.context));
    const body = Buffer.concat([c.update(JSON.stringify(value), 'utf8'), c.final()]);
    return `v1.${Buffer.concat([iv, c.getAuthTag(), body]).toString('base64')}`;
  }

  /** Throws when the text was not sealed with this key and context (another key, another extension, tampering). */
  open(text: string): unknown {
    if (!text.startsWith('v1.')) throw new Error('not a sealed ACME record');
    const raw = Buffer.from(text.slice(3), 'base64');
    const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    d.setAAD(Buffer.from(this.context));
    d.setAuthTag(raw.subarray(12, 28));
    return JSON.parse(Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8')) as unknown;
  }
}

/** The store key cannot be used: the message names the secret, the config key and the fix. */
export class StoreKeyError extends Error {
  override readonly name = 'StoreKeyError';
}

export interface StoreKey {
  material: Buffer;
  /** How the operator knows this key, for messages, e.g. 'Docker secret signalbox-acme-store-key'. */
  name: string;
}

/**
 * Reads the store key the stack created and core mounted (`file`); `secret` is its Docker secret name as
 * config.toml gives it. Throws StoreKeyError naming the secret and how to create it.
 */
export function readStoreKey(file: string, secret: string, extension: string): StoreKey {
  const name = `Docker secret ${secret} (config.toml Extensions.${extension}.Acme.StoreKeySecret, mounted at ${file})`;
  const create = `create it once with \`head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' | docker secret create ${secret} -\` (scripts/lib/stack.sh deploy_stack does)`;
  let material: Buffer;
  try {
    material = readFileSync(file);
  } catch (e) {
    throw new StoreKeyError(`the ACME store key, ${name}, cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): ${create}`);
  }
  const trimmed = Buffer.from(material.toString('latin1').trim(), 'latin1');
  if (trimmed.length < MIN_STORE_KEY_LENGTH) {
    throw new StoreKeyError(`the ACME store key, ${name}, has ${trimmed.length} bytes; it needs at least ${MIN_STORE_KEY_LENGTH}: ${create}`);
  }
  return { material: trimmed, name };
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

export interface UnreadableObject {
  name: string;
  kind?: string;
  host?: string;
  /** Why it cannot be opened, naming the key to fix. */
  reason: string;
}

export interface LoadedState {
  account?: AccountRecord;
  /** The newest valid record per host (latest notAfter). */
  certificates: Map<string, CertificateRecord>;
  /** Objects that could not be opened (another store key, an API token rotated before they were re-sealed, damage). */
  unreadable: UnreadableObject[];
  /** Records sealed under the API token (stored before the store had its own key), now sealed again under the store key. */
  resealed: number;
  /** Why re-sealing failed (they stay readable with the current token and are tried again at the next load). */
  resealError?: string;
}

export interface AcmeStoreOptions {
  /** The store's own key, or why there is none: then nothing can be written, and only records sealed under the API token can be read. */
  key: StoreKey | StoreKeyError;
  /** The API token, to open records sealed before the store had its own key (they are re-sealed under `key` at load). */
  legacyApiToken?: string;
}

type Opened = { value: unknown; legacy: boolean } | { reason: string };

export class AcmeStore {
  private readonly sealer: Sealer | undefined;
  private readonly legacy: Sealer | undefined;
  /** How the operator knows the key (the secret and the config key), or '' without one. */
  readonly keyName: string;
  /** Why there is no store key (a sentence naming the secret and the fix). */
  readonly keyProblem: string | undefined;

  constructor(
    private readonly backend: AcmeBackend,
    private readonly extension: string,
    opts: AcmeStoreOptions,
  ) {
    if (opts.key instanceof StoreKeyError) {
      this.keyName = '';
      this.keyProblem = opts.key.message;
    } else {
      this.sealer = Sealer.fromStoreKey(opts.key.material, extension);
      this.keyName = opts.key.name;
    }
    if (opts.legacyApiToken !== undefined) this.legacy = Sealer.fromApiToken(opts.legacyApiToken, extension);
  }

  /** The id of the store key (the label on every object it sealed), if there is a key. */
  get keyId(): string | undefined {
    return this.sealer?.id;
  }

  /** Throws StoreKeyError without a key: checked before ordering, so no certificate is issued that could not be kept. */
  assertWritable(): Sealer {
    if (!this.sealer) throw new StoreKeyError(this.keyProblem ?? 'the ACME store has no key');
    return this.sealer;
  }

  private open(obj: StoredObject): Opened {
    const keyId = obj.labels[LABEL_ACME_KEY_ID];
    if (keyId !== undefined) {
      if (!this.sealer) return { reason: `sealed under store key ${keyId}, and there is no store key: ${this.keyProblem ?? ''}` };
      if (keyId !== this.sealer.id) {
        return { reason: `sealed under store key ${keyId}, but the ${this.keyName} is key ${this.sealer.id}: put the secret that sealed it back, or remove the object (its host is ordered again)` };
      }
      try {
        return { value: this.sealer.open(obj.data), legacy: false };
      } catch {
        return { reason: `damaged: labelled with store key ${keyId} but does not open with it (changed after it was written)` };
      }
    }
    if (this.legacy) {
      try {
        return { value: this.legacy.open(obj.data), legacy: true };
      } catch {
        // Sealed under an earlier token: below.
      }
    }
    return { reason: 'sealed under the API token of an earlier deploy (before the ACME store had its own key) and that token was rotated since; remove the object (its host is ordered again)' };
  }

  /** Reads the account and the newest certificate per host; records still sealed under the API token are sealed again under the store key. */
  async load(): Promise<LoadedState> {
    const out: LoadedState = { certificates: new Map(), unreadable: [], resealed: 0 };
    let accountLegacy = false;
    const legacyHosts = new Set<string>();
    const legacyObjects: string[] = [];
    for (const obj of await this.backend.list(this.extension)) {
      const kind = obj.labels[LABEL_ACME_KIND];
      const opened = this.open(obj);
      if ('reason' in opened) {
        const host = obj.labels[LABEL_ACME_HOST];
        out.unreadable.push({ name: obj.name, ...(kind !== undefined ? { kind } : {}), ...(host !== undefined ? { host } : {}), reason: opened.reason });
        continue;
      }
      if (opened.legacy) legacyObjects.push(obj.name);
      if (kind === 'account') {
        // One sealed under the store key wins over a leftover sealed under the token.
        if (!out.account || (accountLegacy && !opened.legacy)) {
          out.account = opened.value as AccountRecord;
          accountLegacy = opened.legacy;
        }
      } else if (kind === 'certificate') {
        const rec = opened.value as CertificateRecord;
        const prev = out.certificates.get(rec.host);
        if (!prev || Date.parse(rec.notAfter) > Date.parse(prev.notAfter)) {
          out.certificates.set(rec.host, rec);
          if (opened.legacy) legacyHosts.add(rec.host);
          else legacyHosts.delete(rec.host);
        }
      }
    }
    if (this.sealer) {
      try {
        if (out.account && accountLegacy) {
          await this.saveAccount(out.account);
          out.resealed++;
        }
        for (const host of legacyHosts) {
          await this.saveCertificate(out.certificates.get(host)!);
          out.resealed++;
        }
        // Every record they held is now sealed under the key (or superseded by one that is).
        for (const name of legacyObjects) await this.backend.remove(name);
      } catch (e) {
        out.resealError = (e as Error).message;
      }
    }
    return out;
  }

  async saveAccount(rec: AccountRecord): Promise<void> {
    const sealer = this.assertWritable();
    const data = sealer.seal(rec);
    const prefix = `signalbox-acme-account-${short(this.extension, 8)}-`;
    const name = `${prefix}${short(data, 12)}`;
    await this.backend.create({ name, labels: { [LABEL_ACME_EXTENSION]: this.extension, [LABEL_ACME_KIND]: 'account', [LABEL_ACME_KEY_ID]: sealer.id }, data });
    await this.removeOthers((o) => o.name.startsWith(prefix) && o.name !== name);
  }

  /** Stores a new certificate for its host, then removes the host's older ones. */
  async saveCertificate(rec: CertificateRecord): Promise<void> {
    const sealer = this.assertWritable();
    const data = sealer.seal(rec);
    const prefix = `signalbox-acme-${short(`${this.extension}\n${rec.host}`, 12)}-`;
    const name = `${prefix}${short(data, 12)}`;
    await this.backend.create({
      name,
      labels: {
        [LABEL_ACME_EXTENSION]: this.extension,
        [LABEL_ACME_KIND]: 'certificate',
        [LABEL_ACME_HOST]: rec.host,
        [LABEL_ACME_NOT_AFTER]: rec.notAfter,
        [LABEL_ACME_KEY_ID]: sealer.id,
      },
      data,
    });
    await this.removeOthers((o) => o.name.startsWith(prefix) && o.name !== name);
  }

  /** Removes superseded objects this store can open; ones it cannot (another key) are left for the operator. */
  private async removeOthers(match: (o: StoredObject) => boolean): Promise<void> {
    for (const o of await this.backend.list(this.extension)) if (match(o) && !('reason' in this.open(o))) await this.backend.remove(o.name);
  }
}
