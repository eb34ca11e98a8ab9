/**
 * System tests: the real agent process reads hw-sim's pulse oximeter through a real
 * pseudo-terminal and publishes to a real Mosquitto over TCP; a subscriber decodes what
 * the station would receive. Nothing here is mocked.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { observe, until } from '../support/observer';
import type { Received } from '../support/observer';
import { startBroker } from '../support/broker';
import { exitOf, startAgentProcess, startHwSim, VIGIL_CLI, writeAgentConfig } from '../support/processes';

async function system(t: { teardown(fn: () => unknown): void }, simArgs: string[]) {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const sub = await observe(broker.url);
  t.teardown(() => sub.end());
  const sim = await startHwSim(['masimo-ascii', '--seed', '7', ...simArgs]);
  t.teardown(() => sim.stop('SIGKILL'));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sys-'));
  const config = writeAgentConfig(dir, { brokerUrl: broker.url, devicePath: sim.path, heartbeatIntervalMs: 1000 });
  const agent = startAgentProcess(config);
  t.teardown(() => agent.stop('SIGKILL'));
  return { broker, sub, sim, agent, dir };
}

const obsOf = (got: Received[], parameter: string) =>
  got.filter((r) => r.topic.endsWith(`/obs/${parameter}`) && r.env.observation?.hasValue).map((r) => r.env.observation!);

t.test('REQ-SYS-001 hw-sim -> pty -> agent -> Mosquitto -> subscriber: values, units, both clocks, sequence', async (t) => {
  const { sub, sim, agent } = await system(t, ['--scenario', 'stable', '--period-ms', '250', '--start-time', '2026-01-01T10:00:00']);
  await until('8 SpO2 observations', () => obsOf(sub.got, 'spo2').length >= 8);
  const spo2 = obsOf(sub.got, 'spo2');
  const truth = sim.frames.filter((f) => f.injected === null);
  // Match observations to hw-sim's ground truth by the device time each frame carried.
  for (const o of spo2.slice(0, 8)) {
    const index = Math.round((Number(o.deviceTimeMs) - Date.UTC(2026, 0, 1, 10, 0, 0)) / 1000);
    const frame = truth.find((f) => f.index === index);
    t.ok(frame, `frame ${index} was sent by hw-sim`);
    t.equal(o.value, frame?.spo2Percent, `SpO2 of frame ${index}`);
    t.equal(o.unitUcum, '%');
    t.equal(o.status, 'RESULT_STATUS_FINAL');
    t.ok(Number(o.receiveWallMs) >= Number(frame?.sentWallMs) - 5, 'received after it was sent (same machine clock)');
    t.ok(Number(o.receiveWallMs) - Number(frame?.sentWallMs) < 1000, 'and within a second');
    t.ok(BigInt(o.receiveMonoNs) > 0n, 'monotonic receive time');
    t.equal(o.source.driver, 'masimo-ascii');
    t.equal(o.source.port, sim.path);
  }
  // Each frame's pulse is published just after its SpO2: wait for it rather than read it at once.
  const pulse = await until('8 pulse observations', () => {
    const p = obsOf(sub.got, 'pulseRate');
    return p.length >= 8 ? p : undefined;
  });
  t.ok(pulse.length >= 8, 'pulse observations too');
  t.equal(pulse[0]?.unitUcum, '/min');
  const fromAgent = sub.got.filter((r) => r.env.gatewayId === 'gw-test');
  // State messages (status: sequence 0) are outside the numbered stream (docs/interfaces/mqtt.md).
  const seqs = fromAgent.map((r) => Number(r.env.sequence)).filter((n) => n > 0);
  const firstBoot = fromAgent[0]?.env.bootId;
  t.ok(fromAgent.every((r) => r.env.bootId === firstBoot), 'one boot');
  t.same(seqs, seqs.map((_, i) => seqs[0]! + i), 'sequence numbers arrive in order without gaps');
  const score = [...sub.got].reverse().find((r) => r.env.score)?.env.score;
  t.equal(score?.complete, false, 'NEWS2 incomplete with only SpO2 and pulse');
  t.same(score?.missing, ['respRatePerMin', 'onOxygen', 'systolicMmHg', 'consciousness', 'tempCelsius']);
  const status = sub.got.find((r) => r.topic.endsWith('/status') && r.env.status?.online)?.env.status;
  t.equal(status?.interfaces[0]?.interfaceId, 'spo2');
  t.equal(agent.process.exitCode, null, 'agent still running');
});

t.test('REQ-SYS-002 HAZ-012 killing the agent makes the station show the gateway offline (last will)', async (t) => {
  const { broker, sub, agent } = await system(t, ['--scenario', 'stable', '--period-ms', '250']);
  await until('an observation', () => obsOf(sub.got, 'spo2').length >= 1);
  const station = spawn(process.execPath, [VIGIL_CLI, 'station', '--url', broker.url, '--json', '--refresh-ms', '200'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    station.kill('SIGKILL');
  });
  const views: Array<{ beds: Array<{ gateway: string; gatewayReason: string; values: Array<{ current: boolean }> }> }> = [];
  createInterface({ input: station.stdout! }).on('line', (l) => views.push(JSON.parse(l)));
  await until('the station to show the gateway online with current values', () =>
    views.some((v) => v.beds[0]?.gateway === 'online' && v.beds[0].values.some((x) => x.current)),
  );
  agent.process.kill('SIGKILL');
  await exitOf(agent.process);
  const will = await until('the last will', () => sub.got.find((r) => r.env.status && !r.env.status.online));
  t.equal(will.env.status?.reason, 'last-will');
  const offline = await until('the station to show the gateway offline', () =>
    views.find((v) => v.beds[0]?.gateway === 'offline'),
  );
  t.equal(offline.beds[0]?.gatewayReason, 'last-will');
  t.ok(offline.beds[0]?.values.every((v) => !v.current), 'no value shown as current from an offline gateway');
});

t.test('REQ-SYS-003 malformed, unknown-field and garbage lines are rejected and counted; the agent carries on', async (t) => {
  const { sub, agent } = await system(t, [
    '--scenario', 'stable', '--period-ms', '200', '--inject', 'malformed@2,unknown-field@3,garbage@4,overlong@5',
  ]);
  const status = await until('a status counting the rejected frames', () => {
    const s = [...sub.got].reverse().find((r) => r.env.status?.online)?.env.status;
    const counters = Object.fromEntries((s?.interfaces[0]?.counters ?? []).map((c) => [c.name, Number(c.value)]));
    return counters['frames-rejected.unsupported-variant'] && counters['frames-rejected.overflow'] && obsOf(sub.got, 'spo2').length >= 6
      ? counters
      : undefined;
  });
  t.equal(status['frames-rejected.malformed'], 1);
  t.equal(status['frames-rejected.unsupported-variant'], 1);
  t.ok(status['frames-rejected.framing']! >= 1, 'garbage bytes are a framing reject');
  t.equal(status['frames-rejected.overflow'], 1);
  const alarm = sub.got.find((r) => r.topic.endsWith('/alarm/spo2.frames-rejected'))?.env.alarm;
  t.equal(alarm?.kind, 'ALARM_KIND_TECHNICAL', 'repeated rejects raise a technical alarm');
  t.equal(agent.process.exitCode, null, 'the agent did not crash');
  t.ok(agent.logs.some((l) => /"event":"frame-rejected".*"reason":"unsupported-variant"/.test(l)), 'logged with its reason');
});

t.test('REQ-SYS-004 HAZ-003 unplugging the device withdraws its values and raises a technical alarm', async (t) => {
  const { sub, sim, agent } = await system(t, ['--scenario', 'stable', '--period-ms', '250']);
  await until('observations', () => obsOf(sub.got, 'spo2').length >= 2);
  await sim.stop('SIGKILL');
  const withdrawn = await until('SpO2 withdrawn', () =>
    sub.got.find((r) => r.env.observation?.parameter === 'spo2' && r.env.observation.status === 'RESULT_STATUS_UNAVAILABLE'),
  );
  t.match(withdrawn.env.observation?.unavailableReason, /^link-(lost|stale)$/);
  const alarm = await until('link alarm', () => sub.got.find((r) => /\/alarm\/spo2\.link-(lost|stale)$/.test(r.topic))?.env.alarm);
  t.equal(alarm.state, 'ALARM_STATE_ACTIVE');
  t.equal(alarm.priority, 'ALARM_PRIORITY_MEDIUM');
  t.equal(agent.process.exitCode, null, 'the agent keeps running and keeps trying to reopen');
});

t.test('REQ-SYS-005 a config error is reported as path: message and exits 2 without starting', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-badcfg-'));
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify({ gateway: { gatewayId: 'gw 1' }, mqtt: { url: 'mqtt://x:1' }, interfaces: [] }));
  const child = spawn(process.execPath, [VIGIL_CLI, 'run', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  t.equal(await exitOf(child), 2);
  t.match(stderr, /gateway\.gatewayId: must be/);
  t.match(stderr, /gateway\.siteId: /);
  t.match(stderr, /mqtt\.url: is plain TCP/);
  t.match(stderr, /interfaces: must list at least one interface/);
});
