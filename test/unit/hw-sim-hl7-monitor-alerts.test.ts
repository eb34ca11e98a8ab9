/**
 * hw-sim's HL7 monitor alerts (IHE PCD-04, ORU^R40): docs/interfaces/hl7-pcd01.md, "Alerts (IHE
 * PCD-04, ORU^R40)" and the **Alerts (PCD-04)** paragraph of "hw-sim". The bytes are read here by
 * hand (split at CR, `|`, `~` and `^`) against expectations written from the document, never with
 * the agent's decoder: a misunderstanding shared by hw-sim and the agent would pass a round trip.
 * The expected message indexes come from the scenario's ground truth (each message's SpO2), never
 * from numbers written here. One test at the end then checks that the agent's decoder (written
 * apart, from the same document) reads hw-sim's alerts the same way: agreement, not the proof.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import t from 'tap';
import { decodePcd01 } from '../../agent/src/drivers/hl7-pcd01/pcd01';
import { HL7_ALERT_INJECT_KINDS, Hl7MonitorDevice } from '../../hw-sim/src/devices/hl7-monitor';
import type { EmittedMessage, Hl7Injection, Hl7MonitorOptions } from '../../hw-sim/src/devices/hl7-monitor';
import { parseMonitorArgs, startMonitorSimulator } from '../../hw-sim/src/hl7-monitor-cli';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const EQUIPMENT = '0012A1FFFE3B4C5D';
/** The desaturation scenario falls below 90 % and recovers within this many seconds (DESATURATION_TIMELINE: 100 s). */
const RUN_MESSAGES = 130;
const base: Hl7MonitorOptions = { scenario: 'desaturation', seed: 7, patientId: 'P1', equipmentId: EQUIPMENT, status: 'R', nibpEvery: 30, tempEvery: 60, injections: [] };

function run(opts: Partial<Hl7MonitorOptions>, n = RUN_MESSAGES): EmittedMessage[] {
  const d = new Hl7MonitorDevice({ ...base, ...opts });
  return Array.from({ length: n }, (_, i) => d.nextMessage(T0 + i * 1000));
}

// ---- reading HL7 by hand --------------------------------------------------------------------

/** The text of one MLLP block: 0x0B, the message, 0x1C 0x0D (the document's "Framing (MLLP)"). */
function unframe(bytes: Buffer): string {
  if (bytes[0] !== 0x0b || bytes[bytes.length - 2] !== 0x1c || bytes[bytes.length - 1] !== 0x0d) throw new Error('not one MLLP block');
  return bytes.subarray(1, bytes.length - 2).toString('utf8');
}

/** Segments split into fields; `field(seg, n)` is HL7's field n (for MSH, MSH-1 is the separator itself). */
interface Hl7 {
  segments: string[][];
  seg(name: string): string[][];
}
function parse(bytes: Buffer): Hl7 {
  const text = unframe(bytes);
  if (!text.endsWith('\r')) throw new Error('the last segment is not ended by CR');
  const segments = text.slice(0, -1).split('\r').map((s) => s.split('|'));
  return { segments, seg: (name) => segments.filter((s) => s[0] === name) };
}
function field(seg: string[], n: number): string {
  return (seg[0] === 'MSH' ? seg[n - 1] : seg[n]) ?? '';
}

