// Holds the latest payload per extension and wakes long-poll waiters when its version changes.
import type { ClusterModel, ExtensionConfig } from '@signalbox/model';
import { contentVersion } from '@signalbox/model';

export interface ExtensionPayload {
  version: string;
  extension: ExtensionConfig;
  model: ClusterModel;
}

type Waiter = (p: ExtensionPayload) => void;

export class ModelStore {
  private readonly payloads = new Map<string, ExtensionPayload>();
  private readonly waiters = new Map<string, Set<Waiter>>();

  /** Returns true when the payload changed. */
  set(name: string, extension: ExtensionConfig, model: ClusterModel): boolean {
    const version = contentVersion({ extension, model });
    if (this.payloads.get(name)?.version === version) return false;
    const payload = { version, extension, model };
    this.payloads.set(name, payload);
    const ws = this.waiters.get(name);
    if (ws) {
      this.waiters.delete(name);
      for (const w of ws) w(payload);
    }
    return true;
  }

  get(name: string): ExtensionPayload | undefined {
    return this.payloads.get(name);
  }

  names(): string[] {
    return [...this.payloads.keys()].sort();
  }

  /** Resolves with the payload once its version differs from `version`, or undefined after timeoutMs. */
  waitForChange(name: string, version: string, timeoutMs: number): Promise<ExtensionPayload | undefined> {
    const cur = this.payloads.get(name);
    if (cur && cur.version !== version) return Promise.resolve(cur);
    return new Promise((resolve) => {
      const set = this.waiters.get(name) ?? new Set<Waiter>();
      this.waiters.set(name, set);
      const waiter: Waiter = (p) => {
        clearTimeout(timer);
        resolve(p);
      };
      const timer = setTimeout(() => {
        set.delete(waiter);
        resolve(undefined);
      }, timeoutMs);
      set.add(waiter);
    });
  }

  remove(name: string): void {
    this.payloads.delete(name);
  }
}
