/**
 * Real-world HL7 v2 device messages (../shared/data/hl7v2, not part of the repository)
 * through `vigil decode pcd01`'s pipeline: every valid message decodes, every invalid one is
 * rejected with its reason; 98.6 [degF] becomes 37 Cel; OBX-11 and OBX-8 are honoured.
 *
 * When the folder is absent (a fresh clone), the same assertions run on this repository's own
 * fixtures (test/support/hl7-pcd01-fixtures.ts), which are built to the same shapes: the test
 * never passes on nothing.
 */
import t from 'tap';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodePcd01Capture } from '../../agent/src/commands/decode';
import type { DecodeLine } from '../../agent/src/commands/decode';
import { ackMessage, monitorMessage, monitorObx, thermometerFahrenheit } from '../support/hl7-pcd01-fixtures';

// VIGIL_HL7V2_DIR points elsewhere (e.g. a missing folder, to run the fresh-clone path).
const SHARED = process.env.VIGIL_HL7V2_DIR ?? join(__dirname, '..', '..', '..', '..', 'shared', 'data', 'hl7v2');
/** Rejections of a whole message (as opposed to one OBX that Vigil does not use). */
const MESSAGE_REJECTS = new Set(['framing', 'overflow', 'decode-limit', 'truncated', 'malformed', 'unsupported-message', 'unsupported-version', 'missing-profile', 'duplicate', 'patient-mismatch', 'device-changed', 'device-identity']);

interface Capture {
  name: string;
  bytes: Buffer;
  valid: boolean;
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : /\.hl7(v2)?$/.test(n) ? [p] : [];
  });
}

function captures(): { source: string; list: Capture[] } {
  if (existsSync(SHARED)) {
    return {
      source: SHARED,
      list: files(SHARED)
        .sort()
        .map((p) => ({ name: p.slice(SHARED.length + 1), bytes: readFileSync(p), valid: !/invalid/i.test(p) })),
    };
  }
  const own = (name: string, text: string, valid: boolean): Capture => ({ name, bytes: Buffer.from(text, 'latin1'), valid });
  return {
    source: 'test/support/hl7-pcd01-fixtures.ts',
    list: [
      own('monitor', monitorMessage(), true),
      own('monitor-crlf', monitorMessage().replace(/\r/g, '\r\n'), true),
      own('thermometer-fahrenheit', thermometerFahrenheit('98.6'), true),
      own('statuses', monitorMessage({ obx: [
        { type: 'NM', code: '150021^MDC_PRESS_BLD_NONINV_SYS^MDC', containment: '1.0.1.1', value: '140', unit: '266016^MDC_DIM_MMHG^MDC', status: 'C' },
        { type: 'NM', code: '150022^MDC_PRESS_BLD_NONINV_DIA^MDC', containment: '1.0.1.2', value: '70', unit: '266016^MDC_DIM_MMHG^MDC', status: 'D' },
        { type: 'NM', code: '150023^MDC_PRESS_BLD_NONINV_MEAN^MDC', containment: '1.0.1.3', value: '100', unit: '266016^MDC_DIM_MMHG^MDC', status: 'F' },
      ] }), true),
      own('ack', ackMessage('AA', 'MSG00001'), true),
      own('invalid-value-without-type', monitorMessage({ obx: [{ type: '', code: '8417844^MDC_CTXT_GLU_SAMPLELOCATION^MDC', containment: '1.0.0.6', value: '8417848^MDC_CTXT_GLU_SAMPLELOCATION_FINGER^MDC', status: 'R' }] }), false),
      own('invalid-version', ackMessage('AA', 'MSG00001', '2.5', ''), false),
      own('invalid-no-profile', ackMessage('CE', 'MSG00001', '2.6', ''), false),
    ],
  };
}

const { source, list } = captures();
/** The assertions below are those of a strict PCD-01 interface; tolerant decoding is tested at the end. */
const STRICT = { conformance: 'pcd01-strict' as const };
const decoded = new Map<string, DecodeLine[]>(list.map((c) => [c.name, decodePcd01Capture(c.bytes, STRICT)]));
const byName = (part: string): DecodeLine[] => [...decoded.entries()].find(([n]) => n.includes(part))?.[1] ?? [];

t.test('REQ-HL7-021 every valid message decodes; every invalid message is rejected with its reason', async (t) => {
  t.comment(`messages from ${source}`);
  t.ok(list.length >= 8, `${list.length} messages`);
  let valid = 0;
  let invalid = 0;
  for (const c of list) {
    const lines = decoded.get(c.name) ?? [];
    const messageRejects = lines.filter((l) => l.kind === 'rejection' && MESSAGE_REJECTS.has(l.reason));
    if (c.valid) {
      valid++;
      t.same(messageRejects, [], `${c.name}: decodes`);
      t.ok(lines.length > 0, `${c.name}: yields readings, OBX rejections or an ACK`);
      for (const l of lines) {
        if (l.kind === 'rejection') t.notOk(MESSAGE_REJECTS.has(l.reason), `${c.name}: only OBX-level rejections (${l.reason})`);
      }
    } else {
      invalid++;
      t.equal(messageRejects.length, 1, `${c.name}: rejected`);
      t.match(messageRejects[0], { kind: 'rejection', reason: /^[a-z-]+$/, detail: /\S/ }, `${c.name}: with a reason and a detail`);
      t.equal(lines.filter((l) => l.kind === 'reading').length, 0, `${c.name}: no reading from a rejected message`);
    }
  }
  t.ok(valid >= 5 && invalid >= 2, `${valid} valid, ${invalid} invalid`);
});

