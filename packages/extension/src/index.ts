// Library surface, for other packages' tests and benchmarks: core's dashboard test runs the extension's
// real status API, the data-path and draining benchmarks its renderer. The service starts from main.ts.
export { renderNginxConf } from './render/index.js';
export * from './served-config.js';
export * from './server.js';
