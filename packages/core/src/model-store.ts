// The latest payload per extension, each a versioned value that long-poll requests wait on.
import type { ClusterModel, ExtensionConfig, ExtensionPayload } from '@signalbox/model';
import { contentVersion } from '@signalbox/model';
import { VersionedValue } from '@signalbox/protocol';

export class ModelStore {
  private readonly payloads = new Map<string, VersionedValue<ExtensionPayload>>();

  private cell(name: string): VersionedValue<ExtensionPayload> {
    let c = this.payloads.get(name);
    if (!c) {
      c = new VersionedValue<ExtensionPayload>((p) => p.version);
      this.payloads.set(name, c);
    }
    return c;
  }

  /** Returns true when the payload changed. */
  set(name: string, extension: ExtensionConfig, model: ClusterModel): boolean {
    return this.cell(name).set({ version: contentVersion({ extension, model }), extension, model });
  }

  get(name: string): ExtensionPayload | undefined {
    return this.payloads.get(name)?.get();
  }

  names(): string[] {
    return [...this.payloads.entries()]
      .filter(([, c]) => c.get() !== undefined)
      .map(([n]) => n)
      .sort();
  }

  /** Resolves with the payload once its version differs from `version`, or undefined after timeoutMs. */
  waitForChange(name: string, version: string, timeoutMs: number): Promise<ExtensionPayload | undefined> {
    return this.cell(name).waitForChange(version, timeoutMs);
  }
}
