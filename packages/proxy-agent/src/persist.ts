// What this node's proxy last installed, kept on a named volume (one per node), so a proxy task that
// restarts (container killed, node reboot) starts from the newest config the node ever ran, even with
// core and the extension down, and never from an older one. The bootstrap mounted in the task is the
// config published when the service last rolled: once this node has run it, anything installed later
// is newer, so the history of installed hashes says which of the two to start with.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { writeAtomic, type CandidateSource, type InstalledConfig } from './installer.js';

const HISTORY_MAX = 256;
const CONFIG_FILE = 'nginx.conf';
const STATE_FILE = 'state.json';

export interface PersistedState {
  sha256: string;
  configName: string;
  source: CandidateSource;
  /** Hashes installed (or seen as a bootstrap) on this node, oldest first. */
  history: string[];
}

export interface PersistedConfig extends PersistedState {
  bytes: Buffer;
}

export class ConfigPersistence {
  private history: string[] = [];
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
  ) {}

  /** The last installed config, if the state is complete and consistent (hash matches the bytes). */
  async load(sha256Of: (b: Buffer) => string): Promise<PersistedConfig | undefined> {
    try {
      const state = JSON.parse(await readFile(join(this.dir, STATE_FILE), 'utf8')) as Partial<PersistedState>;
      this.history = Array.isArray(state.history) ? state.history.filter((h): h is string => typeof h === 'string') : [];
      const bytes = await readFile(join(this.dir, CONFIG_FILE));
      if (typeof state.sha256 !== 'string' || sha256Of(bytes) !== state.sha256) {
        this.log.warn({ dir: this.dir }, 'persisted config does not match its state; not using it');
        return undefined;
      }
      return { bytes, sha256: state.sha256, configName: String(state.configName ?? ''), source: (state.source ?? 'extension') as CandidateSource, history: this.history };
    } catch {
      return undefined;
    }
  }

  /**
   * Whether the persisted config goes before the bootstrap: the node already ran the bootstrap's bytes
   * (or there is none), so what it installed last is at least as new. A bootstrap the node never saw
   * came with a roll after its last install, so it goes first.
   */
  persistedFirst(bootstrapSha256: string | undefined): boolean {
    return bootstrapSha256 === undefined || this.seen(bootstrapSha256);
  }

  /** This node already ran (or was offered at start) these bytes. */
  seen(sha256: string): boolean {
    return this.history.includes(sha256);
  }

  noteSeen(sha256: string): void {
    this.push(sha256);
  }

  /** After every install; writes are serialised and atomic, so a crash leaves the previous pair. */
  save(bytes: Buffer, installed: InstalledConfig): Promise<void> {
    this.push(installed.sha256);
    const state: PersistedState = { sha256: installed.sha256, configName: installed.configName, source: installed.source, history: [...this.history] };
    this.writing = this.writing.then(async () => {
      try {
        await mkdir(this.dir, { recursive: true });
        // Config first: a state naming bytes that are not there yet would fail the hash check, not lie.
        await writeAtomic(join(this.dir, CONFIG_FILE), bytes);
        await writeAtomic(join(this.dir, STATE_FILE), Buffer.from(`${JSON.stringify(state)}\n`));
      } catch (err) {
        this.log.warn({ dir: this.dir, err: (err as Error).message }, 'could not persist the installed config');
      }
    });
    return this.writing;
  }

  private push(sha: string): void {
    this.history = [...this.history.filter((h) => h !== sha), sha].slice(-HISTORY_MAX);
  }
}
