// Publishes validated configs as Docker config objects: content-addressed names, labelled so they can be
// found (latest on restart) and garbage-collected, keeping a few previous ones for rollback.
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type Docker from 'dockerode';
import type { Logger } from '@signalbox/protocol';
import { LABEL_EXTENSION, LABEL_OWNER, LABEL_SHA } from '@signalbox/protocol';

export interface PublishedConfig {
  name: string;
  sha256: string;
  text: string;
}

export interface ConfigPublisher {
  publish(text: string): Promise<PublishedConfig>;
  latest(): Promise<PublishedConfig | undefined>;
}

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * Swarm refuses config objects of 1 024 000 bytes or more, which a cluster of ~1 000 services reaches
 * (about 1 kB of nginx.conf each). Above this size the object holds the config gzipped (~16x smaller);
 * readers (latest() here, the proxy agent's bootstrap) recognise the gzip magic bytes. nginx.conf is
 * text and never starts with them.
 */
export const PLAIN_CONFIG_MAX_BYTES = 1_000_000;

export function encodeConfigData(text: string): Buffer {
  const plain = Buffer.from(text);
  return plain.length < PLAIN_CONFIG_MAX_BYTES ? plain : gzipSync(plain);
}

export function decodeConfigData(data: Buffer): string {
  return (data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data) : data).toString('utf8');
}

/* eslint-disable @typescript-eslint/no-explicit-any */
type Raw = any;

export class DockerConfigPublisher implements ConfigPublisher {
  constructor(
    private readonly docker: Docker,
    private readonly extension: string,
    private readonly owner: string,
    private readonly log: Logger,
    private readonly keep = 5,
  ) {}

  private nameFor(sha: string): string {
    return `signalbox-${this.extension}-${sha.slice(0, 16)}`;
  }

  async publish(text: string): Promise<PublishedConfig> {
    const sha = sha256(text);
    const name = this.nameFor(sha);
    try {
      await this.docker.createConfig({
        Name: name,
        Labels: { [LABEL_EXTENSION]: this.extension, [LABEL_SHA]: sha, [LABEL_OWNER]: this.owner },
        Data: encodeConfigData(text).toString('base64'),
      } as Raw);
      this.log.info({ config: name, bytes: text.length }, 'published config object');
    } catch (e) {
      // Same bytes published before (e.g. after a restart): the name already exists, which is fine.
      if ((e as { statusCode?: number }).statusCode !== 409) throw e;
    }
    await this.collectGarbage();
    return { name, sha256: sha, text };
  }

  private async ours(): Promise<Raw[]> {
    const list = (await this.docker.listConfigs({ filters: { label: [`${LABEL_EXTENSION}=${this.extension}`] } })) as Raw[];
    return list.sort((a, b) => String(b.CreatedAt).localeCompare(String(a.CreatedAt)) || String(b.ID).localeCompare(String(a.ID)));
  }

  async latest(): Promise<PublishedConfig | undefined> {
    const newest = (await this.ours())[0];
    if (!newest) return undefined;
    const full = (await this.docker.getConfig(newest.ID).inspect()) as Raw;
    const text = decodeConfigData(Buffer.from(String(full.Spec?.Data ?? ''), 'base64'));
    return { name: String(full.Spec?.Name), sha256: sha256(text), text };
  }

  private async collectGarbage(): Promise<void> {
    const old = (await this.ours()).slice(this.keep);
    for (const c of old) {
      try {
        await this.docker.getConfig(c.ID).remove();
      } catch (e) {
        // In use by a service (mounted as bootstrap): keep it; the engine refuses anyway.
        this.log.debug({ config: c.Spec?.Name, err: (e as Error).message }, 'config object not removed');
      }
    }
  }
}
