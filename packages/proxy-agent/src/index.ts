// Library surface, for tests and for anyone embedding the agent.
export * from './acme-files.js';
export * from './agent.js';
export * from './api.js';
export * from './builtin.js';
export * from './drain.js';
export * from './edge.js';
export * from './edge-peers.js';
export * from './fetcher.js';
export * from './installer.js';
export * from './nginx.js';
export * from './options.js';
export * from './persist.js';
export * from './supervisor.js';
export * from './upstream-failures.js';
export * from './watcher.js';
export * from './workers.js';
