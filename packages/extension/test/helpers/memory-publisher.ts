// A ConfigPublisher that keeps what it is given in memory, for the pipeline tests (no Docker).
import type { ConfigPublisher, PublishedConfig } from '../../src/publisher.js';
import { sha256 } from '../../src/publisher.js';

export class MemoryPublisher implements ConfigPublisher {
  readonly published: PublishedConfig[] = [];

  async publish(text: string): Promise<PublishedConfig> {
    const p = { name: `cfg-${sha256(text).slice(0, 12)}`, sha256: sha256(text), text };
    this.published.push(p);
    return p;
  }

  async latest(): Promise<PublishedConfig | undefined> {
    return this.published.at(-1);
  }
}