t.test('REQ-HL7-021 HAZ-001 the thermometer message: 98.6 [degF] becomes 37.0 Cel, flagged as converted', async (t) => {
  const therm = byName('thermometer');
  const readings = therm.filter((l) => l.kind === 'reading');
  t.equal(readings.length, 1);
  t.match(readings[0], { parameter: 'temperature', value: 37, unit: 'Cel', flags: ['unit-converted'] });
});

t.test('REQ-HL7-021 HAZ-002 OBX-11 is honoured: corrected, deleted (withdrawn) and final; unverified for live values', async (t) => {
  const statusOf = (lines: DecodeLine[], parameter: string) => lines.find((l) => l.kind === 'reading' && l.parameter === parameter);
  const shared = existsSync(SHARED);
  const lines = shared ? byName('MaximumRequest2') : byName('statuses');
  t.match(statusOf(lines, 'nibpSystolic'), { status: 'corrected', value: 140 });
  t.match(statusOf(lines, 'nibpDiastolic'), { status: 'deleted', value: null }, 'a deleted value carries no number');
  t.match(statusOf(lines, 'nibpMean'), { status: 'final', value: 100 });
  const live = shared ? byName('E.1.2') : byName('monitor');
  t.ok(live.filter((l) => l.kind === 'reading').every((l) => l.kind === 'reading' && l.status === 'unverified'), 'R is unverified');
  if (shared) {
    // The IHE physiological-monitor example marks its metrics X (cannot be obtained).
    const philips = byName('E.1.1').filter((l) => l.kind === 'reading');
    t.ok(philips.length >= 5, 'the monitor example has table parameters');
    t.ok(philips.every((l) => l.kind === 'reading' && l.status === 'unavailable' && l.value === null), 'X: unavailable, no value shown');
  }
});

t.test('REQ-HL7-021 HAZ-010 OBX-8 DEMO is honoured: the same messages marked DEMO yield no reading', async (t) => {
  // Mark every OBX of each valid message DEMO (OBX-8 of each OBX segment) and decode again.
  let checked = 0;
  for (const c of list.filter((x) => x.valid)) {
    const text = c.bytes.toString('latin1');
    const demo = text.replace(/^(OBX\|(?:[^|\r\n]*\|){7})[^|\r\n]*/gm, '$1DEMO');
    if (demo === text) continue;
    const before = (decoded.get(c.name) ?? []).filter((l) => l.kind === 'reading' && l.value !== null).length;
    const lines = decodePcd01Capture(Buffer.from(demo, 'latin1'), STRICT);
    t.equal(lines.filter((l) => l.kind === 'reading' && l.value !== null).length, 0, `${c.name}: no value once marked DEMO`);
    const demoRejects = lines.filter((l) => l.kind === 'rejection' && l.reason === 'demo-data').length;
    t.ok(demoRejects >= before, `${c.name}: ${demoRejects} demo-data rejections for ${before} values`);
    checked++;
  }
  t.ok(checked >= 3, `${checked} messages checked`);
  t.same(monitorObx().length, 9, 'the fixture monitor has its 8 readings and its MDS row');
});

t.test('REQ-HL7-022 REQ-HL7-023 tolerant (the default): every message of the set is read, none rejected whole; valid ones give the same lines as strict', async (t) => {
  for (const c of list) {
    const tolerant = decodePcd01Capture(c.bytes);
    t.same(tolerant.filter((l) => l.kind === 'rejection' && MESSAGE_REJECTS.has(l.reason)), [], `${c.name}: not rejected whole`);
    const strict = decoded.get(c.name) ?? [];
    if (c.valid) {
      t.same(tolerant.filter((l) => l.kind !== 'warning'), strict, `${c.name}: the same readings and rejections as strict`);
    } else {
      const deviations = tolerant.filter((l) => l.kind === 'warning' || l.kind === 'ack' || (l.kind === 'rejection' && !MESSAGE_REJECTS.has(l.reason)));
      t.ok(deviations.length > 0, `${c.name}: read, its deviations reported as warnings or OBX rejections`);
      t.equal(tolerant.filter((l) => l.kind === 'reading' && l.value !== null).length, strict.filter((l) => l.kind === 'reading' && l.value !== null).length, `${c.name}: no value appears that strict would not give`);
    }
  }
});