interface AlertRead {
  messageType: string;
  controlId: string;
  acceptAck: string;
  appAck: string;
  profile: string;
  patientId: string;
  time: string;
  instance: string;
  serviceId: string;
  alertTime: string;
  obx: string[][];
  event: string;
  phase: string;
  state: string;
  inactivation: string;
}
/** An ORU^R40 read by hand, the facets found by their reference id (OBX-3 component 2), as the document says. */
function readAlert(bytes: Buffer): AlertRead {
  const m = parse(bytes);
  const msh = m.seg('MSH')[0]!;
  const obr = m.seg('OBR');
  if (obr.length !== 1) throw new Error('one alert per message');
  const obx = m.seg('OBX');
  const facet = (refId: string): string => {
    const rows = obx.filter((o) => field(o, 3).split('^')[1] === refId);
    if (rows.length !== 1) throw new Error(`${refId}: ${rows.length} rows`);
    return field(rows[0]!, 5);
  };
  return {
    messageType: field(msh, 9),
    controlId: field(msh, 10),
    acceptAck: field(msh, 15),
    appAck: field(msh, 16),
    profile: field(msh, 21),
    patientId: field(m.seg('PID')[0]!, 3).split('^')[0]!,
    time: field(msh, 7),
    instance: field(obr[0]!, 3),
    serviceId: field(obr[0]!, 4),
    alertTime: field(obr[0]!, 7),
    obx,
    event: field(obx[0]!, 3),
    phase: facet('MDC_ATTR_EVENT_PHASE'),
    state: facet('MDC_ATTR_ALARM_STATE'),
    inactivation: facet('MDC_ATTR_ALARM_INACTIVATION_STATE'),
  };
}

/** The ORU^R40 of a run in order, with the message they follow. */
function alertsOf(list: EmittedMessage[]): Array<{ index: number; read: AlertRead; r01ControlId: string | null }> {
  return list.flatMap((m) => m.alerts.map((a) => ({ index: m.index, read: readAlert(a.bytes), r01ControlId: m.controlId })));
}

/**
 * What the document says the monitor announces, from the ground truth alone: start at the first
 * message at or below the limit, continue every `every` messages while it lasts, end at the first
 * message above it.
 */
function expectedPhases(list: EmittedMessage[], limitPercent: number, every: number): Array<{ index: number; phase: string; episode: number }> {
  const out: Array<{ index: number; phase: string; episode: number }> = [];
  let episode = 0;
  let last: number | null = null;
  for (const m of list) {
    const spo2 = m.truth.spo2Percent;
    if (spo2 === null) continue;
    if (last === null && spo2 <= limitPercent) {
      episode++;
      last = m.index;
      out.push({ index: m.index, phase: 'start', episode });
    } else if (last !== null && spo2 <= limitPercent && m.index - last >= every) {
      last = m.index;
      out.push({ index: m.index, phase: 'continue', episode });
    } else if (last !== null && spo2 > limitPercent) {
      last = null;
      out.push({ index: m.index, phase: 'end', episode });
    }
  }
  return out;
}

const SPO2_LOW_EVENT = '196670^MDC_EVT_LO^MDC';
const PRIVATE_EVENT = '9001^HWSIM_EVT_PRIVATE^99HWSIM';

// ---- the scenario's alarm -------------------------------------------------------------------

