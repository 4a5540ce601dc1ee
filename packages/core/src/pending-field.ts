// The model core serves carries each pending list only when it has entries, so an extension (and the
// model's version) sees no change while nothing is pending.
import type { ClusterModel } from '@signalbox/model';

type PendingKey = 'pendingSecrets' | 'pendingNetworks' | 'retiredProxyTasks' | 'retiredExtensionTasks' | 'proxyTasksPastPending' | 'proxyRelayPeers';

/** `model` with `key` set to `list`, or without `key` when `list` is empty (the same object when unchanged). */
export function withPendingField<K extends PendingKey>(model: ClusterModel, key: K, list: NonNullable<ClusterModel[K]>): ClusterModel {
  if (list.length > 0) return { ...model, [key]: list };
  if (model[key] === undefined) return model;
  const rest = { ...model };
  delete rest[key];
  return rest;
}
