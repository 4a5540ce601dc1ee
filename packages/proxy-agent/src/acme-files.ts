// ACME certificates and keys reach the proxy over the authenticated control plane, never in a config
// object: a config names them under the tmpfs directory /dev/shm/signalbox-acme (content-addressed file
// names), and before such a config is tested the agent fetches the files it lacks from the extension
// (GET /v1/acme/files, bearer token) and writes them there, root-only. No proxy restart, no new secret.
import { chmod, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { PATHS } from '@signalbox/protocol';

export const DEFAULT_ACME_DIR = '/dev/shm/signalbox-acme';
const FILE_NAME = /^acme-[0-9a-f]{16}\.(?:crt|key)$/;

/** ACME file names a config refers to under `dir`. */
export function referencedAcmeFiles(config: string, dir: string): string[] {
  const prefix = `${dir.replace(/\/+$/, '')}/`;
  const out = new Set<string>();
  let at = config.indexOf(prefix);
  while (at >= 0) {
    const name = /^[A-Za-z0-9_.-]+/.exec(config.slice(at + prefix.length))?.[0];
    if (name !== undefined && FILE_NAME.test(name)) out.add(name);
    at = config.indexOf(prefix, at + prefix.length);
  }
  return [...out].sort();
}

export interface AcmeFilesOptions {
  dir: string;
  extensionUrl: string;
  headers: Record<string, string>;
  log: Logger;
}

export class AcmeFiles {
  constructor(private readonly o: AcmeFilesOptions) {}

  /**
   * Makes every ACME file `config` names present. Throws when one cannot be fetched: the candidate is
   * then not installed (nginx -t would fail on it) and the running config stays.
   */
  async ensure(config: string): Promise<void> {
    const wanted = referencedAcmeFiles(config, this.o.dir);
    const missing = wanted.filter((n) => !existsSync(join(this.o.dir, n)));
    if (missing.length === 0) return;
    const res = await fetch(new URL(PATHS.acmeFiles, `${this.o.extensionUrl}/`), { headers: this.o.headers, signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`the extension answered ${res.status} for ACME files`);
    const body = (await res.json()) as { files?: Record<string, unknown> };
    await mkdir(this.o.dir, { recursive: true, mode: 0o700 });
    await chmod(this.o.dir, 0o700);
    for (const name of missing) {
      const pem = body.files?.[name];
      if (typeof pem !== 'string') throw new Error(`the extension does not have ${name} (a newer certificate replaced it?)`);
      const tmp = join(this.o.dir, `.${name}.tmp`);
      await writeFile(tmp, pem, { mode: 0o600 });
      await rename(tmp, join(this.o.dir, name));
    }
    this.o.log.info({ files: missing.length }, 'ACME certificates fetched from the extension');
  }

  /** Removes ACME files no longer named by the installed config. */
  async prune(installed: string): Promise<void> {
    const keep = new Set(referencedAcmeFiles(installed, this.o.dir));
    let names: string[];
    try {
      names = await readdir(this.o.dir);
    } catch {
      return;
    }
    for (const n of names) if (!keep.has(n)) await rm(join(this.o.dir, n), { force: true });
  }
}
