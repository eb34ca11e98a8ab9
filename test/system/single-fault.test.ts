/**
 * Single-fault safety (MDR Annex I 17.1), proven by fault injection through real
 * pseudo-terminals, the real agent process and a real Mosquitto. Each test records its
 * detection time (fault -> technical alarm at a subscriber) for docs/single-fault.md.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker } from '../support/broker';
import { observe, until } from '../support/observer';
import type { Received } from '../support/observer';
import { FAULT_AGENT, exitOf, startAgentProcess, startHwSim, writeAgentConfig } from '../support/processes';
import { recordFault } from '../support/single-fault';

const QUIET_MS = 2000;

async function system(t: { teardown(fn: () => unknown): void }, simArgs: string[], o: { link?: string } = {}) {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const sub = await observe(broker.url);
  t.teardown(() => sub.end());
  const dir = mkdtempSync(join(tmpdir(), 'vigil-fault-'));
  const link = o.link ? join(dir, o.link) : undefined;
  const sim = await startHwSim(['masimo-ascii', '--seed', '11', ...(link ? ['--link', link] : []), ...simArgs]);
  t.teardown(() => sim.stop('SIGKILL'));
  const config = writeAgentConfig(dir, { brokerUrl: broker.url, devicePath: link ?? sim.path, quietTimeMs: QUIET_MS });
  const agent = startAgentProcess(config);
  t.teardown(() => agent.stop('SIGKILL'));
  // On failure, the agent's own log says what it saw.
  t.teardown(() => {
    if ((t as { passing?: () => boolean }).passing?.() === false) process.stderr.write(`agent log:\n${agent.logs.slice(-40).join('\n')}\n`);
  });
  return { broker, sub, sim, agent, dir, link, config };
}

const alarmAt = (got: Received[], id: string, state = 'ALARM_STATE_ACTIVE', after = 0) =>
  got.find((r) => r.topic.endsWith(`/alarm/${id}`) && r.env.alarm?.state === state && r.atMs >= after);
const valueObs = (got: Received[], parameter: string) =>
  got.filter((r) => r.topic.endsWith(`/obs/${parameter}`) && r.env.observation?.hasValue);
const withdrawnAfter = (got: Received[], parameter: string, after: number) =>
  got.find((r) => r.topic.endsWith(`/obs/${parameter}`) && r.env.observation?.status === 'RESULT_STATUS_UNAVAILABLE' && r.atMs >= after);

t.test('REQ-SAFE-030 HAZ-003 sensor cable unplugged then re-plugged: lost, alarmed, withdrawn; recovers without restart', async (t) => {
  const { sub, sim, agent, link } = await system(t, ['--scenario', 'stable', '--period-ms', '500'], { link: 'vigil-spo2' });
  await until('values', () => valueObs(sub.got, 'spo2').length >= 2);
  const unpluggedAt = Date.now();
  await sim.stop('SIGTERM'); // hw-sim closes the pty: the agent's port sees a hang-up
  const alarm = await until('link-lost alarm', () => alarmAt(sub.got, 'spo2.link-lost', 'ALARM_STATE_ACTIVE', unpluggedAt));
  const detectionMs = alarm.atMs - unpluggedAt;
  // Alarms are forwarded ahead of other messages (docs/interfaces/durable-queue.md): the
  // withdrawal may arrive just after the alarm, within the quiet time.
  const withdrawn = await until('SpO2 withdrawn', () => withdrawnAfter(sub.got, 'spo2', unpluggedAt), QUIET_MS);
  t.ok(withdrawn.atMs - unpluggedAt <= QUIET_MS, `SpO2 withdrawn (published unavailable) after ${withdrawn.atMs - unpluggedAt} ms`);
  t.ok(detectionMs <= QUIET_MS, `lost within the quiet time (${detectionMs} ms)`);
  const replugged = await startHwSim(['masimo-ascii', '--seed', '12', '--link', link!, '--scenario', 'stable', '--period-ms', '500']);
  t.teardown(() => replugged.stop('SIGKILL'));
  const replugAt = Date.now();
  const cleared = await until('alarm cleared', () => alarmAt(sub.got, 'spo2.link-lost', 'ALARM_STATE_CLEARED', replugAt), 40_000);
  const resumed = await until('values again', () => valueObs(sub.got, 'spo2').find((r) => r.atMs >= replugAt));
  t.ok(resumed.env.observation?.quality.includes('QUALITY_FLAG_RECOVERED'), 'the first value after the gap is flagged recovered');
  t.equal(agent.process.exitCode, null, 'no restart needed');
  recordFault(t, {
    test: 'REQ-SAFE-030',
    fault: 'sensor cable unplugged, then re-plugged',
    expected: 'lost within the quiet time, technical alarm, values withdrawn; recovers without restart',
    quietTimeMs: QUIET_MS,
    detectionMs,
    alarm: `spo2.link-lost (medium); cleared ${cleared.atMs - replugAt} ms after re-plug`,
  });
});

t.test('REQ-SAFE-031 HAZ-003 device connected but silent: stale within the quiet time, alarmed, withdrawn', async (t) => {
  const { sub, sim } = await system(t, ['--scenario', 'stable', '--period-ms', '250', '--frames', '8']);
  await until('eight frames sent', () => sim.frames.length >= 8);
  const lastSentMs = Number(sim.frames.at(-1)?.sentWallMs);
  const alarm = await until('link-stale alarm', () => alarmAt(sub.got, 'spo2.link-stale'));
  const detectionMs = alarm.atMs - lastSentMs;
  // Alarms are forwarded ahead of other messages: the withdrawal and the score may trail it.
  t.ok(await until('values withdrawn', () => withdrawnAfter(sub.got, 'spo2', lastSentMs), QUIET_MS), 'values withdrawn');
  const score = await until('a score without SpO2', () => [...sub.got].reverse().find((r) => r.env.score)?.env.score?.missing.includes('spo2Percent'), QUIET_MS);
  t.ok(score, 'the score no longer uses SpO2');
  t.ok(detectionMs >= QUIET_MS - 50 && detectionMs <= QUIET_MS + 1000, `stale after the quiet time (${detectionMs} ms)`);
  recordFault(t, {
    test: 'REQ-SAFE-031',
    fault: 'device connected but silent',
    expected: 'stale via the quiet time, technical alarm, values withdrawn, score incomplete',
    quietTimeMs: QUIET_MS,
    detectionMs,
    alarm: 'spo2.link-stale (medium)',
  });
});

t.test('REQ-SAFE-032 HAZ-008 device sends garbage: frames rejected and counted, technical alarm above the rate', async (t) => {
  const { sub, sim, agent } = await system(t, ['--scenario', 'stable', '--period-ms', '250', '--inject', 'garbage@16,garbage@17,garbage@18']);
  const alarm = await until('frames-rejected alarm', () => alarmAt(sub.got, 'spo2.frames-rejected'));
  const firstFault = sim.frames.find((f) => f.injected === 'garbage');
  const detectionMs = alarm.atMs - Number(firstFault?.sentWallMs);
  t.equal(agent.process.exitCode, null, 'no crash');
  const after = await until('good values after the garbage', () => valueObs(sub.got, 'spo2').find((r) => r.atMs > alarm.atMs));
  t.ok(after, 'the agent carries on with good frames');
  recordFault(t, {
    test: 'REQ-SAFE-032',
    fault: 'device sends garbage bytes',
    expected: 'frames rejected and counted; above the rate (3 in 10 s), technical alarm',
    quietTimeMs: QUIET_MS,
    detectionMs,
    alarm: 'spo2.frames-rejected (low)',
  });
});

t.test('REQ-SAFE-033 HAZ-004 device clock wrong by an hour: flagged untrusted, ages from the gateway clock, data still flows', async (t) => {
  const start = new Date(Date.now() - 3_600_000);
  const p = (n: number) => String(n).padStart(2, '0');
  const startTime = `${start.getFullYear()}-${p(start.getMonth() + 1)}-${p(start.getDate())}T${p(start.getHours())}:${p(start.getMinutes())}:${p(start.getSeconds())}`;
  const injectedAt = Date.now();
  const { sub } = await system(t, ['--scenario', 'stable', '--period-ms', '500', '--start-time', startTime]);
  const alarm = await until('device-clock-untrusted alarm', () => alarmAt(sub.got, 'spo2.device-clock-untrusted'));
  const flagged = await until('flagged values', () =>
    valueObs(sub.got, 'spo2').find((r) => r.env.observation?.quality.includes('QUALITY_FLAG_DEVICE_CLOCK_UNTRUSTED')),
  );
  t.equal(flagged.env.observation?.status, 'RESULT_STATUS_FINAL', 'values still accepted, flagged');
  const score = await until('a score using SpO2', () =>
    [...sub.got].reverse().find((r) => r.env.score && !r.env.score.missing.includes('spo2Percent'))?.env.score,
  );
  t.ok(score, 'an untrusted device clock does not make fresh values stale');
  const status = (
    await until('a status with the measured offset', () =>
      sub.got.find((r) => r.atMs > alarm.atMs && r.env.status?.online && r.env.status.interfaces[0]?.clockMeasured),
    )
  ).env.status;
  t.ok(Math.abs(Number(status?.interfaces[0]?.clockOffsetMs) + 3_600_000) < 10_000, 'the offset is reported in the status');
  t.equal(status?.interfaces[0]?.clockTrusted, false);
  recordFault(t, {
    test: 'REQ-SAFE-033',
    fault: 'device clock one hour behind',
    expected: 'device time flagged untrusted; ages and timeouts from the gateway monotonic clock',
    quietTimeMs: QUIET_MS,
    detectionMs: alarm.atMs - injectedAt,
    alarm: 'spo2.device-clock-untrusted (low)',
  });
});

t.test('REQ-SAFE-034 event loop blocked longer than the bound: detected and reported; no stale value shown as current', async (t) => {
  const { sub, agent } = await system(t, ['--scenario', 'stable', '--period-ms', '250']);
  await until('values', () => valueObs(sub.got, 'spo2').length >= 2);
  const stoppedAt = Date.now();
  agent.process.kill('SIGSTOP'); // the whole process hangs, as a blocked event loop would
  await new Promise((r) => setTimeout(r, 2500));
  agent.process.kill('SIGCONT');
  const alarm = await until('event-loop-stall alarm', () => alarmAt(sub.got, 'gateway.event-loop-stall', 'ALARM_STATE_ACTIVE', stoppedAt));
  t.match(alarm.env.alarm?.detail, /event loop blocked for \d+ ms/);
  t.equal(agent.process.exitCode, null, 'the agent carries on');
  await until('values again', () => valueObs(sub.got, 'spo2').find((r) => r.atMs > alarm.atMs));
  recordFault(t, {
    test: 'REQ-SAFE-034',
    fault: 'event loop blocked 2.5 s (process stopped)',
    expected: 'stall detected and reported (bound 1 s); under systemd the withheld watchdog restarts a truly hung agent',
    quietTimeMs: null,
    detectionMs: alarm.atMs - stoppedAt,
    alarm: 'gateway.event-loop-stall (low)',
  });
});

t.test('REQ-SAFE-035 HAZ-012 agent killed with SIGKILL: the station sees offline, then online once restarted', async (t) => {
  const { sub, agent, config } = await system(t, ['--scenario', 'stable', '--period-ms', '250']);
  await until('online status', () => sub.got.find((r) => r.env.status?.online));
  const killedAt = Date.now();
  agent.process.kill('SIGKILL');
  await exitOf(agent.process);
  const will = await until('last will', () => sub.got.find((r) => r.env.status && !r.env.status.online && r.atMs >= killedAt));
  t.equal(will.env.status?.reason, 'last-will');
  // The supervisor's part (systemd Restart=always) is played by the test: start it again.
  const restarted = startAgentProcess(config);
  t.teardown(() => restarted.stop('SIGKILL'));
  const online = await until('online again', () => sub.got.find((r) => r.env.status?.online && r.atMs > will.atMs));
  t.not(online.env.bootId, will.env.bootId, 'a new boot id');
  recordFault(t, {
    test: 'REQ-SAFE-035',
    fault: 'agent killed with SIGKILL',
    expected: 'station sees offline (last will), then online after the restart',
    quietTimeMs: null,
    detectionMs: will.atMs - killedAt,
    alarm: 'gateway status offline (last will)',
  });
});

t.test('REQ-SAFE-036 HAZ-009 device sends the same frozen value: flagged, kept out of the score, alarm after the window', async (t) => {
  // The window is 30 s by default, timed on the agent's monotonic clock: ~35 s of real time.
  const { sub, sim } = await system(t, ['--scenario', 'stable', '--period-ms', '1000', '--inject', 'frozen@2']);
  const frozenAt = await until('the frozen frames start', () => sim.frames.find((f) => f.injected === 'frozen'), 15_000);
  const alarm = await until('frozen-values alarm', () => alarmAt(sub.got, 'spo2.frozen-values'), 60_000);
  const detectionMs = alarm.atMs - Number(frozenAt.sentWallMs);
  const flagged = await until('a frozen-flagged value', () =>
    valueObs(sub.got, 'spo2').find((r) => r.env.observation?.quality.includes('QUALITY_FLAG_FROZEN')),
  );
  t.ok(flagged, 'values flagged frozen');
  const score = await until('a score after the alarm', () => sub.got.find((r) => r.env.score && r.atMs > alarm.atMs)?.env.score);
  t.ok(score.missing.includes('spo2Percent') && score.missing.includes('pulseBpm'), 'frozen values leave the score');
  t.ok(detectionMs >= 29_000 && detectionMs <= 35_000, `alarm after the 30 s window (${detectionMs} ms)`);
  recordFault(t, {
    test: 'REQ-SAFE-036',
    fault: 'device repeats the same frozen values',
    expected: 'flagged frozen, kept out of the score, technical alarm after the 30 s window',
    quietTimeMs: QUIET_MS,
    detectionMs,
    alarm: 'spo2.frozen-values (medium)',
  });
});

t.test('HAZ-011 REQ-SAFE-037 a different device appears after a re-plug: held back with a high-priority alarm', async (t) => {
  const { sub, sim, link } = await system(t, ['--scenario', 'stable', '--period-ms', '500'], { link: 'vigil-spo2' });
  await until('values', () => valueObs(sub.got, 'spo2').length >= 2);
  await sim.stop('SIGTERM');
  const swappedAt = Date.now();
  const other = await startHwSim(['masimo-ascii', '--seed', '13', '--link', link!, '--serial', '99999', '--period-ms', '500']);
  t.teardown(() => other.stop('SIGKILL'));
  const alarm = await until('device-identity alarm', () => alarmAt(sub.got, 'spo2.device-identity', 'ALARM_STATE_ACTIVE', swappedAt), 30_000);
  t.equal(alarm.env.alarm?.priority, 'ALARM_PRIORITY_HIGH');
  await new Promise((r) => setTimeout(r, 1500));
  // Judged by the source each value names, not by when it arrived: a value of the first oximeter
  // may still be on its way when the swap is made.
  const firstSerial = valueObs(sub.got, 'spo2')[0]?.env.observation?.source?.serialNumber;
  t.ok(firstSerial, 'the first oximeter names its serial number');
  const fromOther = valueObs(sub.got, 'spo2').filter((r) => r.env.observation?.source?.serialNumber !== firstSerial);
  t.same(fromOther.map((r) => r.env.observation?.source?.serialNumber), [], 'no value from the other device is published');
  recordFault(t, {
    test: 'REQ-SAFE-037',
    fault: 'a different device plugged into the port',
    expected: 'its data held back, high-priority technical alarm until the change is confirmed',
    quietTimeMs: QUIET_MS,
    detectionMs: alarm.atMs - swappedAt,
    alarm: 'spo2.device-identity (high)',
  });
});

t.test('HAZ-011 REQ-SAFE-040 the device swapped while the agent was down (SIGKILL) is held back after the restart with a high-priority alarm', async (t) => {
  const { sub, sim, agent, link, config } = await system(t, ['--scenario', 'stable', '--period-ms', '500'], { link: 'vigil-spo2' });
  // The serial number learned from the first frame is saved at the next safety tick (250 ms).
  await until('two seconds of values', () => valueObs(sub.got, 'spo2').length >= 4);
  await agent.stop('SIGKILL'); // the agent dies (or the gateway loses power)...
  await sim.stop('SIGTERM'); // ...and meanwhile another oximeter takes the place of this one
  const other = await startHwSim(['masimo-ascii', '--seed', '14', '--link', link!, '--serial', '99999', '--period-ms', '500']);
  t.teardown(() => other.stop('SIGKILL'));
  const restartedAt = Date.now();
  const again = startAgentProcess(config);
  t.teardown(() => again.stop('SIGKILL'));
  const alarm = await until('device-identity alarm', () => alarmAt(sub.got, 'spo2.device-identity', 'ALARM_STATE_ACTIVE', restartedAt), 30_000);
  t.equal(alarm.env.alarm?.priority, 'ALARM_PRIORITY_HIGH');
  await new Promise((r) => setTimeout(r, 1500));
  // What the agent had accepted from the first oximeter but not seen acknowledged before the SIGKILL
  // is delivered after the restart, flagged backfill: a value of the first device, not of the other
  // (counting it as the other's by its arrival time was the cause of a failure seen under load in CI).
  // Each value is judged by the source it names.
  const firstSerial = valueObs(sub.got, 'spo2')[0]?.env.observation?.source?.serialNumber;
  t.ok(firstSerial, 'the first oximeter names its serial number');
  const fromOther = valueObs(sub.got, 'spo2').filter((r) => r.env.observation?.source?.serialNumber !== firstSerial);
  t.same(fromOther.map((r) => r.env.observation?.source?.serialNumber), [], 'no value from the other device is published');
  t.ok(again.logs.some((l) => /"event":"state-restored".*"record":"identities"/.test(l)), 'the learned serial number was taken back from disk');
  recordFault(t, {
    test: 'REQ-SAFE-040',
    fault: 'a different device plugged in while the agent was down',
    expected: 'after the restart its data held back, high-priority technical alarm until the change is confirmed',
    quietTimeMs: QUIET_MS,
    detectionMs: alarm.atMs - restartedAt,
    alarm: 'spo2.device-identity (high); detection column: from the restart',
  });
});

t.test('REQ-SAFE-038 HAZ-013 state directory full: clear error, technical alarm, live data keeps flowing', async (t) => {
  // A real full filesystem: the durable queue on a 256 KiB tmpfs that fills up.
  const mnt = mkdtempSync(join(tmpdir(), 'vigil-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt]);
  t.teardown(() => {
    execFileSync('umount', ['-l', mnt]);
  });
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const sub = await observe(broker.url);
  t.teardown(() => sub.end());
  const sim = await startHwSim(['masimo-ascii', '--seed', '21', '--scenario', 'stable', '--period-ms', '100']);
  t.teardown(() => sim.stop('SIGKILL'));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-fault-'));
  const agent = startAgentProcess(
    writeAgentConfig(dir, { brokerUrl: broker.url, devicePath: sim.path, quietTimeMs: QUIET_MS, queueDir: join(mnt, 'queue') }),
  );
  t.teardown(() => agent.stop('SIGKILL'));
  await until('values', () => valueObs(sub.got, 'spo2').length >= 2);
  // Fill what is left of the filesystem.
  const filledAt = Date.now();
  try {
    writeFileSync(join(mnt, 'filler'), Buffer.alloc(1024 * 1024));
  } catch {
    /* ENOSPC: the filesystem is full, which is the point */
  }
  const alarm = await until('queue-disk-failing alarm', () => alarmAt(sub.got, 'gateway.queue-disk-failing', 'ALARM_STATE_ACTIVE', filledAt), 30_000);
  t.ok(agent.logs.some((l) => /ENOSPC|no space|disk/i.test(l)), 'a clear error in the log');
  const after = await until('live values after the disk filled', () => valueObs(sub.got, 'spo2').find((r) => r.atMs > alarm.atMs));
  t.notOk(after.env.backfill, 'live data still published live');
  t.equal(agent.process.exitCode, null, 'no crash');
  recordFault(t, {
    test: 'REQ-SAFE-038',
    fault: 'state directory (durable queue) full',
    expected: 'clear error, technical alarm, keeps publishing live data',
    quietTimeMs: null,
    detectionMs: alarm.atMs - filledAt,
    alarm: 'gateway.queue-disk-failing (medium)',
  });
});

