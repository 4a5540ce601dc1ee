// Runs the TLS front of a routing task (tls-front-config.ts) beside the routing nginx: starts it the
// first time an installed config asks for it, reloads it only when the config's TLS and keep-alive
// settings change, and after every install hands it the certificates the config names (read from
// the files, sent to its shared dict on loopback; checked every second, so a restarted front gets
// them again). Where nginx has no Lua module, the certificates are written into the front's config
// instead, and a change of them reloads the front.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { Logger } from 'pino';
import { TLS_FRONT_SOCKET } from '@signalbox/protocol';
import {
  TLS_FRONT_CERTIFICATES_PATH,
  TLS_FRONT_VERSION_HEADER,
  tlsFrontCertificates,
  tlsFrontConfig,
  tlsFrontSettings,
  workerProcesses,
  type CertificateFiles,
  type TlsFrontCertificates,
} from './tls-front-config.js';
import { nginxTest } from './nginx.js';
import { Supervisor, type ExitInfo, type SupervisorOptions } from './supervisor.js';

export interface TlsFrontOptions {
  dir: string;
  controlPort: number;
  nginxBin: string;
  ndkModulePath: string;
  luaModulePath: string;
  testTimeoutMs: number;
  logger: Logger;
  stderr?: (chunk: Buffer) => void;
  restart?: SupervisorOptions['restart'];
  /** How often the front's certificate version is checked (default 1 s). */
  checkMs?: number;
}

export interface TlsFrontState {
  /** The front's nginx runs. */
  running: boolean;
  /** The front holds the certificates of the installed config. */
  ready: boolean;
  lastError: string | undefined;
}

/** What the shared dict gets: `H name id`, `D id` (default), `C id base64(pem)` lines, and its version. */
export interface CertificateSet {
  body: string;
  version: string;
  /** Hosts whose files could not be read (left out: their handshake is rejected). */
  unreadable: string[];
}

