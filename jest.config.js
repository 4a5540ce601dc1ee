// Projects so the fast ones run alone: unit (pure), integration (real nginx), e2e (real swarm),
// faults (kills Signalbox's components and restarts dockerd on the real swarm: ./scripts/test.sh faults),
// multinode (a swarm of namespaced engines).
export const shared = {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  // Image build contexts and Stryker's sandboxes hold copies of the packages; never test those.
  modulePathIgnorePatterns: ['<rootDir>/.build/', '<rootDir>/.stryker-tmp/'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/.build/', '<rootDir>/.stryker-tmp/'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    '^@signalbox/([a-z-]+)$': '<rootDir>/packages/$1/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.test.json' }],
  },
};
export default {
  // Tests wait for conditions with generous ceilings; a loaded machine (2 cores, 8 engineers) must not
  // turn a slow pass into a failure.
  testTimeout: 30_000,
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: ['<rootDir>/packages/*/test/**/*.test.ts'],
      testPathIgnorePatterns: [...shared.testPathIgnorePatterns, '\\.int\\.test\\.ts$', '\\.e2e\\.test\\.ts$', '\\.fault\\.test\\.ts$', '\\.multinode\\.test\\.ts$'],
    },
    { ...shared, displayName: 'integration', testMatch: ['<rootDir>/packages/*/test/**/*.int.test.ts'] },
    { ...shared, displayName: 'e2e', testMatch: ['<rootDir>/packages/e2e/test/**/*.e2e.test.ts'] },
    { ...shared, displayName: 'faults', testMatch: ['<rootDir>/packages/e2e/test/**/*.fault.test.ts'] },
    // Multi-node swarm of scripts/multinode.sh (DOCKER_HOST from `scripts/multinode.sh env`).
    { ...shared, displayName: 'multinode', testMatch: ['<rootDir>/packages/e2e/test/**/*.multinode.test.ts'] },
  ],
};
