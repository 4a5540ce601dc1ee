// Watches configPath and the bootstrap file for changes made by anyone else. We watch the
// parent directories, not the files: an atomic rename replaces the inode, and a watch on a
// file that appeared after start can miss later renames. Events only queue a re-read; the
// installer compares content hashes, so our own writes are recognised and ignored.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';

export interface WatcherOptions {
  configPath: string;
  bootstrapPath: string;
  onConfigChange: () => unknown;
  onBootstrapChange: () => unknown;
  logger: Logger;
  /** Wait until a file stops changing before reading it (half-written files are not configs). */
  stabilityMs?: number;
}

export class ConfigWatcher {
  private watcher: FSWatcher | undefined;

  constructor(private readonly opts: WatcherOptions) {}

  async start(): Promise<void> {
    const configPath = resolve(this.opts.configPath);
    const bootstrapPath = resolve(this.opts.bootstrapPath);
    const targets = new Set([configPath, bootstrapPath]);
    const dirs = [...new Set([dirname(configPath), dirname(bootstrapPath)])].filter((d) => {
      if (existsSync(d)) return true;
      this.opts.logger.debug({ dir: d }, 'not watching a directory that does not exist');
      return false;
    });
    const stability = this.opts.stabilityMs ?? 300;
    const w = watch(dirs, {
      ignoreInitial: true,
      depth: 0,
      ignored: (p: string) => !dirs.includes(p) && !targets.has(p),
      awaitWriteFinish: stability > 0 ? { stabilityThreshold: stability, pollInterval: 50 } : false,
    });
    this.watcher = w;
    w.on('all', (event, path) => {
      const p = resolve(path);
      if (event !== 'add' && event !== 'change' && event !== 'unlink') return;
      if (p === configPath) {
        this.opts.logger.debug({ event }, 'config file changed on disk');
        this.opts.onConfigChange();
      } else if (p === bootstrapPath && event !== 'unlink') {
        this.opts.logger.debug({ event }, 'bootstrap file changed on disk');
        this.opts.onBootstrapChange();
      }
    });
    w.on('error', (err) => this.opts.logger.warn({ err }, 'file watcher error'));
    await new Promise<void>((r) => w.once('ready', () => r()));
  }

  async stop(): Promise<void> {
    await this.watcher?.close();
    this.watcher = undefined;
  }
}
