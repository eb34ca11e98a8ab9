/**
 * The Masimo models and firmware variants (docs/interfaces/masimo-ascii.md, "Variants"):
 * each variant's line decoded to its values, every unavailable form, leading NUL bytes,
 * unsupported variants named by their first unknown key, the EXC/ALARM/EXC1 widths, the
 * Rainbow parameters through the driver and `vigil decode`, and the one real Radical-7 capture
 * against its hand-written expected.json.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeMasimoCapture } from '../../agent/src/commands/decode';
import type { DecodeLine } from '../../agent/src/commands/decode';
import { FakeClock } from '../../agent/src/clock';
import { parseConfig } from '../../agent/src/config';
import type { MasimoInterfaceConfig } from '../../agent/src/config';
import type { RejectReason } from '../../agent/src/drivers/driver';
import { frameToObservations, MasimoAsciiDriver } from '../../agent/src/drivers/masimo-ascii/driver';
import { decodeMasimoAscii, encodeMasimoAscii } from '../../agent/src/drivers/masimo-ascii/protocol';
import type { DecodeResult, MasimoFrame } from '../../agent/src/drivers/masimo-ascii/protocol';
import { memoryLogger } from '../../agent/src/log';
import type { Observation } from '../../agent/src/model/observation';
import type { ParameterCode } from '../../agent/src/model/parameters';
import { PARAMETERS } from '../../agent/src/model/parameters';

const ROOT = join(__dirname, '..', '..', '..');
const REAL = join(ROOT, 'test', 'fixtures', 'real', 'masimo-radical-7');
const VIGIL_CLI = join(__dirname, '..', '..', 'agent', 'src', 'cli.js');
const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');

function frameOf(text: string | Buffer): MasimoFrame {
  const r = decodeMasimoAscii(typeof text === 'string' ? ascii(text) : text);
  if (!r.ok) throw new Error(`expected a frame, got ${r.reason}: ${r.detail}`);
  return r.frame;
}

function rejectOf(text: string): [string, string] | null {
  const r: DecodeResult = decodeMasimoAscii(ascii(text));
  return r.ok ? null : [r.reason, r.detail];
}

// Radical-7 colour (fields.ts S5), values constructed in the documented forms. SpOC agrees
// with Masimo's formula: 1.31 x 13.4 x 0.97 + 0.3 = 17.3 ml/dL.
const COLOUR =
  '01/05/26 08:30:00 SN=0000123456 SPO2=097% BPM=072 PI=02.41 SPCO=03% SPMET=01.2% SPHB=13.4 SPOC=17 RESVD=--- DESAT=00 PIDELTA=+05 PVI=014 ALARM=000000 EXC=0000800 EXC1=00000000';
// Rad-8 (the example of the interface document, S4).
const RAD8 =
  '02/22/16 22:47:45 SN=0000056661 SPO2=098% BPM=097 PI=03.60% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000800';
// Rad-8, no sensor: BPM dashed with a % sign, no PI, SPCO or SPMET (S6, nmenon/masimo-datacapture, BSD-2-Clause).
const RAD8_NO_SENSOR = '03/19/16 13:37:12 SN=0000093112 SPO2=---% BPM=---% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000001';
// Radical-5 (S1): no SN, ALARM 2 digits, EXC 3.
const RADICAL5 = '09/15/10 15:10:29 SPO2=097% BPM=064 PI=11.82% ALARM=20 EXC=800';
// The "blue" Radical-7 (service manual example, S4): all dashes, trailing space.
const RADICAL7_BLUE =
  '05/15/07 08:12:21 SN=0000070986 SPO2=---% BPM=--- PI=--.--% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- PVI=--- ALARM=0000 EXC=000000 ';

t.test('REQ-MASIMO-003 the Radical-7 colour line: every field, the Rainbow parameters in their units', async (t) => {
  const f = frameOf(COLOUR);
  t.same(
    {
      serial: f.serialNumber, spo2: f.spo2Percent, bpm: f.pulseBpm, pi: f.perfusionIndexPercent, spco: f.spcoPercent, spmet: f.spmetPercent,
      sphb: f.spHbGramsPerDl, spoc: f.spOcMlPerDl, desat: f.desat, piDelta: f.piDeltaPercent, pvi: f.pviPercent,
      alarm: f.alarmBits, exc: f.exceptionBits, exc1: f.exception1Bits, exceptions: f.exceptions, unknown: f.unknownExceptionBits,
    },
    {
      serial: '0000123456', spo2: 97, bpm: 72, pi: 2.41, spco: 3, spmet: 1.2, sphb: 13.4, spoc: 17, desat: 0, piDelta: 5, pvi: 14,
      alarm: 0, exc: 0x800, exc1: 0, exceptions: ['masimo-set'], unknown: 0,
    },
  );
  t.equal(frameOf(COLOUR.replace('PI=02.41', 'PI=02.41%')).perfusionIndexPercent, 2.41, 'PI with % (Rad-8 form) in a colour line');
  t.equal(frameOf(COLOUR.replace('SPCO=03%', 'SPCO=03.5%')).spcoPercent, 3.5, 'SPCO NN.N% (Rad-8 form) in a colour line');
  t.equal(frameOf(COLOUR.replace('SPHB=13.4', 'SPHB=07.0')).spHbGramsPerDl, 7);
  t.equal(encodeMasimoAscii(f, { layout: 'radical7-colour' }).toString('latin1'), `${COLOUR}\r\n`, 'the colour layout, byte for byte');
});

t.test('REQ-MASIMO-003 the Rad-8, Radical-5 and "blue" Radical-7 lines, and the Rad-8 sensor-off line without PI', async (t) => {
  const rad8 = frameOf(RAD8);
  t.same([rad8.spo2Percent, rad8.pulseBpm, rad8.perfusionIndexPercent, rad8.spcoPercent, rad8.spmetPercent], [98, 97, 3.6, null, null]);
  t.same([rad8.spHbGramsPerDl, rad8.spOcMlPerDl, rad8.exception1Bits], [null, null, null], 'no Rainbow field, no EXC1');
  const noSensor = frameOf(RAD8_NO_SENSOR);
  t.same([noSensor.spo2Percent, noSensor.pulseBpm, noSensor.perfusionIndexPercent], [null, null, null], 'BPM=---% is unavailable, not a reject');
  t.same(noSensor.exceptions, ['no-sensor']);
  const r5 = frameOf(RADICAL5);
  t.same([r5.serialNumber, r5.spo2Percent, r5.pulseBpm, r5.perfusionIndexPercent, r5.alarmBits, r5.exceptionBits], [null, 97, 64, 11.82, 0x20, 0x800]);
  t.equal(encodeMasimoAscii(r5, { layout: 'radical5' }).toString('latin1'), `${RADICAL5}\r\n`, 'the Radical-5 layout, byte for byte');
  const blue = frameOf(RADICAL7_BLUE);
  t.same([blue.serialNumber, blue.spo2Percent, blue.pulseBpm, blue.perfusionIndexPercent, blue.pviPercent], ['0000070986', null, null, null, null]);
  const piDashed = frameOf(RAD8.replace('PI=03.60%', 'PI=--.--%'));
  t.same([piDashed.spo2Percent, piDashed.perfusionIndexPercent], [98, null], 'PI can be dashed while SpO2 is valid');
});

const UNAVAILABLE_FORMS = ['---%', '---', '--.--%', '--.-%', '--%', '--.-', '--', '+--', '--.--'];
const NUMERIC: Array<[string, keyof MasimoFrame]> = [
  ['SPO2', 'spo2Percent'], ['BPM', 'pulseBpm'], ['PI', 'perfusionIndexPercent'], ['SPCO', 'spcoPercent'], ['SPMET', 'spmetPercent'],
  ['SPHB', 'spHbGramsPerDl'], ['SPOC', 'spOcMlPerDl'], ['DESAT', 'desat'], ['PIDELTA', 'piDeltaPercent'], ['PVI', 'pviPercent'],
];

t.test('REQ-MASIMO-004 every unavailable form, on every numeric field, is unavailable: never a value, never a reject', async (t) => {
  for (const [key, field] of NUMERIC) {
    for (const dashes of UNAVAILABLE_FORMS) {
      const line = COLOUR.replace(new RegExp(`\\b${key}=[^ ]+`), `${key}=${dashes}`);
      const r = decodeMasimoAscii(ascii(line));
      t.ok(r.ok && r.frame[field] === null, `${key}=${dashes}: unavailable`);
    }
  }
  t.equal(frameOf(COLOUR.replace('SN=0000123456', 'SN=----------')).serialNumber, null, 'SN=---------- is no serial');
  t.same(frameOf(COLOUR.replace('RESVD=---', 'RESVD=12.5')).spo2Percent, 97, 'RESVD, reserved: any Masimo number, ignored');
  t.same(rejectOf(COLOUR.replace('PI=02.41', 'PI=2.41')), ['malformed', 'PI: expected NN.NN%, NN.NN or --.--%'], 'a known key in an unknown form names its field');
  t.same(rejectOf(COLOUR.replace('SPHB=13.4', 'SPHB=13.4%')), ['malformed', 'SPHB: expected NN.N, NN or --.-']);
  t.equal(frameOf(COLOUR.replace('SPHB=13.4', 'SPHB=13')).spHbGramsPerDl, 13, 'SPHB in whole g/dL (precision 1.0)');
  t.same(rejectOf(COLOUR.replace('SPOC=17', 'SPOC=-7')), ['malformed', 'SPOC: expected NN or --'], 'a dash among digits is not unavailable');
  t.same(rejectOf(COLOUR.replace('RESVD=---', 'RESVD=abc')), ['malformed', 'RESVD: expected 1 to 8 digits, dashes, signs, points or %']);
});

t.test('REQ-MASIMO-004 leading NUL bytes are tolerated and reported; a NUL anywhere else is a framing error', async (t) => {
  const withNuls = Buffer.concat([Buffer.from([0, 0, 0]), ascii(COLOUR)]);
  const f = frameOf(withNuls);
  t.equal(f.leadingNulBytes, 3);
  t.same({ ...f, leadingNulBytes: 0 }, frameOf(COLOUR), 'the same values as without them');
  t.same(decodeMasimoAscii(Buffer.from([0, 0])), { ok: false, reason: 'framing', detail: 'empty line' }, 'NULs only');
  const inside = decodeMasimoAscii(Buffer.concat([ascii(COLOUR.slice(0, 20)), Buffer.from([0]), ascii(COLOUR.slice(20))]));
  t.same(inside.ok ? null : [inside.reason, inside.detail], ['framing', 'byte at offset 20 is not printable ASCII']);
  const afterSpace = decodeMasimoAscii(Buffer.concat([ascii(' '), Buffer.from([0]), ascii(COLOUR)]));
  t.equal(afterSpace.ok ? null : afterSpace.reason, 'framing', 'only NULs before anything else are leading');
});

t.test('REQ-MASIMO-005 a line of an unknown variant is unsupported-variant, naming its first unknown key, never a good field', async (t) => {
  // The Rad-8 trend download (S2, operator's manual p. 4-24): another format; its PI has no %
  // and its EXC carries text, yet the reason names the first key Vigil does not know.
  t.same(rejectOf('09/21/08 09:56:12 SpO2=097 PR=069 PI=04.69 EXC=800:SET'), ['unsupported-variant', 'unknown field SpO2']);
  const withRra = COLOUR.replace(' DESAT=', ' RRA=14 DESAT=');
  t.same(rejectOf(withRra), ['unsupported-variant', 'unknown field RRA']);
  t.same(rejectOf(withRra.replace('PI=02.41', 'PI=0.55')), ['unsupported-variant', 'unknown field RRA'], 'a PI form of the unknown variant is not blamed');
  t.same(rejectOf(withRra.replace('SPO2=097%', 'SPO2=97')), ['unsupported-variant', 'unknown field RRA'], 'nor an SPO2 form');
  t.same(rejectOf(COLOUR.replace(' SPCO=', ' ORI=0.3 SPCO=').replace(' PVI=', ' RRP=12 PVI=')), ['unsupported-variant', 'unknown field ORI'], 'the first one');
  t.equal(rejectOf(COLOUR), null, 'the colour Radical-7 line itself (SPHB, PI without %) is no longer rejected');
  const reason: RejectReason = 'unsupported-variant';
  t.equal(reason, 'unsupported-variant', 'the driver-level reason union includes it');
});

t.test('REQ-MASIMO-005 EXC, ALARM and EXC1 in each variant width; unknown bits stay flagged unknown-device-condition', async (t) => {
  const real = frameOf(COLOUR.replace('EXC=0000800', 'EXC=0000C00').replace('ALARM=000000', 'ALARM=000038'));
  t.same([real.exceptionBits, real.exceptions, real.alarmBits], [0xc00, ['low-signal-iq', 'masimo-set'], 0x38], 'EXC 7 digits, ALARM 6');
  const seventh = frameOf(COLOUR.replace('EXC=0000800', 'EXC=1000800'));
  t.same([seventh.exceptions, seventh.unknownExceptionBits], [['masimo-set'], 0x1000000], 'the 7th EXC digit is no documented bit');
  const stamp = { wallMs: Date.UTC(2026, 0, 5, 8, 30, 0), monoNs: 0n };
  const source = { driver: 'masimo-ascii', interfaceId: 'spo2', port: 'test' };
  const flags = (line: string): string[] => frameToObservations(frameOf(line), stamp, source, '+00:00')[0]?.quality ?? [];
  t.same(flags(COLOUR), [], 'EXC1=00000000: nothing to flag');
  t.same(flags(COLOUR.replace('EXC1=00000000', 'EXC1=00000001')), ['unknown-device-condition'], 'any EXC1 bit: no source names it');
  t.same(flags(COLOUR.replace('EXC=0000800', 'EXC=1000800')), ['unknown-device-condition']);
  t.same(flags(COLOUR.replace('EXC=0000800', 'EXC=0000C00')), ['low-signal-quality']);
});

const config = parseConfig({
  gateway: { gatewayId: 'gw-1', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' },
  mqtt: { url: 'mqtt://127.0.0.1:1', insecure: true, heartbeatIntervalMs: 60000 },
  interfaces: [{ id: 'spo2', driver: 'masimo-ascii', path: '/dev/null-device', quietTimeMs: 3000 }],
});

t.test('REQ-MASIMO-003 the driver publishes the Rainbow parameters once the device gives them, and counts leading NULs', async (t) => {
  const clock = new FakeClock(Date.UTC(2026, 0, 5, 8, 30, 0));
  const driver = new MasimoAsciiDriver(config.interfaces[0] as MasimoInterfaceConfig, clock, memoryLogger());
  const batches: Observation[][] = [];
  driver.on('observations', (o) => batches.push(o));
  const feed = (line: Buffer) => driver.handleFrame(line, { wallMs: clock.wallMs(), monoNs: clock.monoNs() });
  feed(ascii(RAD8.replace('SN=0000056661', 'SN=0000123456')));
  t.same(batches[0]?.map((o) => o.parameter), ['spo2', 'pulseRate', 'perfusionIndex'], 'dashed SPCO/SPMET of a Rad-8 are not published');
  feed(Buffer.concat([Buffer.from([0, 0]), ascii(COLOUR)]));
  const rainbow = Object.fromEntries((batches[1] ?? []).map((o) => [o.parameter, [o.value, o.unitUcum]]));
  t.same(rainbow, {
    spo2: [97, '%'], pulseRate: [72, '/min'], perfusionIndex: [2.41, '%'],
    spCO: [3, '%'], spMet: [1.2, '%'], spHb: [13.4, 'g/dL'], spOC: [17, 'mL/dL'], pvi: [14, '%'],
  });
  feed(ascii(COLOUR.replace('SPHB=13.4', 'SPHB=--.-')));
  const withdrawn = batches[2]?.find((o) => o.parameter === 'spHb');
  t.same([withdrawn?.value, withdrawn?.status], [null, 'cannot-obtain'], 'once published, a dashed SpHb is withdrawn');
  t.equal(driver.snapshot().counters['frames-leading-nul'], 1, 'the line with leading NULs is counted');
  t.equal(driver.snapshot().counters['frames-valid'], 3);
  for (const p of ['spCO', 'spMet', 'spHb', 'spOC', 'pvi'] as ParameterCode[]) t.equal(PARAMETERS[p].news2Field, null, `${p} is no NEWS2 input`);
});

const readings = (lines: DecodeLine[]): Array<[string, number | null, string]> =>
  lines.flatMap((l) => (l.kind === 'reading' ? [[l.parameter, l.value, l.unit] as [string, number | null, string]] : []));

t.test('REQ-MASIMO-003 vigil decode masimo-ascii decodes each variant and prints the Rainbow parameters', async (t) => {
  // One device per capture (another serial number would be a device change).
  const values = (line: string) => readings(decodeMasimoCapture(ascii(`${line}\r\n`))).filter(([, v]) => v !== null);
  t.same(values(RAD8), [['spo2', 98, '%'], ['pulseRate', 97, '/min'], ['perfusionIndex', 3.6, '%']], 'Rad-8');
  t.same(values(RADICAL5), [['spo2', 97, '%'], ['pulseRate', 64, '/min'], ['perfusionIndex', 11.82, '%']], 'Radical-5');
  t.same(values(RAD8_NO_SENSOR), [], 'Rad-8 without sensor: nothing delivered');
  t.same(readings(decodeMasimoCapture(ascii(RADICAL7_BLUE))).map(([p, v]) => [p, v]), [['spo2', null], ['pulseRate', null], ['perfusionIndex', null]], 'the blue Radical-7, all unavailable');
  const capture = Buffer.concat([
    Buffer.from([0, 0]),
    ascii([COLOUR, COLOUR.replace('08:30:00', '08:30:01').replace('SPHB=13.4', 'SPHB=--.-'), '09/21/08 09:56:12 SpO2=097 PR=069 PI=04.69 EXC=800:SET'].join('\r\n')),
    ascii('\r\n'),
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-masimo-variants-'));
  const file = join(dir, 'radical7-colour.txt');
  writeFileSync(file, capture);
  const run = spawnSync(process.execPath, [VIGIL_CLI, 'decode', 'masimo-ascii', file], { encoding: 'utf8' });
  t.equal(run.status, 0);
  const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as DecodeLine);
  t.same(lines, decodeMasimoCapture(capture), 'the command prints what decodeMasimoCapture returns');
  t.same(readings(lines), [
    ['spo2', 97, '%'], ['pulseRate', 72, '/min'], ['perfusionIndex', 2.41, '%'],
    ['spCO', 3, '%'], ['spMet', 1.2, '%'], ['spHb', 13.4, 'g/dL'], ['spOC', 17, 'mL/dL'], ['pvi', 14, '%'],
    ['spo2', 97, '%'], ['pulseRate', 72, '/min'], ['perfusionIndex', 2.41, '%'],
    ['spCO', 3, '%'], ['spMet', 1.2, '%'], ['spHb', null, 'g/dL'], ['spOC', 17, 'mL/dL'], ['pvi', 14, '%'],
  ]);
  t.match(lines.find((l) => l.kind === 'reading' && l.parameter === 'spHb'), { code: 'masimo-ascii:SPHB', status: 'final' });
  t.match(lines.filter((l) => l.kind === 'reading' && l.parameter === 'spHb')[1], { value: null, status: 'unavailable' });
  t.same(lines.filter((l) => l.kind === 'rejection'), [{ kind: 'rejection', reason: 'unsupported-variant', detail: 'unknown field SpO2' }]);
});

interface ExpectedField { name: string; printed: string; unavailable: boolean; value?: number | string }
interface ExpectedLine { line: number; date: string; time: string; fields: ExpectedField[]; vigilValues: Record<string, number>; unavailable: string[] }

/** Where each key of the line lands in the frame (RESVD, reserved, lands nowhere). */
const FRAME_FIELD: Readonly<Record<string, keyof MasimoFrame | null>> = {
  SN: 'serialNumber', SPO2: 'spo2Percent', BPM: 'pulseBpm', PI: 'perfusionIndexPercent', SPCO: 'spcoPercent', SPMET: 'spmetPercent',
  SPHB: 'spHbGramsPerDl', SPOC: 'spOcMlPerDl', RESVD: null, DESAT: 'desat', PIDELTA: 'piDeltaPercent', PVI: 'pviPercent',
  ALARM: 'alarmBits', EXC: 'exceptionBits', EXC1: 'exception1Bits',
};

