/**
 * System tests of the HL7 monitor's own alarms (IHE PCD-04, ORU^R40; docs/interfaces/hl7-pcd01.md,
 * "Alerts"): hw-sim's monitor on a real pseudo-terminal (serial MLLP) and `hw-sim replay` over MLLP
 * on TCP, the real agent process, a real Mosquitto, a subscriber and the real station
 * (`vigil station --json`). The ACKs are those hw-sim read back on the same link. Nothing is mocked.
 */
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startBroker, waitForPort } from '../support/broker';
import { startDesaturationBed } from '../support/desaturation-bed';
import { alertMessage, monitorMessage } from '../support/hl7-pcd01-fixtures';
import { observe, until } from '../support/observer';
import type { Received } from '../support/observer';
import { startAgentProcess, startHwSim, writeAgentConfig } from '../support/processes';

const deviceAlarms = (got: Received[]) => got.filter((r) => /^device-(alarm|technical)-(high|medium|low)\./.test(r.env.alarm?.condition ?? '')).map((r) => ({ topic: r.topic, alarm: r.env.alarm! }));
function counters(got: Received[], iface: string): Record<string, number> {
  const s = [...got].reverse().find((r) => r.env.status?.online)?.env.status;
  return Object.fromEntries((s?.interfaces.find((i) => i.interfaceId === iface)?.counters ?? []).map((c) => [c.name, Number(c.value)]));
}
type Ack = { controlId: string; code: string; errors: Array<{ code: string; severity: string }> };
type AlertEvent = { event: 'alert'; phase: string; controlId: string; instanceId: string };

t.test('REQ-ALARM-009 HAZ-019 through a pty and Mosquitto: the monitor SpO2-low alert (PCD-04) reaches the station with its source and state, is acknowledged ACK^R40 AA, and clears when the device ends it', async (t) => {
  const { sub, sim, agent, views } = await startDesaturationBed(t, 'pcd04', { device: 'hl7-monitor' });
  const raised = await until('device-alarm-medium raised', () => deviceAlarms(sub.got).find((a) => a.alarm.state === 'ALARM_STATE_ACTIVE'), 30_000);
  t.equal(raised.alarm.condition, 'device-alarm-medium.196670-150456', 'MDC_EVT_LO on SpO2, at the priority the device gave (PM)');
  t.match(raised.topic, /\/alarm\/monitor\.device-alarm-medium\.196670-150456$/);
  t.equal(raised.alarm.source, 'monitor');
  t.equal(raised.alarm.kind, 'ALARM_KIND_PHYSIOLOGICAL');
  t.equal(raised.alarm.priority, 'ALARM_PRIORITY_MEDIUM');
  t.match(raised.alarm.detail, /^device HL7 \S+ EUI-64 [0-9A-F]{16} on monitor: MDC_EVT_LO \(196670\) on MDC_PULS_OXIM_SAT_O2 \(150456\), state active, alarm signals on at the device$/);
  const alerts = () => sim.events.filter((e) => e.event === 'alert') as unknown as AlertEvent[];
  const start = alerts().find((a) => a.phase === 'start');
  t.ok(start, 'hw-sim had sent the PCD-04 start');
  const ackOf = (controlId: string | undefined) => (sim.events.filter((e) => e.event === 'ack') as unknown as Ack[]).find((a) => a.controlId === controlId);
  const startAck = await until('the ACK of the start', () => ackOf(start?.controlId));
  t.equal(startAck.code, 'AA', 'the monitor got AA for its alert');

  const shown = await until('the station to show the device alarm', () =>
    views.map((v) => v.beds[0]?.alarms.find((a) => a.condition === 'device-alarm-medium.196670-150456')).find((a) => a !== undefined),
  );
  t.equal(shown.origin, 'device', 'shown as the device\'s alarm, apart from the gateway\'s');
  t.equal(shown.priority, 'medium');

  const cleared = await until('cleared when the device ends it', () => deviceAlarms(sub.got).find((a) => a.alarm.state === 'ALARM_STATE_CLEARED'), 60_000);
  t.equal(cleared.alarm.condition, 'device-alarm-medium.196670-150456');
  const end = alerts().find((a) => a.phase === 'end');
  t.ok(end, 'hw-sim had sent the PCD-04 end');
  t.equal((await until('the ACK of the end', () => ackOf(end?.controlId))).code, 'AA');
  const changes = deviceAlarms(sub.got)
    .map((a) => `${a.alarm.condition}:${a.alarm.state}`)
    .filter((x, i, all) => i === 0 || all[i - 1] !== x);
  t.same(changes, ['device-alarm-medium.196670-150456:ALARM_STATE_ACTIVE', 'device-alarm-medium.196670-150456:ALARM_STATE_CLEARED'], 'raised once, cleared once');
  t.equal(agent.process.exitCode, null, 'agent still running');
});

