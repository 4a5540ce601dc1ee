// StrykerJS mutation testing, one target at a time (scripts/mutate.sh TARGET): the sources of a package
// (or of the parts named in issue 16) are mutated and that package's own tests must catch each mutant.
import { shared } from './jest.config.js';

const TARGETS = {
  model: {
    mutate: ['packages/model/src/**/*.ts', '!packages/model/src/index.ts', '!packages/model/src/*-types.ts', '!packages/model/src/routing-model.ts', '!packages/model/src/snapshot.ts'],
    tests: ['<rootDir>/packages/model/test/**/*.test.ts'],
  },
  // The extension pipeline: render → policy → nginx -t (real nginx) → bisection → publish.
  extension: {
    mutate: ['packages/extension/src/pipeline.ts', 'packages/extension/src/exclusion.ts'],
    tests: ['<rootDir>/packages/extension/test/pipeline.int.test.ts'],
  },
  // The agent's installer and nginx supervisor.
  'proxy-agent': {
    mutate: ['packages/proxy-agent/src/installer.ts', 'packages/proxy-agent/src/supervisor.ts'],
    tests: ['<rootDir>/packages/proxy-agent/test/installer.test.ts', '<rootDir>/packages/proxy-agent/test/supervisor.test.ts'],
  },
  // Core's synchronizer, managed services and events watcher.
  core: {
    mutate: [
      'packages/core/src/synchronizer.ts',
      'packages/core/src/coalescer.ts',
      'packages/core/src/managed-services.ts',
      'packages/core/src/desired-specs.ts',
      'packages/core/src/proxy-networks.ts',
      'packages/core/src/docker/events.ts',
    ],
    tests: ['<rootDir>/packages/core/test/**/*.test.ts'],
  },
};

const name = process.env.SBX_MUTATE_TARGET ?? 'model';
const target = TARGETS[name];
if (!target) throw new Error(`unknown mutation target ${name}; one of ${Object.keys(TARGETS).join(', ')}`);
const only = process.env.SBX_MUTATE_FILES; // optional: a comma-separated subset of the target's files

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'pnpm',
  testRunner: 'jest',
  testRunnerNodeArgs: ['--experimental-vm-modules'],
  plugins: ['@stryker-mutator/jest-runner'],
  jest: {
    projectType: 'custom',
    // No rootDir: the runner's working directory is Stryker's sandbox, whose sources carry the mutants.
    config: { ...shared, testMatch: target.tests, testPathIgnorePatterns: ['/node_modules/', '/\.build/'] },
    enableFindRelatedTests: false,
  },
  coverageAnalysis: 'perTest',
  mutate: only ? only.split(',') : target.mutate,
  ignorePatterns: ['**/dist/**', '.build', 'reports', '.git', '.stryker-tmp'],
  concurrency: Number(process.env.SBX_MUTATE_CONCURRENCY ?? 2),
  // A mutant that makes a test hang (a sleep that never ends) counts as detected after this much more
  // than the test run took unmutated.
  timeoutMS: Number(process.env.SBX_MUTATE_TIMEOUT_MS ?? 5_000),
  reporters: ['clear-text', 'progress-append-only', 'json', 'html'],
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  // One directory per target, so targets can run side by side.
  tempDirName: `.stryker-tmp/${name}`,
  cleanTempDir: true,
};
