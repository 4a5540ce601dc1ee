// What core serves an extension (GET /v1/extensions/NAME/model): protocol's payload envelope with this
// package's config section and routing model in it. Core builds it, the extension and the CLI read it.
import { extensionPayloadSchema, wireValidator, type ExtensionPayloadOf } from '@signalbox/protocol';
import type { ExtensionConfig } from './config-types.js';
import type { ClusterModel } from './routing-model.js';

export type ExtensionPayload = ExtensionPayloadOf<ExtensionConfig, ClusterModel>;

const checkPayload = wireValidator(extensionPayloadSchema, "core's model payload");

/**
 * A payload received from core, checked against the wire schema (the envelope and the routing model
 * all the way down: routes, upstreams, servers, TLS); throws WireError naming the first mismatches
 * otherwise. The extension section is checked for the service names; its other keys are the config
 * section core parsed with the same release's config schema.
 */
export function readExtensionPayload(body: unknown): ExtensionPayload {
  const payload = checkPayload(body);
  return { ...payload, model: payload.model as ClusterModel, extension: payload.extension as unknown as ExtensionConfig };
}
