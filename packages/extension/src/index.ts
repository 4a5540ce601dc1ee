// Library surface, for other packages' tests: core's dashboard test runs the extension's real status
// API. The service itself starts from main.ts.
export * from './served-config.js';
export * from './server.js';