t.test('REQ-HWSIM-016 the desaturation scenario: start at the first message at or below 90 %, continue every 10, end at the first above, each ORU^R40 in the S8 layout', async (t) => {
  const list = run({});
  const expected = expectedPhases(list, 90, 10);
  t.ok(expected.some((e) => e.phase === 'start') && expected.some((e) => e.phase === 'continue') && expected.some((e) => e.phase === 'end'), 'the scenario falls below the limit long enough for a continue, and recovers');
  const got = alertsOf(list);
  t.same(got.map((a) => ({ index: a.index, phase: a.read.phase })), expected.map(({ index, phase }) => ({ index, phase })), 'start, continue and end at the messages the ground truth gives');

  // One instance id per episode, the same for its start, continues and end; a new one for the next episode.
  const instanceOf = new Map<number, string>();
  for (const [i, e] of expected.entries()) {
    const instance = got[i]!.read.instance;
    t.match(instance, /^HWSIM-ALERT-\d+\^HWSIM$/, 'OBR-3 entity id ^ namespace');
    const known = instanceOf.get(e.episode);
    if (known === undefined) {
      t.notOk([...instanceOf.values()].includes(instance), `episode ${e.episode}: a new instance id`);
      instanceOf.set(e.episode, instance);
    } else {
      t.equal(instance, known, `episode ${e.episode}: ${e.phase} of the same instance`);
    }
  }

  const controlIds = new Set<string>();
  for (const { index, read, r01ControlId } of got) {
    const m = list[index]!;
    const spo2 = m.truth.spo2Percent;
    const time = read.time;
    t.equal(read.messageType, 'ORU^R40^ORU_R40');
    t.not(read.controlId, r01ControlId, 'its own control id, not the ORU^R01\'s');
    t.notOk(controlIds.has(read.controlId), 'control ids are unique');
    controlIds.add(read.controlId);
    t.equal(read.acceptAck, 'AL', 'MSH-15 AL: the profile asks for the accept ACK');
    t.equal(read.appAck, 'NE');
    t.equal(read.profile, 'IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.4.1^ISO');
    t.equal(read.patientId, 'P1', 'PID-3 as in the ORU^R01');
    t.equal(time, `20260101${String(10 + Math.floor(index / 3600)).padStart(2, '0')}${String(Math.floor(index / 60) % 60).padStart(2, '0')}${String(index % 60).padStart(2, '0')}.000+0000`, 'MSH-7: the second of its ORU^R01');
    t.equal(read.serviceId, '196616^MDC_EVT_ALARM^MDC', 'OBR-4');
    t.equal(read.alertTime, time, 'OBR-7');
    t.equal(read.obx.length, 5, 'event, SpO2, phase, state, inactivation state');
    const [event, spo2Row, phase, state, inactivation] = read.obx as [string[], string[], string[], string[], string[]];
    t.same(read.obx.map((o) => field(o, 1)), ['1', '2', '3', '4', '5'], 'OBX-1 set ids');
    t.same(read.obx.map((o) => field(o, 4)), ['1.0.0.0.1', '1.0.0.0.2', '1.0.0.0.3', '1.0.0.0.4', '1.0.0.0.5'], 'OBX-4 sub-ids');
    t.ok(read.obx.every((o) => field(o, 11) === 'F'), 'OBX-11 F');
    t.equal(field(event, 2), 'CWE');
    t.equal(field(event, 3), SPO2_LOW_EVENT, 'the event: SpO2 below its low limit');
    t.equal(field(event, 5), '150456^MDC_PULS_OXIM_SAT_O2^MDC', 'OBX-5: the source');
    t.same(field(event, 8).split('~'), ['PM', 'SP'], 'OBX-8: medium priority, physiological');
    t.equal(field(event, 18), `${EQUIPMENT}^EUI-64`, 'OBX-18 on the first OBX');
    t.same([field(spo2Row, 2), field(spo2Row, 3), field(spo2Row, 5), field(spo2Row, 6), field(spo2Row, 7)],
      ['NM', '150456^MDC_PULS_OXIM_SAT_O2^MDC', String(spo2), '262688^MDC_DIM_PERCENT^MDC', '90-100'], 'the SpO2 row: value, unit, limits');
    t.same([field(phase, 2), field(phase, 3)], ['ST', '68481^MDC_ATTR_EVENT_PHASE^MDC']);
    t.same([field(state, 2), field(state, 3)], ['ST', '68482^MDC_ATTR_ALARM_STATE^MDC']);
    t.same([field(inactivation, 2), field(inactivation, 3)], ['ST', '68483^MDC_ATTR_ALARM_INACTIVATION_STATE^MDC']);
    t.equal(read.state, read.phase === 'end' ? 'inactive' : 'active', 'state inactive at the end, else active');
    t.equal(read.inactivation, 'enabled');
    t.ok(read.phase === 'end' ? (spo2 ?? 0) > 90 : (spo2 ?? 100) <= 90, `message ${index}: SpO2 ${spo2} on the right side of the limit`);
  }

  // The alerts never change the ORU^R01.
  const off = run({ alerts: false });
  t.same(list.map((m) => m.bytes.toString('hex')), off.map((m) => m.bytes.toString('hex')), 'the ORU^R01 bytes are the same with alerts on and off');
});

