/**
 * tap's `--coverage-map` for `make test`: whatever the test file, V8 coverage is recorded for the
 * product's TypeScript (compiled to dist/agent/src, mapped back to agent/src by the source maps),
 * in the test process and in every Node process it starts with its environment (the agent of
 * the system tests). hw-sim and the test code are not product code: not recorded, so that the
 * coverage files stay small.
 */
function coverageMap(_testFile: string): string {
  return 'dist/agent/src/**/*.js';
}

export = coverageMap;
