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
  /**
   * The config for the tasks of a roll that replace the old ones (the model's proxyTasksPastPending):
   * the routes held for the old tasks are published in it. Absent when nothing is held for a roll.
   */
  early?: { name: string; sha256: string; text: string; forTasks: readonly string[] };
}

/** What the task `taskId` is served ('' = an agent that does not say): the early config if it is named for it. */
export function configForTask(c: ServedConfig, taskId: string): Omit<ServedConfig, 'early'> {
  if (taskId === '' || c.early === undefined || !c.early.forTasks.includes(taskId)) return c;
  return { name: c.early.name, sha256: c.early.sha256, text: c.early.text, ...(c.notForTasks ? { notForTasks: c.notForTasks } : {}) };
}

export class ServedConfigState extends VersionedValue<ServedConfig> {
  constructor() {
    super((c) => [c.sha256, c.early?.sha256 ?? '', (c.early?.forTasks ?? []).join(','), (c.notForTasks ?? []).join(',')].join('|'));
  }
}
