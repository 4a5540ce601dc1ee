export * from './snapshot.js';
export * from './diagnostics.js';
export * from './labels-types.js';
export * from './routing-model.js';
export * from './config-types.js';
