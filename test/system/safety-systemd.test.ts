/**
 * The agent's systemd protocol, checked against a notification socket the test listens on:
 * READY only once it is ready, WATCHDOG pings while every stage makes progress, STOPPING on
 * a clean stop. Real agent process, real pty (hw-sim), real Mosquitto.
 */
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker } from '../support/broker';
import { startNotifyListener } from '../support/notify-listener';
import { exitOf, startAgentProcess, startHwSim, writeAgentConfig } from '../support/processes';

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test('REQ-SAFE-010 the agent notifies systemd: READY when ready, WATCHDOG while progressing, STOPPING on stop', async (t) => {
  const listener = await startNotifyListener();
  t.teardown(() => listener.stop());
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const sim = await startHwSim(['masimo-ascii', '--scenario', 'stable', '--period-ms', '250']);
  t.teardown(() => sim.stop('SIGKILL'));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sd-'));
  const agent = startAgentProcess(writeAgentConfig(dir, { brokerUrl: broker.url, devicePath: sim.path }), {
    NOTIFY_SOCKET: listener.socketPath,
    WATCHDOG_USEC: '1000000',
  });
  t.teardown(() => agent.stop('SIGKILL'));
  const ready = await until('READY=1', () => listener.datagrams.find((d) => d.split('\n').includes('READY=1')));
  t.match(ready, /^STATUS=streaming 1 interface\(s\)$/m, 'with a status line');
  t.match(ready, new RegExp(`^MAINPID=${agent.process.pid}$`, 'm'), 'naming the main pid');
  const readyAt = listener.datagrams.indexOf(ready);
  await until('three watchdog pings', () => listener.datagrams.slice(readyAt).filter((d) => d === 'WATCHDOG=1').length >= 3);
  t.notOk(listener.datagrams.slice(0, readyAt).includes('WATCHDOG=1'), 'no ping before READY');
  agent.process.kill('SIGTERM');
  t.equal(await exitOf(agent.process), 0, 'a clean stop exits 0');
  t.ok(listener.datagrams.includes('STOPPING=1'), 'STOPPING=1 sent');
});

t.test('REQ-SAFE-014 SIGTERM while the broker is unreachable: the agent still stops promptly, and exits 0', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const sim = await startHwSim(['masimo-ascii', '--scenario', 'stable', '--period-ms', '250']);
  t.teardown(() => sim.stop('SIGKILL'));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sd-'));
  const agent = startAgentProcess(writeAgentConfig(dir, { brokerUrl: broker.url, devicePath: sim.path }));
  t.teardown(() => agent.stop('SIGKILL'));
  await until('connected', () => agent.logs.some((l) => l.includes('"event":"mqtt-connected"')));
  await broker.stop(); // messages accepted from now on wait on disk, unacknowledged
  await until('offline', () => agent.logs.some((l) => l.includes('"event":"mqtt-offline"')));
  await new Promise((r) => setTimeout(r, 1000));
  const stoppedAt = Date.now();
  agent.process.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([exitOf(agent.process), new Promise<string>((r) => (timer = setTimeout(() => r('still running after 10 s'), 10_000)))]);
  clearTimeout(timer);
  t.equal(code, 0, 'exits 0');
  t.ok(Date.now() - stoppedAt < 10_000, `stopped after ${Date.now() - stoppedAt} ms (systemd's TimeoutStopSec is 15 s)`);
});

t.test('REQ-SAFE-014 SIGTERM while the broker has stopped answering: every stop step is bounded, and the agent exits 0 before systemd would kill it', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const sim = await startHwSim(['masimo-ascii', '--scenario', 'stable', '--period-ms', '250']);
  t.teardown(() => sim.stop('SIGKILL'));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sd-'));
  const agent = startAgentProcess(writeAgentConfig(dir, { brokerUrl: broker.url, devicePath: sim.path }));
  t.teardown(() => agent.stop('SIGKILL'));
  await until('connected', () => agent.logs.some((l) => l.includes('"event":"mqtt-connected"')));
  broker.process.kill('SIGSTOP'); // connected, but no PUBACK will come: the offline status would wait forever
  t.teardown(() => broker.process.kill('SIGCONT'));
  const stoppedAt = Date.now();
  agent.process.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([exitOf(agent.process), new Promise<string>((r) => (timer = setTimeout(() => r('still running after 14 s'), 14_000)))]);
  clearTimeout(timer);
  const tookMs = Date.now() - stoppedAt;
  t.equal(code, 0, 'exits 0');
  t.ok(tookMs < 14_000, `stopped after ${tookMs} ms (systemd's TimeoutStopSec is 15 s)`);
  t.ok(agent.logs.some((l) => /"event":"stop-step-timeout","step":"offline-status"/.test(l)), 'the step that could not finish is named in the log');
});
