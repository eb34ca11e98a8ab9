/**
 * The unit's sandbox against what the agent really does: the built agent, started with the unit's
 * Node flags, streams from hw-sim on a pty to a real Mosquitto under strace(1), and every system call
 * it made must be one the unit's SystemCallFilter= allows (else it would fail with EPERM under
 * systemd), and it must look at no other process in /proc (ProtectProc=invisible hides them).
 * Runs with the Node that runs the tests (`make test`: the supported runtime the package ships).
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker } from '../support/broker';
import { UNIT_FILE, unitNodeFlags } from '../support/bench/agent-flags';
import { observe, until } from '../support/observer';
import { exitOf, ROOT, startHwSim, VIGIL_CLI, writeAgentConfig } from '../support/processes';
import { allowedSyscalls, unitDirectives } from '../support/systemd-unit';

t.test('REQ-INST-032 every system call the streaming agent makes is allowed by the unit\'s filter, and it reads no other process in /proc', async (t) => {
  t.equal(spawnSync('sh', ['-c', 'command -v strace']).status, 0, 'strace is installed (make deps)');
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const sub = await observe(broker.url);
  t.teardown(() => sub.end());
  const sim = await startHwSim(['masimo-ascii', '--scenario', 'stable', '--period-ms', '250']);
  t.teardown(() => sim.stop('SIGKILL'));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sandbox-'));
  const trace = join(dir, 'strace.txt');
  // -f: every thread (libuv's pool, V8's compiler threads); -qq: no attach/exit notes.
  const tracer = spawn('strace', ['-f', '-qq', '-o', trace, process.execPath, ...unitNodeFlags(), VIGIL_CLI, 'run', '--config', writeAgentConfig(dir, { brokerUrl: broker.url, devicePath: sim.path })], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.teardown(() => tracer.kill('SIGKILL'));
  let log = '';
  tracer.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  // The whole path runs while traced: device read, decode, native scoring, queue on disk, publish.
  await until('observations and a score at the subscriber', () => sub.got.some((r) => r.env.observation) && sub.got.some((r) => r.env.score), 30_000);
  const agentPid = Number(/^(\d+)\s/.exec(readFileSync(trace, 'utf8'))?.[1]);
  process.kill(agentPid, 'SIGTERM');
  t.equal(await exitOf(tracer), 0, 'the traced agent stopped cleanly (strace exits with its status)');
  t.notMatch(log, /"level":"error"/, 'no error logged while traced');

  const lines = readFileSync(trace, 'utf8').split('\n');
  const used = new Set<string>();
  const pids = new Set<string>();
  for (const l of lines) {
    const m = /^(\d+)\s+([a-z0-9_]+)\(/.exec(l); // `<... x resumed>` lines continue a call already counted
    if (m) {
      pids.add(m[1]!);
      used.add(m[2]!);
    }
  }
  t.ok(used.size > 30, `${used.size} distinct system calls traced`);
  const allowed = allowedSyscalls(unitDirectives(readFileSync(UNIT_FILE, 'utf8')));
  t.same([...used].filter((c) => !allowed.has(c)).sort(), [], 'every call is allowed by SystemCallFilter=');

  const procPaths = [...new Set(lines.flatMap((l) => [...l.matchAll(/"(\/proc\/[^"]*)"/g)].map((m) => m[1]!)))].sort();
  const otherProcess = procPaths.filter((p) => {
    const n = /^\/proc\/(\d+)(\/|$)/.exec(p)?.[1];
    return n !== undefined && !pids.has(n);
  });
  t.same(otherProcess, [], 'no other process\'s /proc entry is read (ProtectProc=invisible)');
  // Why ProcSubset=pid is not set: it would hide this file (docs/interfaces/systemd.md).
  t.ok(procPaths.includes('/proc/sys/kernel/random/boot_id'), 'the boot id is read (a restart is told from a reboot)');

  const out = join(ROOT, 'build', 'systemd');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'agent-syscalls.json'), `${JSON.stringify({ node: process.version, syscalls: [...used].sort(), procFiles: procPaths.filter((p) => !/^\/proc\/(\d+|self|thread-self)\//.test(p)) }, null, 2)}\n`);
});