t.test('REQ-SAFE-039 the native addon panics (every second NEWS2 call): contained, counted, alarmed on repetition, no crash', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const sub = await observe(broker.url);
  t.teardown(() => sub.end());
  const sim = await startHwSim(['masimo-ascii', '--seed', '23', '--scenario', 'stable', '--period-ms', '250']);
  t.teardown(() => sim.stop('SIGKILL'));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-fault-'));
  const startedAt = Date.now();
  // The real agent process, started through the test-only entry whose scorer panics (the
  // installed `vigil run` has no such hook: REQ-NATIVE-003).
  const agent = startAgentProcess(writeAgentConfig(dir, { brokerUrl: broker.url, devicePath: sim.path, quietTimeMs: QUIET_MS }), {}, FAULT_AGENT);
  t.teardown(() => agent.stop('SIGKILL'));
  const alarm = await until('native-failure alarm', () => alarmAt(sub.got, 'gateway.native-failure'));
  t.equal(alarm.env.alarm?.priority, 'ALARM_PRIORITY_MEDIUM');
  await until('scores still published between failures', () => sub.got.filter((r) => r.env.score && r.atMs > alarm.atMs).length >= 2);
  await until('observations keep flowing', () => valueObs(sub.got, 'spo2').filter((r) => r.atMs > alarm.atMs).length >= 2);
  const counters = await until('the failures counted in the status', () => {
    const s = [...sub.got].reverse().find((r) => r.env.status?.online)?.env.status;
    const c = Object.fromEntries((s?.counters ?? []).map((x) => [x.name, Number(x.value)]));
    return (c['native-failures'] ?? 0) >= 3 ? c : undefined;
  });
  t.ok(counters['native-failures']! >= 3, `${counters['native-failures']} native failures counted`);
  t.equal(agent.process.exitCode, null, 'the agent process survives every panic');
  t.ok(agent.logs.some((l) => /"event":"fault-injection-active"/.test(l)), 'the injection is announced in the log');
  recordFault(t, {
    test: 'REQ-SAFE-039',
    fault: 'native addon panics (every second NEWS2 call)',
    expected: 'each failure contained and counted; technical alarm after 3 within 60 s; no crash',
    quietTimeMs: null,
    detectionMs: alarm.atMs - startedAt,
    alarm: 'gateway.native-failure (medium); detection column: from agent start',
  });
});
