/**
 * The package's two commands as a user runs them after the build: `npx vigil ...` and
 * `npx hw-sim ...` from the project root (issue 2), through npm, not `node dist/...`.
 */
import t from 'tap';
import { ROOT, runCollecting } from '../support/processes';

const npx = (args: string[]) => runCollecting('npx', ['--no-install', ...args], ROOT);

t.test('REQ-SYS-006 npx vigil and npx hw-sim run from the project root after the build', async (t) => {
  const vigil = await npx(['vigil', '--help']);
  t.equal(vigil.code, 0, `npx vigil --help exits 0 ${vigil.err.split('\n').filter((l) => !l.startsWith('npm warn')).join(' ')}`);
  t.match(vigil.out, /^usage:\n {2}vigil run --config/, 'the agent and its tools');
  const sim = await npx(['hw-sim', '--help']);
  t.equal(sim.code, 0, `npx hw-sim --help exits 0 ${sim.err.split('\n').filter((l) => !l.startsWith('npm warn')).join(' ')}`);
  t.match(sim.out, /^usage: hw-sim masimo-ascii/, 'the simulator');
  const wrong = await npx(['vigil', 'no-such-command']);
  t.equal(wrong.code, 2, 'an unknown command is a usage error (exit 2)');
});
