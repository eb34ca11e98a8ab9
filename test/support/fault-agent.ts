/**
 * Test-only entry point: the real agent process (`vigil run`, through the same `runAgent`)
 * whose NEWS2 scorer panics inside Rust on every second call, so that the single-fault test
 * REQ-SAFE-039 shows the containment of a native failure on the real process. The scorer is
 * the test build of the addon (test/support/native-test-hooks.ts); the installed agent has
 * no way to do this (REQ-NATIVE-003).
 *
 *   node dist/test/support/fault-agent.js --config <file.json>
 *
 * It announces itself in the agent's log (`fault-injection-active`) before the first score.
 */
import { parseArgs } from 'node:util';
import { runAgent } from '../../agent/src/commands/run';
import type { Logger } from '../../agent/src/log';
import type { News2Scorer } from '../../agent/src/scoring/news2-stage';
import { loadTestNative } from './native-test-hooks';

/** A scorer that panics inside the test build of the addon on every second call. */
export function panickingScorer(logger: Logger): News2Scorer {
  const addon = loadTestNative();
  logger.error('fault-injection-active', { fault: 'native-panic', detail: 'test harness only: every second NEWS2 call panics' });
  let calls = 0;
  return (input) => {
    calls += 1;
    if (calls % 2 === 0) addon.panicForTest('injected by test/support/fault-agent');
    return addon.scoreNews2(input);
  };
}

if (require.main === module) {
  const { values } = parseArgs({ options: { config: { type: 'string' } }, strict: true });
  if (values.config === undefined) {
    process.stderr.write('usage: fault-agent --config <file.json>\n');
    process.exit(2);
  }
  runAgent(values.config, { createScorer: panickingScorer }).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`fault-agent: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
