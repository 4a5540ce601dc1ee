// @signalbox/test-support: helpers the packages' tests share. Only ever a devDependency.
export * from './self-signed.js';
