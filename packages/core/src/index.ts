export { buildApp } from './api.js';
export { Coalescer } from './coalescer.js';
export { ModelStore } from './model-store.js';
export { StatusTracker } from './status-tracker.js';
export { Synchronizer } from './synchronizer.js';
export { desiredExtensionSpec, desiredProxySpec } from './desired-specs.js';