/** Reads the files a config's certificate map names into the text the front's Lua loads. */
export async function certificateSet(hosts: ReadonlyMap<string, CertificateFiles>, fallback: CertificateFiles | null): Promise<CertificateSet> {
  const ids = new Map<string, string | null>();
  const pems = new Map<string, string>();
  const idOf = async (files: CertificateFiles): Promise<string | null> => {
    const key = `${files.certificate}\n${files.key}`;
    if (ids.has(key)) return ids.get(key)!;
    let id: string | null = null;
    try {
      const pem = `${(await readFile(files.certificate, 'utf8')).trim()}\n${(await readFile(files.key, 'utf8')).trim()}\n`;
      id = createHash('sha256').update(pem).digest('hex').slice(0, 24);
      pems.set(id, pem);
    } catch {
      id = null;
    }
    ids.set(key, id);
    return id;
  };
  const lines = ['# signalbox tls front certificates'];
  const unreadable: string[] = [];
  for (const [name, files] of [...hosts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const id = await idOf(files);
    if (id === null) unreadable.push(name);
    else lines.push(`H ${name} ${id}`);
  }
  if (fallback) {
    const id = await idOf(fallback);
    if (id === null) unreadable.push('(default)');
    else lines.push(`D ${id}`);
  }
  for (const [id, pem] of [...pems].sort(([a], [b]) => (a < b ? -1 : 1))) lines.push(`C ${id} ${Buffer.from(pem).toString('base64')}`);
  const body = `${lines.join('\n')}\n`;
  return { body, version: createHash('sha256').update(body).digest('hex').slice(0, 24), unreadable };
}

export class TlsFront {
  /** Certificates through the shared dict (Lua), or written into the config. */
  readonly lua: boolean;
  private supervisor: Supervisor | undefined;
  /** An installed config asked for the front (then the task is healthy only with it). */
  private asked = false;
  /** What the front's config file was generated from (settings, workers; without Lua, the certificates). */
  private configKey: string | undefined;
  private wanted: CertificateSet | undefined;
  private confirmed: string | undefined;
  private lastError: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private placeholder: { certificate: string; key: string } | undefined;
  private chain: Promise<void> = Promise.resolve();
  private readonly log: Logger;

  constructor(private readonly o: TlsFrontOptions) {
    this.log = o.logger;
    this.lua = existsSync(o.ndkModulePath) && existsSync(o.luaModulePath);
  }

  get configPath(): string {
    return path.join(this.o.dir, 'nginx.conf');
  }

  /** Whether the config asks for a front; if so, starts or updates it and sends its certificates. */
  apply(routingConfig: string): Promise<void> {
    const next = this.chain.then(() => this.applyNow(routingConfig));
    this.chain = next.catch(() => undefined);
    return next;
  }

  state(): TlsFrontState | undefined {
    if (!this.asked) return undefined;
    if (this.supervisor === undefined) return { running: false, ready: false, lastError: this.lastError };
    const running = this.supervisor.isRunning();
    const holds = !this.lua || (this.wanted !== undefined && this.confirmed === this.wanted.version);
    return { running, ready: running && holds, lastError: this.lastError };
  }

  private async applyNow(routingConfig: string): Promise<void> {
    let certificates;
    try {
      certificates = tlsFrontCertificates(routingConfig);
    } catch (e) {
      this.lastError = (e as Error).message;
      this.log.error({ err: this.lastError }, 'cannot read the certificate map of the installed config; the TLS front keeps the certificates it has');
      return;
    }
    if (certificates === undefined) return;
    this.asked = true;
    if (!this.lua) {
      if (this.supervisor === undefined) this.log.warn('no Lua module in this nginx: certificates are written into the TLS front config, and a change of them reloads it');
      await this.ensureRunning(tlsFrontSettings(routingConfig), workerProcesses(routingConfig), certificates);
      return;
    }
    await this.ensureRunning(tlsFrontSettings(routingConfig), workerProcesses(routingConfig));
    const set = await certificateSet(certificates.hosts, certificates.fallback);
    if (set.unreadable.length > 0) this.log.error({ hosts: set.unreadable }, 'cannot read the certificate files of these hosts: their TLS handshakes are rejected');
    this.wanted = set;
    // A front just started takes a moment to listen; the task is healthy only once it holds them.
    await this.ready(5000);
    this.timer ??= setInterval(() => void this.sync(), this.o.checkMs ?? 1000);
  }

  /** `certificates`: without Lua, they are part of the config. */
  private async ensureRunning(settings: string[], workers: string, certificates?: TlsFrontCertificates): Promise<void> {
    const key = JSON.stringify([workers, settings, certificates ? [...certificates.hosts] : null, certificates?.fallback ?? null]);
    if (this.supervisor && this.configKey === key) return;
    await mkdir(this.o.dir, { recursive: true });
    const lua = this.lua
      ? {
          controlPort: this.o.controlPort,
          ndkModulePath: this.o.ndkModulePath,
          luaModulePath: this.o.luaModulePath,
          placeholder: (this.placeholder ??= await this.makePlaceholder()),
        }
      : undefined;
    const conf = tlsFrontConfig({ dir: this.o.dir, ...(lua ? { lua } : { static: certificates! }), settings, workerProcesses: workers });
    const tmp = `${this.configPath}.new`;
    await writeFile(tmp, conf);
    const test = await nginxTest(this.o.nginxBin, tmp, this.o.testTimeoutMs);
    if (!test.ok) {
      await rm(tmp, { force: true });
      this.lastError = `the TLS front's config fails nginx -t: ${test.output}`;
      this.log.error({ err: test.output }, 'the TLS front keeps its config: the new one fails nginx -t');
      if (this.supervisor) return;
      throw new Error(this.lastError);
    }
    await writeFile(this.configPath, conf);
    await rm(tmp, { force: true });
    this.configKey = key;
    if (this.supervisor === undefined) {
      // A socket left by a front that did not exit cleanly would fail the bind.
      await rm(path.join(this.o.dir, TLS_FRONT_SOCKET), { force: true });
      this.supervisor = new Supervisor({
        nginxBin: this.o.nginxBin,
        configPath: this.configPath,
        logger: this.log,
        ...(this.o.stderr ? { stderr: this.o.stderr } : {}),
        ...(this.o.restart ? { restart: this.o.restart } : {}),
        prepare: async () => {
          // The shared dict starts empty with every start: sync() sends the certificates again.
          this.confirmed = undefined;
          await rm(path.join(this.o.dir, TLS_FRONT_SOCKET), { force: true });
        },
      });
      this.supervisor.start();
      this.log.info({ dir: this.o.dir }, 'TLS front started');
      return;
    }
    const r = await this.supervisor.reload();
    if (r.ok) this.log.info({ settings }, this.lua ? 'TLS front reloaded: its TLS or keep-alive settings changed' : 'TLS front reloaded: its settings or certificates changed');
    else this.log.error({ err: r.reason }, 'TLS front reload failed');
  }

  /** A private key and a self-signed certificate nginx loads but never sends (the Lua callback replaces it). */
  private async makePlaceholder(): Promise<{ certificate: string; key: string }> {
    const certificate = path.join(this.o.dir, 'placeholder.crt');
    const key = path.join(this.o.dir, 'placeholder.key');
    await execa(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '3650', '-subj', '/CN=signalbox-tls-front', '-keyout', key, '-out', certificate],
      {
        stdin: 'ignore',
        timeout: 10_000,
      },
    );
    return { certificate, key };
  }

  /** Sends the wanted certificates when the front does not hold them (changed, or the front restarted). */
  private async sync(): Promise<void> {
    const wanted = this.wanted;
    if (!wanted || !this.supervisor?.isRunning()) return;
    const url = `http://127.0.0.1:${this.o.controlPort}${TLS_FRONT_CERTIFICATES_PATH}`;
    try {
      const held = (await (await fetch(url, { signal: AbortSignal.timeout(2000) })).text()).trim();
      if (held === wanted.version) {
        this.confirmed = held;
        return;
      }
      const res = await fetch(url, { method: 'PUT', body: wanted.body, headers: { [TLS_FRONT_VERSION_HEADER]: wanted.version }, signal: AbortSignal.timeout(5000) });
      if (!res.ok) throw new Error(`the TLS front answered ${res.status}: ${(await res.text()).trim()}`);
      if (this.wanted === wanted) this.confirmed = wanted.version;
      this.lastError = undefined;
      this.log.info({ version: wanted.version, hosts: wanted.body.split('\n').filter((l) => l.startsWith('H ')).length }, 'TLS front certificates set');
    } catch (e) {
      // The front is starting (its control port is not up yet): the next check sends them.
      this.lastError = `cannot set the TLS front's certificates: ${(e as Error).message}`;
      this.log.debug({ err: this.lastError }, 'TLS front not ready for its certificates');
    }
  }

  /** Resolves when the certificates of the installed config are in the front, or after timeoutMs. */
  async ready(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (this.state()?.ready) return true;
      if (Date.now() >= until) return false;
      await this.sync();
      if (this.state()?.ready) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  stop(signal: NodeJS.Signals): Promise<ExitInfo | undefined> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return this.supervisor ? this.supervisor.stop(signal) : Promise.resolve(undefined);
  }
}
