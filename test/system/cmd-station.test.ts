/**
 * System tests of commands from the nurses' station: the real agent (hw-sim on a real
 * pty), a real Mosquitto with mutual TLS and the ACL, the real `vigil station` command
 * line for what a nurse does, and raw MQTT clients for what an attacker or a broken
 * station sends.
 */
import t from 'tap';
import type { Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttLink } from '../../agent/src/io/mqtt';
import type { CommandMsg, CommandResultMsg } from '../../agent/src/proto/codec';
import { encodeCommand, encodeEnvelope } from '../../agent/src/proto/codec';
import { topics } from '../../agent/src/publish/topics';
import { buildCommand } from '../../agent/src/station/commands';
import { renderStation, StationModel } from '../../agent/src/station/station';
import { startBroker } from '../support/broker';
import type { Broker } from '../support/broker';
import { connectLink, lastCounters, observe, until } from '../support/observer';
import type { Observer } from '../support/observer';
import { createPki, STATIONS, vigilAcl } from '../support/pki';
import type { Pki } from '../support/pki';
import { exitOf, startAgentProcess, startHwSim, VIGIL_CLI, writeAgentConfig } from '../support/processes';

const BED = { gatewayId: 'gw-test', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' };
const OTHER = { gatewayId: 'gw-other', siteId: 'site1', wardId: 'ward7', bedId: 'bed13' };

interface System {
  pki: Pki;
  broker: Broker;
  sub: Observer;
  sim: Awaited<ReturnType<typeof startHwSim>>;
  agent: ReturnType<typeof startAgentProcess>;
  /** The agent's configuration file (to start it again). */
  config: string;
}

async function system(t: Test): Promise<System> {
  const pki = createPki([BED.gatewayId, OTHER.gatewayId, ...Object.values(STATIONS)]);
  t.teardown(() => pki.remove());
  const broker = await startBroker({ tls: { caFile: pki.caFile, ...pki.broker, acl: vigilAcl([BED, OTHER], Object.values(STATIONS)) } });
  t.teardown(() => broker.stop());
  const sub = await observe(broker.url, { tls: pki.clientTls(STATIONS.observer) });
  t.teardown(() => sub.end());
  const sim = await startHwSim(['masimo-ascii', '--seed', '3', '--scenario', 'stable', '--period-ms', '250']);
  t.teardown(() => sim.stop('SIGKILL'));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cmd-'));
  const config = writeAgentConfig(dir, { brokerUrl: broker.url, devicePath: sim.path, tls: pki.clientTls(BED.gatewayId) });
  const agent = startAgentProcess(config);
  t.teardown(() => agent.stop('SIGKILL'));
  await until('the agent streaming', () => sub.got.some((r) => r.env.score) && sub.got.some((r) => r.env.status?.online));
  return { pki, broker, sub, sim, agent, config };
}

/** Runs `vigil station <sub> ...` with the station command tool's certificate; resolves with exit code and JSON answer. */
async function stationCli(s: System, args: string[]): Promise<{ code: number | null; out: Record<string, string> }> {
  const tls = s.pki.clientTls(STATIONS.cli);
  const child = spawn(
    process.execPath,
    [VIGIL_CLI, 'station', ...args, '--url', s.broker.url, '--bed', 'site1/ward7/bed12', '--json', '--ca', tls.caFile, '--cert', tls.certFile, '--key', tls.keyFile],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const code = await exitOf(child);
  return { code, out: JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, string> };
}

const scores = (s: System) => s.sub.got.filter((r) => r.env.score && r.env.gatewayId === BED.gatewayId);
const resultFor = (s: System, commandId: string): CommandResultMsg | undefined =>
  s.sub.got.find((r) => r.env.commandResult && r.env.commandResult.commandId === commandId)?.env.commandResult;

t.test('REQ-CMD-001 a manual observation from the station completes the NEWS2 inputs on the next publication', async (t) => {
  const s = await system(t);
  const before = scores(s).at(-1)!.env.score!;
  t.same(before.missing, ['respRatePerMin', 'onOxygen', 'systolicMmHg', 'consciousness', 'tempCelsius'], 'before: the oximeter alone');
  const { code, out } = await stationCli(s, ['observe', '--consciousness', 'A', '--on-oxygen', 'true', '--user', 'nurse-a']);
  t.equal(code, 0, 'vigil station observe exits 0');
  t.equal(out.outcome, 'accepted');
  const answeredAt = s.sub.got.length;
  const next = await until('the next score', () => s.sub.got.slice(answeredAt).find((r) => r.env.score)?.env.score);
  t.same(next.missing, ['respRatePerMin', 'systolicMmHg', 'tempCelsius'], 'consciousness and oxygen are no longer missing');
  const manual = (next.inputs ?? []).filter((i) => i.interfaceId === 'manual');
  t.same(
    manual.map((i) => [i.field, i.valueCode, i.enteredBy]),
    [
      ['onOxygen', 'supplemental', 'nurse-a'],
      ['consciousness', 'A', 'nurse-a'],
    ],
    'used as inputs, with who entered them',
  );
  t.equal(next.points.find((p) => p.parameter === 'onOxygen')?.points, 2, 'supplemental oxygen scores 2 (RCP NEWS2 chart 1)');
  t.equal(next.points.find((p) => p.parameter === 'consciousness')?.points, 0, 'alert scores 0');
  const obs = s.sub.got.find((r) => r.topic.endsWith('/obs/consciousness'))?.env.observation;
  t.equal(obs?.valueCode, 'A', 'published as an observation');
  t.equal(obs?.manual?.enteredBy, 'nurse-a', 'with its provenance');
  t.equal(obs?.manual?.commandId, out.commandId);
  const model = new StationModel();
  for (const r of s.sub.got) model.apply(r.topic, encodeEnvelope(r.env), r.atMs);
  t.match(renderStation(model.view(Date.now()), Date.now()), /manual: onOxygen=supplemental \(nurse-a\), consciousness=A \(nurse-a\)/, 'the station view shows them');
  t.equal(await until('counted in the status', () => lastCounters(s.sub.got)['commands-accepted']), 1, 'counted in the gateway status');
});

t.test('REQ-CMD-002 the station acknowledges a technical alarm; an unknown alarm is rejected with its reason', async (t) => {
  const s = await system(t);
  await s.sim.stop('SIGKILL'); // the oximeter goes silent: technical alarm
  const raised = await until('a link alarm', () => s.sub.got.find((r) => /\/alarm\/spo2\.link-(stale|lost)$/.test(r.topic) && r.env.alarm?.state === 'ALARM_STATE_ACTIVE')?.env.alarm);
  const { code, out } = await stationCli(s, ['ack', '--alarm', raised.alarmId, '--user', 'nurse-b']);
  t.equal(code, 0, 'vigil station ack exits 0');
  t.equal(out.outcome, 'accepted');
  const acked = await until('the acknowledged alarm', () => s.sub.got.find((r) => r.env.alarm?.alarmId === raised.alarmId && r.env.alarm.state === 'ALARM_STATE_ACKNOWLEDGED')?.env.alarm);
  t.equal(acked.acknowledgedBy, 'nurse-b', 'with who acknowledged it');
  const model = new StationModel();
  for (const r of s.sub.got) model.apply(r.topic, encodeEnvelope(r.env), r.atMs);
  t.match(renderStation(model.view(Date.now()), Date.now()), new RegExp(`${raised.alarmId.replace('.', '\\.')}: .*\\(acknowledged by nurse-b\\)`), 'the station shows it');
  const unknown = await stationCli(s, ['ack', '--alarm', 'spo2.no-such-alarm', '--user', 'nurse-b']);
  t.equal(unknown.code, 1, 'a rejected command exits 1');
  t.equal(unknown.out.reason, 'unknown-alarm');
  const silenced = await stationCli(s, ['silence', '--alarm', raised.alarmId, '--duration-sec', '60', '--user', 'nurse-b']);
  t.equal(silenced.out.outcome, 'accepted', 'silence');
  const msg = await until('the silenced alarm', () => s.sub.got.find((r) => r.env.alarm?.alarmId === raised.alarmId && r.env.alarm.state === 'ALARM_STATE_SILENCED')?.env.alarm);
  t.ok(Number(msg.silencedUntilWallMs) > Date.now() + 50_000, 'silenced for the minute asked');
});

t.test('REQ-CMD-003 REQ-SEC-004 forged, malformed, invalid, wrong-bed, stale and replayed commands are rejected with their reason and change nothing', async (t) => {
  const s = await system(t);
  const station = await connectLink(s.broker.url, { tls: s.pki.clientTls(STATIONS.view) });
  t.teardown(() => station.end(true));
  const cmdTopic = topics.command(BED);
  const send = (link: MqttLink, payload: Uint8Array) => link.publish(cmdTopic, payload, { qos: 1, retain: false });
  const command = (over: Partial<CommandMsg> = {}): CommandMsg => ({
    ...buildCommand({ kind: 'observe', consciousness: 'U' }, BED, 'mallory', 'station-x', Date.now()),
    ...over,
  });
  const expectRejected = async (label: string, payload: Uint8Array, commandId: string, reason: string, field?: string) => {
    const sentAt = s.sub.got.length;
    await send(station, payload);
    const r = await until(`result of ${label}`, () => s.sub.got.slice(sentAt).find((x) => x.env.commandResult && x.env.commandResult.commandId === commandId)?.env.commandResult);
    t.equal(r.outcome, 'COMMAND_OUTCOME_REJECTED', `${label}: rejected`);
    t.equal(r.reason, reason, `${label}: reason ${reason}`);
    if (field !== undefined) t.equal(r.field, field, `${label}: names the field ${field}`);
  };

  // Forged: another gateway's certificate may not write this bed's command topic.
  const other = await connectLink(s.broker.url, { tls: s.pki.clientTls(OTHER.gatewayId) });
  t.teardown(() => other.end(true));
  const forged = command();
  const refused = await send(other, encodeCommand(forged)).then(
    () => null,
    (e: Error & { brokerReasonCode?: number }) => e.brokerReasonCode,
  );
  t.equal(refused, 0x87, 'forged (written with another gateway certificate): refused by the broker, not authorized');
  // A gateway writing to its own command topic: gw-other, whose certificate no running process
  // uses (a second connection with gw-test's would take the running agent's session).
  const own = buildCommand({ kind: 'observe', consciousness: 'U' }, OTHER, 'mallory', 'station-x', Date.now());
  t.equal(
    await other.publish(topics.command(OTHER), encodeCommand(own), { qos: 1, retain: false }).then(
      () => null,
      (e: Error & { brokerReasonCode?: number }) => e.brokerReasonCode,
    ),
    0x87,
    'a gateway cannot write commands to itself either',
  );

  await expectRejected('malformed bytes', Uint8Array.from([0x0a, 0xff, 0xff, 0xff]), '', 'undecodable');
  const noUser = command({ user: '' });
  await expectRejected('no user', encodeCommand(noUser), noUser.commandId, 'invalid', 'user');
  const noAction = command({ manualObservation: undefined });
  await expectRejected('no action', encodeCommand(noAction), noAction.commandId, 'invalid', 'action');
  // Two actions cannot be encoded (oneof) but can be crafted: two messages concatenated merge.
  const observe = command();
  const { manualObservation: _unused, ...head } = observe;
  const crafted = Buffer.concat([encodeCommand(observe), encodeCommand({ ...head, alarmAcknowledge: { alarmId: 'spo2.sensor-off' } })]);
  await expectRejected('two actions (crafted bytes)', crafted, observe.commandId, 'invalid', 'action');
  const wrongBed = command({ bedId: OTHER.bedId });
  await expectRejected('wrong bed', encodeCommand(wrongBed), wrongBed.commandId, 'wrong-bed', 'bedId');
  const wrongGateway = command({ gatewayId: OTHER.gatewayId });
  await expectRejected('wrong gateway', encodeCommand(wrongGateway), wrongGateway.commandId, 'wrong-gateway', 'gatewayId');
  const stale = command({ issuedWallMs: Date.now() - 120_000 });
  await expectRejected('stale', encodeCommand(stale), stale.commandId, 'stale', 'issuedWallMs');
  const future = command({ issuedWallMs: Date.now() + 60_000 });
  await expectRejected('from the future', encodeCommand(future), future.commandId, 'from-the-future', 'issuedWallMs');

  // None of them changed anything: no manual input reached the score.
  const afterRejected = s.sub.got.length;
  const score = await until('a score after the rejected commands', () => s.sub.got.slice(afterRejected).find((r) => r.env.score)?.env.score);
  t.ok(score.missing.includes('consciousness'), 'consciousness still missing: nothing was applied');
  t.notOk(s.sub.got.some((r) => r.topic.endsWith('/obs/consciousness')), 'no manual observation was published');

  // Replayed: the same bytes a second time.
  const good = buildCommand({ kind: 'observe', consciousness: 'V' }, BED, 'nurse-c', 'station-1', Date.now());
  const bytes = encodeCommand(good);
  await send(station, bytes);
  const first = await until('the first result', () => resultFor(s, good.commandId));
  t.equal(first.outcome, 'COMMAND_OUTCOME_ACCEPTED', 'the original is accepted');
  await expectRejected('replayed', bytes, good.commandId, 'replayed', 'commandId');
  const afterReplay = s.sub.got.length;
  await until('a score after the replay', () => s.sub.got.slice(afterReplay).some((r) => r.env.score));
  t.equal(s.sub.got.filter((r) => r.topic.endsWith('/obs/consciousness')).length, 1, 'the replay had no effect: one observation only');

  const counters = await until('the rejections counted in the status', () => {
    const c = lastCounters(s.sub.got);
    return c['commands-rejected.replayed'] ? c : undefined;
  });
  for (const reason of ['undecodable', 'invalid', 'wrong-bed', 'wrong-gateway', 'stale', 'from-the-future', 'replayed']) {
    t.ok(counters[`commands-rejected.${reason}`]! >= 1, `counted: commands-rejected.${reason}`);
  }
  t.equal(counters['commands-rejected.invalid'], 3, 'no user, no action, two actions');
  t.equal(counters['commands-accepted'], 1);
  t.ok(s.agent.logs.some((l) => /"event":"command-rejected".*"reason":"wrong-bed"/.test(l)), 'logged with the reason');
  t.notOk(s.agent.logs.some((l) => l.includes('mallory') && l.includes('"level":"error"')), 'a bad command is not an agent error');
});

t.test('REQ-CMD-004 after a SIGKILL and a restart the manual inputs are still score inputs and the command is refused as a replay', async (t) => {
  const s = await system(t);
  const station = await connectLink(s.broker.url, { tls: s.pki.clientTls(STATIONS.view) });
  t.teardown(() => station.end(true));
  const entered = buildCommand({ kind: 'observe', consciousness: 'V', onOxygen: true }, BED, 'nurse-d', 'station-1', Date.now());
  const bytes = encodeCommand(entered);
  await station.publish(topics.command(BED), bytes, { qos: 1, retain: false });
  t.equal((await until('accepted', () => resultFor(s, entered.commandId))).outcome, 'COMMAND_OUTCOME_ACCEPTED');

  await s.agent.stop('SIGKILL');
  const killedAt = s.sub.got.length;
  const again = startAgentProcess(s.config);
  t.teardown(() => again.stop('SIGKILL'));
  const score = await until('the first score after the restart', () => s.sub.got.slice(killedAt).find((r) => r.env.score && !r.env.backfill)?.env.score, 20_000);
  t.notOk(score.missing.includes('consciousness'), 'consciousness is still a score input');
  t.notOk(score.missing.includes('onOxygen'), 'oxygen is still a score input');
  t.same(
    (score.inputs ?? []).filter((i) => i.interfaceId === 'manual').map((i) => [i.field, i.valueCode, i.enteredBy]),
    [
      ['onOxygen', 'supplemental', 'nurse-d'],
      ['consciousness', 'V', 'nurse-d'],
    ],
    'with who entered them',
  );
  t.ok(again.logs.some((l) => /"event":"state-restored".*"record":"commands".*"outcome":"same-boot"/.test(l)), 'the agent says what it took back');

  const replayAt = s.sub.got.length;
  await station.publish(topics.command(BED), bytes, { qos: 1, retain: false });
  const replay = await until('the replay answered', () => s.sub.got.slice(replayAt).find((r) => r.env.commandResult?.commandId === entered.commandId)?.env.commandResult);
  t.equal(replay.reason, 'replayed', 'the same command after the restart is refused as a replay');
});
