/**
 * Recorded device output replayed end to end through the real processes (issue 13, items 6 and
 * 7): `hw-sim replay` plays a capture as its device sent it, through a pseudo-terminal (serial
 * devices) or MLLP over TCP to the agent's listener (HL7 monitors); the real agent reads it and
 * publishes to a real Mosquitto; a subscriber decodes what the station would receive. Nothing
 * is mocked.
 *
 * - Every directory of test/fixtures/real/ with an expected.json is replayed (fixtures added
 *   later are replayed too): the values delivered are those written by hand in expected.json
 *   (read from the file), nothing else is delivered with a value, and a field the capture marks
 *   unavailable never arrives with a value (it is published unavailable, or not at all). HL7
 *   captures run with the agent's default settings (no device profile): every standard-coded
 *   (MDC) vital sign must arrive, as REQ-REAL-001 requires of `vigil decode`.
 * - The HL7 example of docs/interfaces/hl7-pcd01.md (its `monitor-periodic` wire example) is
 *   replayed over MLLP/TCP from a file with LF line ends: it is answered AA and each value
 *   marked for Vigil arrives as written.
 */
import t from 'tap';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ObservationMsg } from '../../agent/src/proto/codec';
import { freePort, startBroker, waitForPort } from '../support/broker';
import { observe, until } from '../support/observer';
import type { Observer } from '../support/observer';
import { exitOf, startAgentProcess, startHwSim, writeAgentConfig, type HwSim } from '../support/processes';
import { readWireExamples } from '../support/wire-examples';

const ROOT = join(__dirname, '..', '..', '..');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'real');

/** The fields of expected.json this test reads (schema vigil-real-fixture/1, test/fixtures/real/README.md). */
interface Expected {
  kind: 'hl7-oru' | 'masimo-ascii';
  capture: string;
  lines?: Array<{ line: number; fields: Array<{ name: string; unavailable: boolean; vigil: string | null }>; vigilValues: Record<string, number>; unavailable: string[] }>;
  messages?: Array<{ rows: Array<{ setId: string; codingSystem: string; vigil: string | null; vigilValue: number | null }> }>;
}

/** Values printed with fewer digits than the canonical unit gives (as REQ-REAL-001 compares). */
const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));

/**
 * What the capture must deliver by default: `want` (each must arrive), `allowed` (every value a
 * parameter may take), `forbidden` (parameters the capture only ever has unavailable).
 */
function expectations(e: Expected): { want: Array<[string, number]>; allowed: Map<string, number[]>; forbidden: Set<string> } {
  const want: Array<[string, number]> = [];
  const allowed = new Map<string, number[]>();
  const forbidden = new Set<string>();
  const add = (p: string, v: number, required: boolean): void => {
    allowed.set(p, [...(allowed.get(p) ?? []), v]);
    if (required) want.push([p, v]);
  };
  for (const l of e.lines ?? []) {
    for (const [p, v] of Object.entries(l.vigilValues)) add(p, v, true);
    for (const f of l.fields) if (f.unavailable && f.vigil !== null) forbidden.add(f.vigil);
  }
  for (const m of e.messages ?? []) {
    for (const r of m.rows) {
      if (r.vigil === null) continue;
      if (r.vigilValue === null) forbidden.add(r.vigil);
      else add(r.vigil, r.vigilValue, r.codingSystem.toUpperCase() === 'MDC');
    }
  }
  for (const p of allowed.keys()) forbidden.delete(p);
  return { want, allowed, forbidden };
}

const observations = (sub: Observer): ObservationMsg[] => sub.got.flatMap((r) => (r.env.observation ? [r.env.observation] : []));
const withValue = (sub: Observer): ObservationMsg[] => observations(sub).filter((o) => o.hasValue);

interface Run {
  sub: Observer;
  sim: HwSim;
  agentLogs: string[];
}

/** Broker, subscriber, the agent on `iface`, and `hw-sim replay` with `replayArgs`. */
async function replayThrough(
  t: { teardown(fn: () => unknown): void },
  capture: string,
  device: 'masimo-ascii' | 'hl7-monitor',
  periodMs: number,
): Promise<Run> {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const sub = await observe(broker.url);
  t.teardown(() => sub.end());
  const dir = mkdtempSync(join(tmpdir(), 'vigil-real-'));
  const holdMs = '4000';
  if (device === 'masimo-ascii') {
    // The pty first (the replay waits for the agent to open it), reached through a private link.
    const link = join(dir, 'tty');
    const sim = await startHwSim(['replay', capture, '--device', device, '--link', link, '--period-ms', String(periodMs), '--hold-ms', holdMs]);
    t.teardown(() => sim.stop('SIGKILL'));
    const config = writeAgentConfig(dir, { brokerUrl: broker.url, devicePath: link, interface: { id: 'spo2', driver: 'masimo-ascii', path: link, quietTimeMs: 5000 } });
    const agent = startAgentProcess(config);
    t.teardown(() => agent.stop('SIGKILL'));
    return { sub, sim, agentLogs: agent.logs };
  }
  // The agent's listener first (the monitor connects to the gateway), plain TCP on the loopback.
  const port = await freePort();
  const config = writeAgentConfig(dir, {
    brokerUrl: broker.url,
    devicePath: '',
    interface: { id: 'monitor', driver: 'hl7-pcd01', transport: 'tcp', host: '127.0.0.1', port, insecure: true, quietTimeMs: 30000, scoreUnverified: true },
  });
  const agent = startAgentProcess(config);
  t.teardown(() => agent.stop('SIGKILL'));
  await waitForPort(port);
  const sim = await startHwSim(['replay', capture, '--device', device, '--transport', 'tcp', '--port', String(port), '--period-ms', String(periodMs), '--hold-ms', holdMs]);
  t.teardown(() => sim.stop('SIGKILL'));
  return { sub, sim, agentLogs: agent.logs };
}