t.test('REQ-MASIMO-006 the real Radical-7 capture decodes to the values of its hand-written expected.json', async (t) => {
  const expected = JSON.parse(readFileSync(join(REAL, 'expected.json'), 'utf8')) as { capture: string; lines: ExpectedLine[] };
  const bytes = readFileSync(join(REAL, expected.capture));
  const text = bytes.toString('latin1').split('\n').filter((l) => l !== '');
  t.equal(text.length, expected.lines.length, 'one expected entry per line');
  for (const e of expected.lines) {
    const f = frameOf(text[e.line - 1] ?? '');
    const [mm, dd, yy] = e.date.split('/').map(Number);
    const [hh, mi, ss] = e.time.split(':').map(Number);
    t.same(f.deviceTime, { year: 2000 + (yy ?? 0), month: mm, day: dd, hour: hh, minute: mi, second: ss }, `line ${e.line}: device time`);
    for (const field of e.fields) {
      const at = FRAME_FIELD[field.name];
      t.not(at, undefined, `${field.name} is a key of the vocabulary`);
      if (at === null || at === undefined) continue;
      const want = field.unavailable ? null : typeof field.value === 'string' ? Number.parseInt(field.value, 16) : field.value;
      t.same(f[at], want, `line ${e.line}: ${field.name} printed ${field.printed}`);
    }
    for (const name of e.unavailable) t.ok(e.fields.some((x) => x.name === name && x.unavailable), `${name} is listed unavailable`);
  }
  const decoded = readings(decodeMasimoCapture(bytes)).filter(([, v]) => v !== null);
  const want = expected.lines.flatMap((e) => Object.entries(e.vigilValues).map(([p, v]) => [p, v, PARAMETERS[p as ParameterCode].unitUcum]));
  t.same(decoded, want, 'vigil decode delivers exactly the expected values, nothing else');
});

