// @signalbox/protocol: what the services agree on (the wire, and the rules a certificate pair must meet). Depends on nothing of Signalbox's.
export * from './constants.js';
export * from './errors.js';
export * from './wire.js';
export * from './dashboard.js';
export * from './validate.js';
export * from './api-token.js';
export * from './long-poll-route.js';
export * from './backoff.js';
export * from './logging.js';
export * from './long-poll-client.js';
export * from './certificate-pair.js';
