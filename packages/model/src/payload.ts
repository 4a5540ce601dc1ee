// What core serves an extension (GET /v1/extensions/NAME/model): protocol's payload envelope with this
// package's config section and routing model in it. Core builds it, the extension and the CLI read it.
import { extensionPayloadSchema, wireValidator, type ExtensionPayloadOf } from '@signalbox/protocol';
import type { ExtensionConfig } from './config-types.js';
import type { ClusterModel } from './routing-model.js';

export type ExtensionPayload = ExtensionPayloadOf<ExtensionConfig, ClusterModel>;

const checkEnvelope = wireValidator(extensionPayloadSchema, "core's model payload");

/**
 * A payload received from core, checked against the wire schema (envelope and the model's top-level
 * fields); throws WireError otherwise. The model inside is core's builder output of the same release,
 * so its deeper shape is taken as typed.
 */
export function readExtensionPayload(body: unknown): ExtensionPayload {
  return checkEnvelope(body) as unknown as ExtensionPayload;
}