const fixtures = existsSync(FIXTURES) ? readdirSync(FIXTURES).filter((d) => existsSync(join(FIXTURES, d, 'expected.json'))).sort() : [];

t.test('REQ-HWSIM-013 there are real captures to replay', async (t) => {
  t.ok(fixtures.length >= 1, `${fixtures.length} fixture(s) with an expected.json: ${fixtures.join(', ')}`);
});

for (const name of fixtures) {
  t.test(`REQ-HWSIM-013 real capture ${name} replayed end to end: exactly the values written by hand, nothing unavailable as a value`, async (t) => {
    const e = JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as Expected;
    const device = e.kind === 'hl7-oru' ? 'hl7-monitor' : 'masimo-ascii';
    const { want, allowed, forbidden } = expectations(e);
    const run = await replayThrough(t, join(FIXTURES, name, e.capture), device, device === 'hl7-monitor' ? 300 : 1000);
    const delivered = (): boolean => want.every(([p, v]) => withValue(run.sub).some((o) => o.parameter === p && close(o.value, v)));
    // Until everything expected has arrived, or the replay is over and the agent had time to publish.
    const ended = exitOf(run.sim.process).then(() => new Promise((r) => setTimeout(r, 2000)));
    let over = false;
    void ended.then(() => (over = true));
    await until('the expected values, or the end of the replay', () => delivered() || over, 60_000);
    await new Promise((r) => setTimeout(r, 500)); // anything published late is checked too
    t.equal(run.sim.process.exitCode ?? (await exitOf(run.sim.process)), 0, 'hw-sim replay played the whole capture and exited 0');
    const items = run.sim.frames.length;
    t.ok(items >= 1, `${items} item(s) replayed`);
    if (device === 'hl7-monitor') {
      t.equal(run.sim.events.filter((ev) => ev.event === 'ack').length, items, 'every message answered with an ACK');
    }
    for (const [p, v] of want) t.ok(withValue(run.sub).some((o) => o.parameter === p && close(o.value, v)), `${p} = ${v} delivered`);
    if (!delivered()) {
      // Say why, from the agent's own log: a rejected line or message names its reason.
      for (const line of run.agentLogs.filter((l) => /reject/.test(l)).slice(0, 5)) t.comment(`agent: ${line}`);
    }
    for (const o of withValue(run.sub)) {
      t.ok((allowed.get(o.parameter) ?? []).some((v) => close(o.value, v)), `${o.parameter} = ${o.value} is a value the capture holds`);
      t.notOk(forbidden.has(o.parameter), `${o.parameter} is unavailable in the capture, not a value`);
    }
    for (const p of forbidden) {
      const published = observations(run.sub).filter((o) => o.parameter === p);
      t.ok(published.every((o) => !o.hasValue), `${p}: published unavailable (${published.length}) or not at all`);
    }
  });
}

t.test('REQ-HWSIM-014 the HL7 example of the interface document, replayed over MLLP/TCP, is answered AA and arrives as written', async (t) => {
  const example = readWireExamples(ROOT).examples.find((x) => x.iface === 'hl7-pcd01' && x.id === 'monitor-periodic');
  t.ok(example?.values, 'docs/interfaces/hl7-pcd01.md holds the monitor-periodic example');
  if (!example?.values) return;
  // The file as a capture is often found: LF line ends (the replay sends CR, as HL7 requires).
  const file = join(mkdtempSync(join(tmpdir(), 'vigil-doc-hl7-')), 'monitor-periodic.hl7');
  writeFileSync(file, `${example.wireLines.join('\n')}\n`);
  const rows = (example.values.orders as Array<{ observations: Array<{ vigil: string | null; vigilValue: number | null; vigilUnit: string | null }> }>)
    .flatMap((o) => o.observations)
    .filter((r) => r.vigil !== null && r.vigilValue !== null);
  const run = await replayThrough(t, file, 'hl7-monitor', 300);
  await until('every value of the example', () => rows.every((r) => withValue(run.sub).some((o) => o.parameter === r.vigil)), 30_000);
  const ack = await until('the ACK', () => run.sim.events.find((ev) => ev.event === 'ack'));
  t.match(ack, { controlId: example.values.controlId, code: 'AA' }, 'answered AA');
  for (const r of rows) {
    const got = withValue(run.sub).filter((o) => o.parameter === r.vigil);
    t.same(got.map((o) => [o.value, o.unitUcum, o.status]), [[r.vigilValue, r.vigilUnit, 'RESULT_STATUS_UNVERIFIED']], `${r.vigil}: ${r.vigilValue} ${r.vigilUnit}, once`);
  }
  t.equal(withValue(run.sub).length, rows.length, 'nothing else arrives with a value');
  t.ok(withValue(run.sub).every((o) => o.source.driver === 'hl7-pcd01'), 'from the HL7 interface');
});