t.test('REQ-HWSIM-016 the limit and the continue period are the monitor\'s settings', async (t) => {
  const list = run({ spo2LowLimitPercent: 87, alertContinueEvery: 4 });
  const expected = expectedPhases(list, 87, 4);
  t.ok(expected.filter((e) => e.phase === 'continue').length >= 2, 'several continues at the shorter period');
  t.same(alertsOf(list).map((a) => ({ index: a.index, phase: a.read.phase })), expected.map(({ index, phase }) => ({ index, phase })));
  const spo2Row = alertsOf(list)[0]!.read.obx[1]!;
  t.equal(field(spo2Row, 7), '87-100', 'OBX-7 carries the configured limit');
  t.same(alertsOf(run({ scenario: 'stable' })), [], 'the stable scenario stays above 90 %: no alert');
});

// ---- faults ----------------------------------------------------------------------------------

t.test('REQ-HWSIM-016 each alert fault does what the document says', async (t) => {
  const clean = run({});
  const cleanAlerts = alertsOf(clean);
  const normal = expectedPhases(clean, 90, 10);
  const firstStart = normal.find((e) => e.phase === 'start')!.index;
  const firstContinue = normal.find((e) => e.phase === 'continue')!.index;
  // A message before the scenario's first alarm, with no alert due.
  const quiet = clean.findIndex((m) => m.index > 0 && m.index < firstStart - 2 && m.alerts.length === 0);
  t.ok(quiet > 0, 'a quiet message before the alarm');
  const withFault = (injection: Hl7Injection) => alertsOf(run({ injections: [injection] }));
  const scenarioOnly = (list: ReturnType<typeof alertsOf>) => list.filter((a) => a.read.event === SPO2_LOW_EVENT && a.read.instance !== '').map((a) => ({ index: a.index, phase: a.read.phase }));

  await t.test('alert-malformed: an ORU^R40 without OBR-3', async (t) => {
    const list = withFault({ kind: 'alert-malformed', from: quiet, to: quiet });
    const at = list.filter((a) => a.index === quiet);
    t.equal(at.length, 1, 'one extra ORU^R40 at that message');
    t.equal(at[0]!.read.instance, '', 'OBR-3 left out');
    t.equal(at[0]!.read.messageType, 'ORU^R40^ORU_R40');
    t.equal(at[0]!.read.event, SPO2_LOW_EVENT);
    t.same(scenarioOnly(list.filter((a) => a.index !== quiet)), scenarioOnly(cleanAlerts), "the scenario's alarm is announced as without the fault");
  });

  await t.test('alert-unknown-event: a start and, a message later, an end of a private event, technical, low', async (t) => {
    const list = withFault({ kind: 'alert-unknown-event', from: quiet, to: quiet });
    const priv = list.filter((a) => a.read.event === PRIVATE_EVENT);
    t.same(priv.map((a) => ({ index: a.index, phase: a.read.phase, state: a.read.state })), [
      { index: quiet, phase: 'start', state: 'active' },
      { index: quiet + 1, phase: 'end', state: 'inactive' },
    ]);
    t.equal(priv[0]!.read.instance, priv[1]!.read.instance, 'start and end of one instance');
    t.match(priv[0]!.read.instance, /^HWSIM-ALERT-\d+\^HWSIM$/);
    const event = priv[0]!.read.obx[0]!;
    t.same(field(event, 8).split('~'), ['PL', 'ST'], 'OBX-8: low priority, technical');
    t.equal(field(event, 2), 'CWE');
    t.same(priv[0]!.read.obx.map((o) => field(o, 3).split('^')[1]), ['HWSIM_EVT_PRIVATE', 'MDC_ATTR_EVENT_PHASE', 'MDC_ATTR_ALARM_STATE', 'MDC_ATTR_ALARM_INACTIVATION_STATE'], 'no SpO2 row: the alert is not about a parameter');
    const scenarioInstances = new Set(list.filter((a) => a.read.event === SPO2_LOW_EVENT).map((a) => a.read.instance));
    t.notOk(scenarioInstances.has(priv[0]!.read.instance), 'an instance id of its own');
    t.same(scenarioOnly(list), scenarioOnly(cleanAlerts), "the scenario's alarm phases unchanged");
  });

  await t.test('alert-end-without-start: an end of an instance never started', async (t) => {
    const list = withFault({ kind: 'alert-end-without-start', from: quiet, to: quiet });
    const at = list.filter((a) => a.index === quiet);
    t.equal(at.length, 1);
    const end = at[0]!.read;
    t.equal(end.phase, 'end');
    t.equal(end.state, 'inactive');
    t.match(end.instance, /^HWSIM-ALERT-\d+\^HWSIM$/);
    t.notOk(list.some((a) => a.read.instance === end.instance && a.read.phase !== 'end'), 'that instance is never started nor continued');
    t.equal(list.filter((a) => a.read.instance === end.instance).length, 1, 'and ended once');
    t.same(scenarioOnly(list.filter((a) => a.index !== quiet)), scenarioOnly(cleanAlerts));
  });

  await t.test('alert-missing-end: the alarm in progress at message i is announced no more, and never ended', async (t) => {
    const list = withFault({ kind: 'alert-missing-end', from: firstContinue, to: firstContinue });
    const instance = cleanAlerts.find((a) => a.index === firstStart)!.read.instance;
    const ofIt = list.filter((a) => a.read.instance === instance);
    t.same(ofIt.map((a) => ({ index: a.index, phase: a.read.phase })), normal.filter((e) => e.episode === 1 && e.index < firstContinue).map(({ index, phase }) => ({ index, phase })), 'its messages before i, none from i on');
    t.notOk(ofIt.some((a) => a.read.phase === 'end'), 'no end');
    const firstEnd = normal.find((e) => e.phase === 'end')!.index;
    t.same(list.filter((a) => a.index > firstEnd).map((a) => a.read.phase), cleanAlerts.filter((a) => a.index > firstEnd).map((a) => a.read.phase), 'a later alarm is announced again');
  });

  t.same([...HL7_ALERT_INJECT_KINDS].sort(), ['alert-end-without-start', 'alert-malformed', 'alert-missing-end', 'alert-unknown-event'], 'every alert fault covered above');
});