t.test('REQ-MASIMO-003 the example lines of the interface document decode to the values written beside them', async (t) => {
  const doc = readFileSync(join(ROOT, 'docs', 'interfaces', 'masimo-ascii.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Examples'), doc.indexOf('## Timing'));
  // The blocks are marked as wire examples (`wire masimo-ascii <id>`, docs/hw-sim.md) for the golden test.
  const examples = [...section.matchAll(/```(?:wire masimo-ascii \S+)?\n([^\n`]+)\n```\n\n((?:\|[^\n]*\n)+)/g)];
  t.ok(examples.length >= 7, `${examples.length} examples`);
  for (const [, line, table] of examples) {
    const f = frameOf(line ?? '');
    const rows = (table ?? '').trim().split('\n').slice(2).map((r) => r.split('|').slice(1, -1).map((c) => c.trim()));
    for (const [key = '', , value = ''] of rows) {
      const at = FRAME_FIELD[key];
      if (key === 'date time') {
        const d = f.deviceTime;
        const p = (n: number) => String(n).padStart(2, '0');
        t.equal(value, `${d.year}-${p(d.month)}-${p(d.day)} ${p(d.hour)}:${p(d.minute)}:${p(d.second)}`, `${line}: ${key}`);
        continue;
      }
      t.not(at, undefined, `${key} is a key of the vocabulary`);
      if (at === null || at === undefined) continue;
      const hex = /^0x([0-9A-F]+)/.exec(value);
      const want = value.startsWith('unavailable') ? null : hex ? Number.parseInt(hex[1] ?? '', 16) : key === 'SN' ? value : Number(value);
      t.same(f[at], want, `${line}: ${key} = ${value}`);
    }
  }
});
