// The config currently offered to proxy agents; versioned by its sha256 (the ETag they long-poll with).
import { VersionedValue } from '@signalbox/protocol';

export interface ServedConfig {
  name: string;
  sha256: string;
  text: string;
  /**
   * Proxy tasks that must not install `text` (core's retiredProxyTasks for the model it was rendered
   * from): replaced tasks whose network attachments core stopped waiting for. Sent beside the text.
   */
  notForTasks?: readonly string[];
}

export class ServedConfigState extends VersionedValue<ServedConfig> {
  constructor() {
    super((c) => c.sha256);
  }
}