t.test('REQ-ALARM-010 through a pty: a malformed alert, an unknown event code and an end without start are each answered and counted, never crash the agent', async (t) => {
  // Faults at messages 3, 5 and 7 (before the desaturation reaches the limit at second 29).
  const { sub, sim, agent } = await startDesaturationBed(t, 'pcd04-bad', {
    device: 'hl7-monitor',
    simArgs: ['--inject', 'alert-malformed@3,alert-unknown-event@5,alert-end-without-start@8'],
  });
  const unknown = await until('the unknown event relayed', () => deviceAlarms(sub.got).find((a) => a.alarm.condition.startsWith('device-technical-low.9001-')), 30_000);
  t.equal(unknown.alarm.state, 'ALARM_STATE_ACTIVE');
  t.match(unknown.alarm.detail, /HWSIM_EVT_PRIVATE \(9001\), coding system 99HWSIM \(event code not known to Vigil\)/);
  const c = await until('the counters in the gateway status', () => {
    const now = counters(sub.got, 'monitor');
    return (now['alert-end-without-start'] ?? 0) >= 1 && (now['frames-rejected.malformed'] ?? 0) >= 1 && (now['alert-event-unknown'] ?? 0) >= 1 ? now : undefined;
  }, 30_000);
  t.ok(c['frames-rejected.malformed']! >= 1, 'the malformed alert is counted as a rejected frame');
  t.ok(c['alert-event-unknown']! >= 1);
  t.ok(c['alert-end-without-start']! >= 1);
  const acks = () => sim.events.filter((e) => e.event === 'ack') as unknown as Ack[];
  t.ok(acks().some((a) => a.code === 'AE' && a.errors.some((e) => e.code === '101')), 'the malformed alert was answered AE, 101 (OBR-3 missing)');
  t.ok(acks().some((a) => a.code === 'AA' && a.errors.some((e) => e.code === '205' && e.severity === 'W')), 'the end without start was answered AA with a warning');
  const cleared = await until('the unknown event ended by the device', () => deviceAlarms(sub.got).find((a) => a.alarm.condition.startsWith('device-technical-low.9001-') && a.alarm.state === 'ALARM_STATE_CLEARED'), 30_000);
  t.ok(cleared);
  t.equal(agent.process.exitCode, null, 'agent still running');
});

t.test('REQ-ALARM-009 through MLLP over TCP: a replayed monitor\'s PCD-04 start and end raise and clear the device alarm, each ACKed on the connection', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const sub = await observe(broker.url);
  t.teardown(() => sub.end());
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pcd04-tcp-'));
  // A monitor's session written by hand (docs/interfaces/hl7-pcd01.md, S8 layout): values, the
  // alert's start, values, a continue, values, the end (state inactive).
  const capture = join(dir, 'session.hl7');
  const messages = [
    monitorMessage({ controlId: 'M1' }),
    alertMessage({ controlId: 'A1', flags: 'PH~SP' }),
    monitorMessage({ controlId: 'M2' }),
    alertMessage({ controlId: 'A2', flags: 'PH~SP', phase: 'continue' }),
    monitorMessage({ controlId: 'M3' }),
    alertMessage({ controlId: 'A3', flags: 'PH~SP', phase: 'end', state: 'inactive' }),
  ];
  writeFileSync(capture, messages.map((m) => m.replace(/\r/g, '\r\n')).join('\r\n'), 'latin1');
  const port = await freePort();
  const config = writeAgentConfig(dir, {
    brokerUrl: broker.url,
    devicePath: '',
    interface: { id: 'monitor', driver: 'hl7-pcd01', transport: 'tcp', host: '127.0.0.1', port, insecure: true, quietTimeMs: 30000, scoreUnverified: true },
  });
  const agent = startAgentProcess(config);
  t.teardown(() => agent.stop('SIGKILL'));
  await waitForPort(port);
  const sim = await startHwSim(['replay', capture, '--device', 'hl7-monitor', '--transport', 'tcp', '--port', String(port), '--period-ms', '400', '--hold-ms', '3000']);
  t.teardown(() => sim.stop('SIGKILL'));
  const raised = await until('the high device alarm', () => deviceAlarms(sub.got).find((a) => a.alarm.state === 'ALARM_STATE_ACTIVE'), 30_000);
  t.equal(raised.alarm.condition, 'device-alarm-high.196670-150456');
  t.equal(raised.alarm.priority, 'ALARM_PRIORITY_HIGH', 'the device said PH');
  const cleared = await until('cleared by the end', () => deviceAlarms(sub.got).find((a) => a.alarm.state === 'ALARM_STATE_CLEARED'), 30_000);
  t.equal(cleared.alarm.condition, 'device-alarm-high.196670-150456');
  const acks = await until('every message ACKed on the connection', () => {
    const got = sim.events.filter((e) => e.event === 'ack') as unknown as Ack[];
    return got.length >= messages.length ? got : undefined;
  }, 30_000);
  t.same(acks.map((a) => `${a.controlId}:${a.code}`), ['M1:AA', 'A1:AA', 'M2:AA', 'A2:AA', 'M3:AA', 'A3:AA']);
  t.equal(agent.process.exitCode, null, 'agent still running');
});