// ---- off, determinism --------------------------------------------------------------------

t.test('REQ-HWSIM-016 with alerts off the monitor sends no ORU^R40', async (t) => {
  const list = run({ alerts: false });
  t.ok(expectedPhases(list, 90, 10).length > 0, 'the scenario would have alarmed');
  t.equal(list.reduce((n, m) => n + m.alerts.length, 0), 0);
  t.match(parseMonitorArgs(['--alerts', 'off']), { ok: true, config: { alerts: false } });
});

t.test('REQ-HWSIM-016 the same seed gives the same alert bytes; another seed other ones', async (t) => {
  const hex = (list: EmittedMessage[]) => list.flatMap((m) => m.alerts.map((a) => `${m.index}:${a.bytes.toString('hex')}`));
  const injections: Hl7Injection[] = [{ kind: 'alert-unknown-event', from: 3, to: 3 }, { kind: 'alert-end-without-start', from: 5, to: 5 }];
  const a = hex(run({ injections }));
  t.ok(a.length > 4, 'alerts sent');
  t.same(hex(run({ injections })), a, 'deterministic');
  t.notSame(hex(run({ injections, seed: 8 })), a, 'another seed, other alerts');
});

t.test('REQ-HWSIM-016 arguments: defaults, settings, every problem refused', async (t) => {
  t.match(parseMonitorArgs([]), { ok: true, config: { alerts: true, spo2LowLimitPercent: 90, alertContinueEvery: 10, transport: 'pty' } });
  t.match(parseMonitorArgs(['--spo2-low-limit', '88', '--alert-continue-every', '5', '--inject', 'alert-missing-end@40,alert-malformed@3-4']), {
    ok: true,
    config: { spo2LowLimitPercent: 88, alertContinueEvery: 5, injections: [{ kind: 'alert-missing-end', from: 40, to: 40 }, { kind: 'alert-malformed', from: 3, to: 4 }] },
  });
  for (const bad of [
    ['--alerts', 'maybe'], ['--spo2-low-limit', '101'], ['--spo2-low-limit', 'x'], ['--alert-continue-every', '0'],
    ['--alerts', 'off', '--inject', 'alert-unknown-event@2'], ['--inject', 'alert-nope@1'],
  ]) {
    t.match(parseMonitorArgs(bad), { ok: false, help: false }, bad.join(' '));
  }
});

