// A route's certificate and key are Docker secrets, readable only inside the tasks that mount them: the
// routing tasks. So each checks the pairs a config from the extension names before installing it (a PEM
// certificate, a key that belongs to it, names that cover the server's host, not expired; the rules are
// @signalbox/protocol's inspectPair and pairServes), and refuses a config with a bad pair, saying which. The extension
// then leaves out only the services of those hosts (ERR_CERT_INVALID). nginx -t alone would pass a pair
// for another host or an expired one, and would blame a bad one only by its file.
import { readFile } from 'node:fs/promises';
import { inspectPair, pairServes, type CertificateProblem, type PairInspection } from '@signalbox/protocol';

/** A server's certificate and key files, and its first server_name (undefined: the default server). */
export interface ServerPair {
  host: string | undefined;
  certificate: string;
  key: string;
}

const unquote = (v: string): string => (v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v);

/**
 * The pairs of a rendered nginx.conf: each `server {` block's ssl_certificate and ssl_certificate_key,
 * with the block's first server_name. Reads the lines Signalbox's templates write (one directive per line).
 */
export function serverPairs(config: string): ServerPair[] {
  const out: ServerPair[] = [];
  let host: string | undefined;
  let certificate: string | undefined;
  for (const line of config.split('\n')) {
    if (/^\s*server\s*\{\s*$/.test(line)) {
      host = undefined;
      certificate = undefined;
      continue;
    }
    const name = /^\s*server_name\s+("[^"]*"|[^\s;]+)/.exec(line);
    if (name) {
      const first = unquote(name[1]!);
      host = first === '' || first === '_' ? undefined : first.toLowerCase();
      continue;
    }
    const cert = /^\s*ssl_certificate\s+("[^"]*"|[^\s;]+)\s*;/.exec(line);
    if (cert) {
      certificate = unquote(cert[1]!);
      continue;
    }
    const key = /^\s*ssl_certificate_key\s+("[^"]*"|[^\s;]+)\s*;/.exec(line);
    if (key && certificate !== undefined) out.push({ host, certificate, key: unquote(key[1]!) });
  }
  return out;
}

export interface CertificateCheckOptions {
  /** Where the task's secrets are mounted (/run/secrets): only pairs there are checked (ACME pairs are the extension's). */
  secretsDir: string;
  now?: () => number;
}

/**
 * Checks the secret pairs of configs. Each pair is read and parsed once per task: swarm never changes a
 * secret's content under its name, and a task's mounts are fixed. The host and the expiry are checked on
 * every config, so 10 000 hosts sharing a few pairs cost a few parses once, then map lookups.
 */
export class CertificateCheck {
  private readonly dir: string;
  private readonly now: () => number;
  private readonly pairs = new Map<string, PairInspection>();

  constructor(opts: CertificateCheckOptions) {
    this.dir = opts.secretsDir.replace(/\/+$/, '');
    this.now = opts.now ?? Date.now;
  }

  /**
   * The pairs of `config` this task cannot serve. A file that is not there is left to nginx -t: a secret
   * core mounts is missing only from a task started before it was added (the extension knows that case).
   */
  async problems(config: string): Promise<CertificateProblem[]> {
    const out: CertificateProblem[] = [];
    const reported = new Set<string>();
    const now = this.now();
    for (const p of serverPairs(config)) {
      const certSecret = this.secretName(p.certificate);
      const keySecret = this.secretName(p.key);
      if (certSecret === undefined || keySecret === undefined) continue;
      const pair = await this.inspect(p.certificate, p.key, certSecret, keySecret);
      if (pair === undefined) continue;
      const problem = pairServes(certSecret, pair, p.host ?? null, now);
      const id = `${p.host ?? ''}\n${certSecret}\n${keySecret}`;
      if (problem === undefined || reported.has(id)) continue;
      reported.add(id);
      out.push({ ...(p.host !== undefined ? { host: p.host } : {}), certSecret, keySecret, reason: problem });
    }
    return out;
  }

  /** The pair, read and parsed the first time it is named; undefined while a file is not there. */
  private async inspect(certFile: string, keyFile: string, certSecret: string, keySecret: string): Promise<PairInspection | undefined> {
    const id = `${certFile}\n${keyFile}`;
    const known = this.pairs.get(id);
    if (known) return known;
    const [cert, key] = await Promise.all([readFile(certFile).catch(() => undefined), readFile(keyFile).catch(() => undefined)]);
    if (cert === undefined || key === undefined) return undefined;
    const files = new Map([
      [certSecret, cert],
      [keySecret, key],
    ]);
    const pair = inspectPair(certSecret, keySecret, (n) => files.get(n), 'in this proxy task');
    if (this.pairs.size >= 100_000) this.pairs.clear();
    this.pairs.set(id, pair);
    return pair;
  }

  private secretName(file: string): string | undefined {
    const prefix = `${this.dir}/`;
    if (!file.startsWith(prefix)) return undefined;
    const name = file.slice(prefix.length);
    return /^[A-Za-z0-9_.-]+$/.test(name) ? name : undefined;
  }
}

/** One line for logs and the refusal's reason. */
export function describeProblems(problems: readonly CertificateProblem[]): string {
  const each = problems.slice(0, 5).map((p) => `${p.host ?? 'default server'}: ${p.reason}`);
  const more = problems.length > 5 ? `; and ${problems.length - 5} more` : '';
  return `certificate pairs this proxy task cannot serve: ${each.join('; ')}${more}`;
}