// ---- over MLLP/TCP, the CLI's events ------------------------------------------------------

/** A stand-in for the gateway's listener: splits MLLP blocks, answers each with a hand-written ACK. */
async function listener(): Promise<{ port: number; received: string[]; close(): Promise<void> }> {
  const received: string[] = [];
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const end = pending.indexOf(Buffer.from([0x1c, 0x0d]));
        if (end < 0) break;
        const block = pending.subarray(0, end + 2);
        pending = pending.subarray(end + 2);
        const text = unframe(block);
        received.push(text);
        const msh = text.split('\r')[0]!.split('|');
        const trigger = (msh[8] ?? '').split('^')[1] ?? '';
        socket.write(Buffer.concat([Buffer.from([0x0b]), Buffer.from(`MSH|^~\\&|VIGIL|VIGIL|||20260101100000+0000||ACK^${trigger}^ACK|V${received.length}|P|2.6\rMSA|AA|${msh[9]}\r`), Buffer.from([0x1c, 0x0d])]));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

async function playOverTcp(extra: string[]) {
  const gateway = await listener();
  const parsed = parseMonitorArgs(['--transport', 'tcp', '--port', String(gateway.port), '--scenario', 'desaturation', '--seed', '7', '--messages', String(RUN_MESSAGES), '--period-ms', '10', '--unplug-quiet-ms', '300', ...extra]);
  if (!parsed.ok) throw new Error('arguments refused');
  const events: Array<Record<string, unknown>> = [];
  // A wall clock that moves a second at every reading: each message has its own MSH-7.
  let wallMs = T0;
  const sim = await startMonitorSimulator(parsed.config, { emit: (e) => events.push(e), wallNowMs: () => (wallMs += 1000) });
  await sim.finished;
  await sim.stop();
  await gateway.close();
  return { events, received: gateway.received, path: sim.pty.path, port: gateway.port };
}

t.test('REQ-HWSIM-017 over MLLP/TCP: ORU^R01 and ORU^R40 reach the listener in order, alert events as written, their ACKs read back', async (t) => {
  const { events, received, path, port } = await playOverTcp([]);
  t.equal(path, `tcp 127.0.0.1:${port}`);
  t.match(events[0], { event: 'connected', host: '127.0.0.1', port });
  const types = received.map((m) => m.split('\r')[0]!.split('|')[8]);
  t.equal(types.filter((x) => x === 'ORU^R01^ORU_R01').length, RUN_MESSAGES, 'every ORU^R01');
  const alertEvents = events.filter((e) => e.event === 'alert');
  const r40 = received.filter((m) => m.split('\r')[0]!.split('|')[8] === 'ORU^R40^ORU_R40');
  t.ok(r40.length >= 3, 'the alarm start, continue and end');
  t.same(alertEvents.map((e) => e.controlId), r40.map((m) => m.split('\r')[0]!.split('|')[9]), 'one alert event per ORU^R40 written, in order');
  // Each ORU^R40 comes right after its second's ORU^R01.
  for (const [i, m] of received.entries()) {
    if (!m.includes('ORU^R40^ORU_R40')) continue;
    const before = received.slice(0, i).reverse().find((x) => x.includes('ORU^R01^ORU_R01'))!;
    t.equal(before.split('\r')[0]!.split('|')[6], m.split('\r')[0]!.split('|')[6], 'MSH-7 of the ORU^R01 just before');
  }
  const phases = alertEvents.map((e) => e.phase);
  t.same([phases[0], phases.includes('continue'), phases.at(-1)], ['start', true, 'end']);
  for (const e of alertEvents) {
    t.match(e, { device: 'hl7-monitor', instanceId: /^HWSIM-ALERT-\d+$/, state: /^(active|inactive)$/, inactivationState: 'enabled', eventCode: '196670', eventName: 'MDC_EVT_LO', sourceCode: '150456', priority: 'PM', type: 'SP', injected: null, dropped: false });
    const frame = events.find((f) => f.event === 'frame' && f.index === e.index)!;
    t.ok(typeof e.sentWallMs === 'number' && e.sentWallMs > (frame.sentWallMs as number), 'written after its ORU^R01, at the time it says');
    t.equal(e.deviceTime, frame.deviceTime, 'the device time of its second');
  }
  const acks = events.filter((e) => e.event === 'ack');
  for (const e of alertEvents) t.ok(acks.some((a) => a.controlId === e.controlId && a.code === 'AA'), `the ACK of ${String(e.controlId)} read back`);
});

t.test('REQ-HWSIM-016 REQ-HWSIM-017 --alerts off over TCP: no ORU^R40 written, no alert event', async (t) => {
  const { events, received } = await playOverTcp(['--alerts', 'off']);
  t.equal(received.length, RUN_MESSAGES, 'only the ORU^R01');
  t.notOk(received.some((m) => m.includes('ORU^R40')));
  t.equal(events.filter((e) => e.event === 'alert').length, 0);
});

t.test('REQ-HWSIM-017 TCP arguments: --port needed, tcp options only with tcp, --link only with pty', async (t) => {
  t.match(parseMonitorArgs(['--transport', 'tcp', '--port', '2575', '--host', '10.0.0.2']), { ok: true, config: { transport: 'tcp', port: 2575, host: '10.0.0.2', connectTimeoutMs: 10000 } });
  for (const bad of [['--transport', 'tcp'], ['--transport', 'tcp', '--port', '70000'], ['--port', '2575'], ['--host', 'x'], ['--transport', 'udp'], ['--transport', 'tcp', '--port', '1', '--link', '/tmp/x']]) {
    t.match(parseMonitorArgs(bad), { ok: false, help: false }, bad.join(' '));
  }
});

// ---- the agent reads them alike ------------------------------------------------------------

t.test("REQ-HWSIM-016 the agent's PCD-04 decoder, strict, reads every alert hw-sim sends as hw-sim says it sent it", async (t) => {
  const list = run({ injections: [
    { kind: 'alert-unknown-event', from: 2, to: 2 }, { kind: 'alert-malformed', from: 5, to: 5 }, { kind: 'alert-end-without-start', from: 7, to: 7 },
  ] });
  let n = 0;
  for (const m of list) {
    for (const a of m.alerts) {
      n++;
      const d = decodePcd01(a.bytes.subarray(1, a.bytes.length - 2), { defaultUtcOffsetMinutes: 0, conformance: 'pcd01-strict' });
      if (a.injected === 'alert-malformed') {
        t.match(d, { ok: false, reason: 'malformed', location: { segment: 'OBR', field: 3 } }, 'no OBR-3: malformed');
        continue;
      }
      const technical = a.injected === 'alert-unknown-event';
      t.match(d, {
        ok: true, kind: 'alert', header: { controlId: a.controlId, messageType: 'ORU^R40' }, patientIds: [{ id: 'P1' }], equipmentId: EQUIPMENT,
        alerts: [{
          instanceId: `${a.instanceId}^HWSIM`, event: { code: Number(a.eventCode), refId: a.eventName }, eventKnown: !technical,
          source: { code: Number(a.sourceCode) }, phase: a.phase, state: a.state, inactivation: 'enabled',
          priority: technical ? 'low' : 'medium', type: technical ? 'technical' : 'physiological', ended: a.phase === 'end',
          deviceTime: { ms: m.deviceTimeMs }, warnings: [],
        }],
      }, `message ${m.index}: ${a.controlId}`);
    }
  }
  t.ok(n >= 6, 'the faults and the scenario\'s alarm were read');
});
