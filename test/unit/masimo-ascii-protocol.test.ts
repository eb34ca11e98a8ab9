/**
 * Masimo ASCII 1 decoder and encoder, from byte fixtures (docs/interfaces/masimo-ascii.md).
 * Randomised cases use seeded generators; a failure prints its seed (set MASIMO_FUZZ_SEED to
 * replay it).
 */
import t from 'tap';
import {
  decodeMasimoAscii,
  encodeMasimoAscii,
  MasimoEncodeError,
  MASIMO_MAX_LINE_BYTES,
  type DecodeResult,
  type MasimoFrame,
  type MasimoLayout,
  type MasimoRejectReason,
} from '../../agent/src/drivers/masimo-ascii/protocol';
import { createRng, type Rng } from '../../hw-sim/src/rng';

const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');

function decode(text: string): DecodeResult {
  return decodeMasimoAscii(ascii(text));
}

/** Decodes a line that must be valid; a reject fails the test with its reason. */
function mustDecode(_t: unknown, text: string): MasimoFrame {
  const r = decode(text);
  if (!r.ok) throw new Error(`expected a frame, got ${r.reason}: ${r.detail}`);
  return r.frame;
}

// Rad-8, ASCII 1 (the example of the interface document).
const RAD8 =
  '02/22/16 22:47:45 SN=0000056661 SPO2=098% BPM=097 PI=03.60% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000800';
// Radical-7 with every field, PVI included (MD PnP OpenICE example line).
const RADICAL7 =
  '12/01/05 11:56:29 SN=0123456789 SPO2=098% BPM=240 PI=20.00% SPCO=01.0% SPMET=00.5% DESAT=01 PIDELTA=-02 PVI=027 ALARM=0000 EXC=000820';
// Radical-5: no SN, short hex fields (MD PnP OpenICE example line).
const RADICAL5 = '09/15/10 15:10:29 SPO2=097% BPM=064 PI=11.82% ALARM=20 EXC=800';
// Radical-7 service manual example: every value dashed, trailing space.
const ALL_DASHES =
  '05/15/07 08:12:21 SN=0000070986 SPO2=---% BPM=--- PI=--.--% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- PVI=--- ALARM=0000 EXC=000020 ';

/** EXC bit table, restated from the interface document (independent of the decoder's table). */
const EXC_TABLE: Array<[number, string]> = [
  [0x000001, 'no-sensor'], [0x000002, 'defective-sensor'], [0x000004, 'low-perfusion'],
  [0x000008, 'pulse-search'], [0x000010, 'interference'], [0x000020, 'sensor-off'],
  [0x000040, 'ambient-light'], [0x000080, 'unrecognized-sensor'], [0x000100, 'incompatible-sensor'],
  [0x000400, 'low-signal-iq'], [0x000800, 'masimo-set'], [0x001000, 'no-cable'],
  [0x002000, 'cable-life-expired'], [0x004000, 'incompatible-cable'], [0x008000, 'unrecognized-cable'],
  [0x010000, 'defective-cable'], [0x020000, 'sensor-calibrating'], [0x040000, 'sensor-life-expired'],
  [0x080000, 'emitter-temperature-out-of-range'], [0x100000, 'sensor-current-limit-exceeded'],
  [0x200000, 'spco-low-confidence'], [0x400000, 'spmet-low-confidence'],
];

function expectedExceptions(bits: number): { names: string[]; unknown: number } {
  let known = 0;
  const names: string[] = [];
  for (const [bit, name] of EXC_TABLE) {
    known |= bit;
    if ((bits & bit) !== 0) names.push(name);
  }
  return { names, unknown: (bits & ~known) >>> 0 };
}

const REASONS: readonly MasimoRejectReason[] = ['framing', 'malformed', 'unsupported-variant', 'duplicate-field', 'missing-field', 'overflow'];

/**
 * Every reject detail the decoder may produce. A detail outside these templates could echo a
 * reading; the fuzz cases check every reject against them.
 */
const KEY = '(SN|SPO2|BPM|PI|SPCO|SPMET|SPHB|SPOC|RESVD|DESAT|PIDELTA|PVI|ALARM|EXC|EXC1)';
const DETAIL_TEMPLATES: RegExp[] = [
  new RegExp(`^line longer than ${MASIMO_MAX_LINE_BYTES} bytes$`),
  /^(empty line|blank line|input is not a byte array)$/,
  /^byte at offset \d+ is not printable ASCII$/,
  /^date: (missing at start of line|expected MM\/DD\/YY|month outside 1\.\.12|day outside the month)$/,
  /^time: (missing after date|expected HH:MM:SS|hour outside 0\.\.23|minute outside 0\.\.59|second outside 0\.\.59)$/,
  /^token \d+: (expected KEY=VALUE|key is not 1 to 16 letters or digits|key holds a run of digits \(a damaged line\))$/,
  /^unknown field [A-Za-z](?:[A-Za-z]|\d(?!\d)){0,15}$/,
  new RegExp(`^${KEY}: (appears more than once|required field missing)$`),
  /^SN: expected 1 to 20 letters or digits, or dashes$/,
  /^RESVD: expected 1 to 8 digits, dashes, signs, points or %$/,
  /^(ALARM|EXC|EXC1): expected 1 to 8 hex digits$/,
  /^(SPO2|BPM|PI|SPCO|SPMET|SPHB|SPOC|DESAT|PIDELTA|PVI): expected [N.%+\-, or]+$/,
  /^(SPO2|BPM|PI|SPCO|SPMET|SPHB|SPOC|DESAT|PIDELTA|PVI): outside -?\d+\.\.\d+(\.\d)?$/,
];

/** Checks that a result is well formed; returns a problem or null. */
function problemWith(result: unknown): string | null {
  if (typeof result !== 'object' || result === null) return 'not an object';
  const r = result as DecodeResult;
  if (r.ok === true) {
    const f = r.frame;
    const inRange = (v: number | null, min: number, max: number): boolean => v === null || (Number.isFinite(v) && v >= min && v <= max);
    if (!inRange(f.spo2Percent, 0, 100) || !inRange(f.pulseBpm, 0, 240) || !inRange(f.perfusionIndexPercent, 0, 20)) return 'value out of range';
    if (!inRange(f.pviPercent, 0, 100) || !inRange(f.piDeltaPercent, -99, 99) || !inRange(f.desat, 0, 99)) return 'value out of range';
    if (!inRange(f.spcoPercent, 0, 99.9) || !inRange(f.spmetPercent, 0, 99.9) || !inRange(f.spHbGramsPerDl, 0, 99.9) || !inRange(f.spOcMlPerDl, 0, 99)) return 'value out of range';
    if (f.exception1Bits !== null && (!Number.isInteger(f.exception1Bits) || f.exception1Bits < 0)) return 'bad bits';
    if (!Number.isInteger(f.leadingNulBytes) || f.leadingNulBytes < 0) return 'bad NUL count';
    if (!Number.isInteger(f.exceptionBits) || f.exceptionBits < 0 || !Number.isInteger(f.alarmBits) || f.alarmBits < 0) return 'bad bits';
    const exc = expectedExceptions(f.exceptionBits);
    if (JSON.stringify(exc.names) !== JSON.stringify(f.exceptions) || exc.unknown !== f.unknownExceptionBits) return 'exceptions do not match bits';
    return null;
  }
  if (r.ok !== false) return 'ok is not a boolean';
  if (!REASONS.includes(r.reason)) return `unknown reason ${String(r.reason)}`;
  if (!DETAIL_TEMPLATES.some((re) => re.test(r.detail))) return `detail outside the templates: ${JSON.stringify(r.detail)}`;
  return null;
}

function baseSeed(): number {
  const fromEnv = process.env['MASIMO_FUZZ_SEED'];
  return fromEnv !== undefined && /^-?\d+$/.test(fromEnv) ? Number(fromEnv) : 20260101;
}

t.test('REQ-MASIMO-001 decodes the Rad-8 example line', async (t) => {
  const f = mustDecode(t, RAD8);
  t.same(f, {
    deviceTime: { year: 2016, month: 2, day: 22, hour: 22, minute: 47, second: 45 },
    serialNumber: '0000056661',
    spo2Percent: 98,
    pulseBpm: 97,
    perfusionIndexPercent: 3.6,
    spcoPercent: null,
    spmetPercent: null,
    spHbGramsPerDl: null,
    spOcMlPerDl: null,
    pviPercent: null,
    desat: null,
    piDeltaPercent: null,
    alarmBits: 0,
    exceptionBits: 0x800,
    exceptions: ['masimo-set'],
    unknownExceptionBits: 0,
    exception1Bits: null,
    leadingNulBytes: 0,
  });
  t.equal(f.perfusionIndexPercent, 3.6, 'PI keeps the device resolution: 03.60 -> 3.6');
});

t.test('REQ-MASIMO-001 decodes a line without SN and with short hex fields (Radical-5)', async (t) => {
  const f = mustDecode(t, RADICAL5);
  t.equal(f.serialNumber, null);
  t.equal(f.spo2Percent, 97);
  t.equal(f.pulseBpm, 64);
  t.equal(f.perfusionIndexPercent, 11.82);
  t.equal(f.alarmBits, 0x20);
  t.equal(f.exceptionBits, 0x800);
  t.equal(f.spcoPercent, null, 'absent fields are null');
  t.equal(f.pviPercent, null);
  const withoutSn = mustDecode(t, RAD8.replace(' SN=0000056661', ''));
  t.equal(withoutSn.serialNumber, null);
  t.equal(withoutSn.spo2Percent, 98);
});

t.test('REQ-MASIMO-001 decodes every Radical-7 field, PVI included', async (t) => {
  const f = mustDecode(t, RADICAL7);
  t.equal(f.serialNumber, '0123456789');
  t.equal(f.pulseBpm, 240);
  t.equal(f.perfusionIndexPercent, 20);
  t.equal(f.spcoPercent, 1);
  t.equal(f.spmetPercent, 0.5);
  t.equal(f.desat, 1);
  t.equal(f.piDeltaPercent, -2);
  t.equal(f.pviPercent, 27);
  t.same(f.exceptions, ['sensor-off', 'masimo-set']);
  t.equal(mustDecode(t, RADICAL7.replace('PIDELTA=-02', 'PIDELTA=-00')).piDeltaPercent, 0, '-00 is zero');
  t.ok(Object.is(mustDecode(t, RADICAL7.replace('PIDELTA=-02', 'PIDELTA=-00')).piDeltaPercent, 0), 'not -0');
  t.equal(mustDecode(t, RADICAL7.replace('PIDELTA=-02', 'PIDELTA=+15')).piDeltaPercent, 15);
});

t.test('REQ-MASIMO-001 an all-dash line (sensor off) decodes to unavailable values', async (t) => {
  const f = mustDecode(t, ALL_DASHES);
  t.same(
    [f.spo2Percent, f.pulseBpm, f.perfusionIndexPercent, f.spcoPercent, f.spmetPercent, f.desat, f.piDeltaPercent, f.pviPercent],
    [null, null, null, null, null, null, null, null],
  );
  t.same(f.exceptions, ['sensor-off']);
  t.equal(mustDecode(t, ALL_DASHES.replace('SN=0000070986', 'SN=----------')).serialNumber, null, 'a dashed SN is null');
});

t.test('REQ-MASIMO-001 field order does not matter', async (t) => {
  const reference = mustDecode(t, RADICAL7);
  const [date, time, ...fields] = RADICAL7.split(' ');
  const rng = createRng(baseSeed());
  for (let i = 0; i < 50; i++) {
    const shuffled = [...fields];
    for (let j = shuffled.length - 1; j > 0; j--) {
      const k = rng.int(0, j);
      [shuffled[j], shuffled[k]] = [shuffled[k] as string, shuffled[j] as string];
    }
    t.same(mustDecode(t, [date, time, ...shuffled].join(' ')), reference, `seed ${rng.seed} permutation ${i}`);
  }
});

t.test('REQ-MASIMO-001 EXC bits are named, reserved and unknown bits kept raw', async (t) => {
  const withBits = (exc: string): MasimoFrame => mustDecode(t, RAD8.replace('EXC=000800', `EXC=${exc}`));
  t.same(withBits('000000').exceptions, []);
  t.same(withBits('000C00').exceptions, ['low-signal-iq', 'masimo-set'], 'Rad-8 trend example C00');
  t.same(withBits('000828').exceptions, ['pulse-search', 'sensor-off', 'masimo-set']);
  const reserved = withBits('000200');
  t.same(reserved.exceptions, [], '0x200 is reserved');
  t.equal(reserved.unknownExceptionBits, 0x200);
  const high = withBits('FF800001');
  t.same(high.exceptions, ['no-sensor']);
  t.equal(high.unknownExceptionBits, 0xff800000, 'unsigned, 8 hex digits');
  t.equal(high.exceptionBits, 0xff800001);
  t.equal(withBits('00002a').exceptionBits, 0x2a, 'lower-case hex is accepted');
  for (const [bit, name] of EXC_TABLE) {
    t.same(withBits(bit.toString(16).padStart(6, '0')).exceptions, [name], `bit 0x${bit.toString(16)}`);
  }
});

t.test('REQ-MASIMO-001 dates are calendar-checked, the two-digit year is 20yy', async (t) => {
  t.same(mustDecode(t, RAD8.replace('02/22/16', '02/29/24')).deviceTime.day, 29, 'leap day');
  t.equal(mustDecode(t, RAD8.replace('02/22/16', '12/31/99')).deviceTime.year, 2099);
  t.equal(mustDecode(t, RAD8.replace('22:47:45', '00:00:00')).deviceTime.hour, 0);
  t.equal(decode(RAD8.replace('02/22/16', '02/29/23')).ok, false, 'no 29 February in 2023');
});

t.test('REQ-MASIMO-001 the encoder writes the device lines byte for byte', async (t) => {
  t.equal(encodeMasimoAscii(mustDecode(t, RAD8)).toString('latin1'), `${RAD8}\r\n`);
  t.equal(encodeMasimoAscii(mustDecode(t, RADICAL7)).toString('latin1'), `${RADICAL7}\r\n`);
  const noSerial = encodeMasimoAscii(mustDecode(t, RAD8), { includeSerial: false }).toString('latin1');
  t.equal(noSerial, `${RAD8.replace(' SN=0000056661', '')}\r\n`);
  const dashedPvi = encodeMasimoAscii(mustDecode(t, RAD8), { includePvi: true }).toString('latin1');
  t.match(dashedPvi, / PIDELTA=\+-- PVI=--- ALARM=0000 /);
  t.equal(
    encodeMasimoAscii({ ...mustDecode(t, RAD8), serialNumber: null }, { includeSerial: true }).toString('latin1').split(' ')[2],
    'SN=----------',
  );
});

t.test('REQ-MASIMO-001 the encoder refuses values the line cannot carry', async (t) => {
  const f = mustDecode(t, RAD8);
  const cases: Array<[string, Partial<MasimoFrame>]> = [
    ['SPO2', { spo2Percent: 101 }],
    ['BPM', { pulseBpm: -1 }],
    ['PI', { perfusionIndexPercent: Number.NaN }],
    ['ALARM', { alarmBits: 1.5 }],
    ['EXC', { exceptionBits: 2 ** 32 }],
    ['SN', { serialNumber: 'has space' }],
    ['deviceTime', { deviceTime: { ...f.deviceTime, month: 13 } }],
    ['deviceTime', { deviceTime: { ...f.deviceTime, year: 1999 } }],
  ];
  for (const [field, change] of cases) {
    t.throws(() => encodeMasimoAscii({ ...f, ...change }), { name: 'MasimoEncodeError', field, code: 'MASIMO_ENCODE_RANGE' }, field);
  }
  t.ok(new MasimoEncodeError('SPO2', 'x') instanceof RangeError);
});

function randomFrame(rng: Rng, layout: MasimoLayout = 'rad8'): MasimoFrame {
  const maybe = <T>(value: T): T | null => (rng.next() < 0.2 ? null : value);
  // The colour Radical-7 prints SPCO as NN% (whole percent): its frames carry whole values.
  const spcoTenths = layout === 'radical7-colour' ? rng.int(0, 99) * 10 : rng.int(0, 999);
  const year = rng.int(2000, 2099);
  const month = rng.int(1, 12);
  const exceptionBits = rng.int(0, 0xffffff);
  const exc = expectedExceptions(exceptionBits);
  return {
    deviceTime: { year, month, day: rng.int(1, 28), hour: rng.int(0, 23), minute: rng.int(0, 59), second: rng.int(0, 59) },
    serialNumber: maybe(String(rng.int(0, 9_999_999_999)).padStart(10, '0')),
    spo2Percent: maybe(rng.int(0, 100)),
    pulseBpm: maybe(rng.int(0, 240)),
    perfusionIndexPercent: maybe(rng.int(0, 2000) / 100),
    spcoPercent: maybe(spcoTenths / 10),
    spmetPercent: maybe(rng.int(0, 999) / 10),
    spHbGramsPerDl: maybe(rng.int(0, 999) / 10),
    spOcMlPerDl: maybe(rng.int(0, 99)),
    pviPercent: maybe(rng.int(0, 100)),
    desat: maybe(rng.int(0, 99)),
    piDeltaPercent: maybe(rng.int(-99, 99)),
    alarmBits: rng.int(0, 0xffff),
    exceptionBits,
    exceptions: exc.names as MasimoFrame['exceptions'],
    unknownExceptionBits: exc.unknown,
    exception1Bits: rng.int(0, 0x7fffffff),
    leadingNulBytes: 0,
  };
}

const LAYOUTS: readonly MasimoLayout[] = ['rad8', 'radical5', 'radical7-colour'];

/** What a frame decodes to after being written in a layout: the fields the layout has not are null. */
function afterLayout(frame: MasimoFrame, layout: MasimoLayout, includeSerial: boolean, includePvi: boolean): MasimoFrame {
  if (layout === 'radical7-colour') return frame;
  const rainbowless = { ...frame, spHbGramsPerDl: null, spOcMlPerDl: null, exception1Bits: null };
  if (layout === 'rad8') return { ...rainbowless, serialNumber: includeSerial ? frame.serialNumber : null, pviPercent: includePvi ? frame.pviPercent : null };
  return { ...rainbowless, serialNumber: null, spcoPercent: null, spmetPercent: null, desat: null, piDeltaPercent: null, pviPercent: null };
}

t.test('REQ-MASIMO-001 encode then decode gives the frame back (seeded random frames)', async (t) => {
  const seed = baseSeed() + 1;
  const rng = createRng(seed);
  let failures = 0;
  for (let i = 0; i < 3000 && failures < 3; i++) {
    const layout = LAYOUTS[rng.int(0, LAYOUTS.length - 1)] ?? 'rad8';
    const frame = randomFrame(rng, layout);
    const includeSerial = rng.next() < 0.5;
    const includePvi = rng.next() < 0.5;
    const bytes = encodeMasimoAscii(frame, { includeSerial, includePvi, layout });
    const result = decodeMasimoAscii(bytes.subarray(0, bytes.length - 2));
    const expected = afterLayout(frame, layout, includeSerial, includePvi);
    if (!result.ok || JSON.stringify(result.frame) !== JSON.stringify(expected) || bytes.length - 2 > MASIMO_MAX_LINE_BYTES) {
      failures++;
      t.fail(`seed ${seed} case ${i}: ${bytes.toString('latin1')} -> ${JSON.stringify(result)}`);
    }
  }
  t.equal(failures, 0, `3000 round trips (seed ${seed})`);
});

t.test('REQ-MASIMO-002 each reject reason, with a detail that names the field and the rule', async (t) => {
  const cases: Array<[string, Uint8Array, MasimoRejectReason, RegExp]> = [
    ['NUL byte', ascii(RAD8.replace('BPM', 'B\u0000M')), 'framing', /^byte at offset \d+ is not printable ASCII$/],
    ['stray CR', ascii(RAD8.replace(' ALARM', '\rALARM')), 'framing', /offset/],
    ['tab', ascii(RAD8.replace(' ALARM', '\tALARM')), 'framing', /offset/],
    ['byte >= 0x80', ascii(RAD8.replace('SPO2', 'SP\u00b02')), 'framing', /offset/],
    ['empty line', new Uint8Array(0), 'framing', /^empty line$/],
    ['spaces only', ascii('    '), 'framing', /^blank line$/],
    ['month 13', ascii(RAD8.replace('02/22/16', '13/22/16')), 'malformed', /^date: month outside 1\.\.12$/],
    ['30 February', ascii(RAD8.replace('02/22/16', '02/30/16')), 'malformed', /^date: day outside the month$/],
    ['date shape', ascii(RAD8.replace('02/22/16', '2/22/16')), 'malformed', /^date: expected MM\/DD\/YY$/],
    ['hour 24', ascii(RAD8.replace('22:47:45', '24:00:00')), 'malformed', /^time: hour outside 0\.\.23$/],
    ['second 60', ascii(RAD8.replace('22:47:45', '23:59:60')), 'malformed', /^time: second outside/],
    ['SPO2=1x8%', ascii(RAD8.replace('SPO2=098%', 'SPO2=1x8%')), 'malformed', /^SPO2: expected NNN% or ---%$/],
    ['SPO2=101%', ascii(RAD8.replace('SPO2=098%', 'SPO2=101%')), 'malformed', /^SPO2: outside 0\.\.100$/],
    ['SPO2 without %', ascii(RAD8.replace('SPO2=098%', 'SPO2=098')), 'malformed', /^SPO2: expected/],
    ['BPM=241', ascii(RAD8.replace('BPM=097', 'BPM=241')), 'malformed', /^BPM: outside 0\.\.240$/],
    ['PI=20.01%', ascii(RAD8.replace('PI=03.60%', 'PI=20.01%')), 'malformed', /^PI: outside 0\.\.20$/],
    ['PI=3.6%', ascii(RAD8.replace('PI=03.60%', 'PI=3.6%')), 'malformed', /^PI: expected NN\.NN%, NN\.NN or --\.--%$/],
    ['PIDELTA=05', ascii(RAD8.replace('PIDELTA=+--', 'PIDELTA=05')), 'malformed', /^PIDELTA: expected/],
    ['empty value', ascii(RAD8.replace('BPM=097', 'BPM=')), 'malformed', /^BPM: expected/],
    ['EXC=G00', ascii(RAD8.replace('EXC=000800', 'EXC=G00')), 'malformed', /^EXC: expected 1 to 8 hex digits$/],
    ['ALARM of 9 digits', ascii(RAD8.replace('ALARM=0000', 'ALARM=000000000')), 'malformed', /^ALARM: expected/],
    ['SN with a dot', ascii(RAD8.replace('SN=0000056661', 'SN=00.56661')), 'malformed', /^SN: expected/],
    ['bare value', ascii(RAD8.replace('BPM=097', '097')), 'malformed', /^token \d+: expected KEY=VALUE$/],
    ['odd key', ascii(RAD8.replace('BPM=097', 'B-M=097')), 'malformed', /^token \d+: key is not 1 to 16 letters or digits$/],
    ['FOO=1', ascii(`${RAD8} FOO=1`), 'unsupported-variant', /^unknown field FOO$/],
    ['RRA (a key no known variant prints)', ascii(RAD8.replace('DESAT=--', 'RRA=--')), 'unsupported-variant', /^unknown field RRA$/],
    ['lower-case key', ascii(RAD8.replace('BPM=', 'bpm=')), 'unsupported-variant', /^unknown field bpm$/],
    ['SPO2 twice', ascii(`${RAD8} SPO2=097%`), 'duplicate-field', /^SPO2: appears more than once$/],
    ['no SPO2', ascii(RAD8.replace(' SPO2=098%', '')), 'missing-field', /^SPO2: required field missing$/],
    ['no BPM', ascii(RAD8.replace(' BPM=097', '')), 'missing-field', /^BPM: required field missing$/],
    ['no ALARM', ascii(RAD8.replace(' ALARM=0000', '')), 'missing-field', /^ALARM: required field missing$/],
    ['no EXC', ascii(RAD8.replace(' EXC=000800', '')), 'missing-field', /^EXC: required field missing$/],
    ['no date', ascii(RAD8.slice('02/22/16 22:47:45 '.length)), 'missing-field', /^date: missing at start of line$/],
    ['no time', ascii(RAD8.replace(' 22:47:45', '')), 'missing-field', /^time: missing after date$/],
    ['date only', ascii('02/22/16'), 'missing-field', /^time: missing after date$/],
    ['257 bytes', ascii(`${RAD8} ${'X'.repeat(MASIMO_MAX_LINE_BYTES - RAD8.length)}`), 'overflow', /^line longer than 256 bytes$/],
    ['4096 bytes', new Uint8Array(4096).fill(0x41), 'overflow', /^line longer than/],
  ];
  for (const [name, bytes, reason, detail] of cases) {
    const r = decodeMasimoAscii(bytes);
    t.equal(r.ok, false, `${name}: rejected`);
    if (r.ok) continue;
    t.equal(r.reason, reason, `${name}: reason`);
    t.match(r.detail, detail, `${name}: detail`);
    t.equal(problemWith(r), null, `${name}: detail is a template`);
  }
  t.equal(decodeMasimoAscii(ascii(`${RAD8}${' '.repeat(MASIMO_MAX_LINE_BYTES - RAD8.length)}`)).ok, true, 'exactly 256 bytes is not an overflow');
  t.equal(decodeMasimoAscii(ascii(RAD8.replace(/ /g, '   '))).ok, true, 'runs of spaces are tolerated');
});

t.test('REQ-MASIMO-002 a reject detail never carries a reading', async (t) => {
  // Values chosen so that each would be recognisable in a detail string.
  const secrets: Array<[string, string]> = [
    ['SPO2=1x8%', '1x8'],
    ['SPO2=187%', '187'],
    ['BPM=4x2', '4x2'],
    ['BPM=777', '777'],
    ['PI=43.21%', '43.21'],
    ['SPCO=6.54%', '6.54'],
    ['PVI=9x9', '9x9'],
    ['PIDELTA=+7x', '+7x'],
    ['ALARM=XYZ1', 'XYZ1'],
  ];
  for (const [field, secret] of secrets) {
    const key = field.split('=')[0] as string;
    const line = RADICAL7.replace(new RegExp(`${key.replace('+', '\\+')}=[^ ]+`), field);
    const r = decode(line);
    t.equal(r.ok, false, field);
    if (!r.ok) t.notOk(r.detail.includes(secret), `${field}: detail "${r.detail}" does not echo the value`);
  }
  // A lost "=" and space can glue a reading into a key: a damaged line, and the key is not named.
  const glued = decode(RAD8.replace('BPM=097 PI=', 'BPM097PI='));
  t.same(glued.ok ? null : [glued.reason, glued.detail], ['malformed', 'token 5: key holds a run of digits (a damaged line)']);
  const bare = decode(RAD8.replace('SPO2=098%', '098%'));
  t.ok(!bare.ok && !bare.detail.includes('098'), 'a bare value is not echoed');
});

t.test('REQ-MASIMO-002 never throws: seeded random bytes', async (t) => {
  const seed = baseSeed() + 2;
  const rng = createRng(seed);
  const alphabet = ascii('0123456789-+.%=:/ ABCDEFGHIKLMNOPSTVXZ\r\n');
  let failures = 0;
  const reasons = new Set<string>();
  for (let i = 0; i < 5000 && failures < 3; i++) {
    const length = rng.int(0, 320);
    const bytes = new Uint8Array(length);
    const printableBias = rng.next();
    for (let j = 0; j < length; j++) {
      bytes[j] = rng.next() < printableBias ? (alphabet[rng.int(0, alphabet.length - 1)] ?? 0x20) : rng.int(0, 255);
    }
    let problem: string | null;
    try {
      const r = decodeMasimoAscii(bytes);
      reasons.add(r.ok ? 'ok' : r.reason);
      problem = problemWith(r);
    } catch (err) {
      problem = `threw ${String(err)}`;
    }
    if (problem !== null) {
      failures++;
      t.fail(`seed ${seed} case ${i}: ${problem}; bytes ${Buffer.from(bytes).toString('hex')}`);
    }
  }
  t.equal(failures, 0, `5000 random inputs (seed ${seed})`);
  t.ok(reasons.has('framing') && reasons.has('overflow') && reasons.has('missing-field'), `several reasons reached: ${[...reasons].join(', ')}`);
});

/** One random edit of a valid line: the kind of damage a serial line or a firmware does. */
function mutate(rng: Rng, line: Buffer): Buffer {
  const bytes = [...line];
  const edits = rng.int(1, 4);
  for (let e = 0; e < edits; e++) {
    const at = rng.int(0, Math.max(0, bytes.length - 1));
    switch (rng.int(0, 7)) {
      case 0: bytes[at] = rng.int(0, 255); break; // byte noise
      case 1: bytes[at] = (bytes[at] ?? 0) ^ (1 << rng.int(0, 7)); break; // bit flip
      case 2: bytes.splice(at, rng.int(1, 8)); break; // lost bytes
      case 3: bytes.splice(at, 0, ...ascii('0123456789-=% :/').subarray(rng.int(0, 15), 16)); break; // inserted text
      case 4: bytes.length = at; break; // truncated
      case 5: { // a field repeated
        const text = Buffer.from(bytes).toString('latin1').split(' ');
        const field = text[rng.int(0, text.length - 1)] ?? '';
        bytes.push(...ascii(` ${field}`));
        break;
      }
      case 6: bytes.splice(at, 0, ...new Array<number>(rng.int(1, 300)).fill(0x41)); break; // overlong
      default: bytes[at] = ascii('-')[0] ?? 0x2d; // a dash where a digit was
    }
  }
  return Buffer.from(bytes);
}

t.test('REQ-MASIMO-002 never throws: seeded mutations of valid lines', async (t) => {
  const seed = baseSeed() + 3;
  const rng = createRng(seed);
  let failures = 0;
  const reasons = new Set<string>();
  for (let i = 0; i < 5000 && failures < 3; i++) {
    const layout = LAYOUTS[rng.int(0, LAYOUTS.length - 1)] ?? 'rad8';
    const frame = randomFrame(rng, layout);
    const line = encodeMasimoAscii(frame, { includeSerial: rng.next() < 0.5, includePvi: rng.next() < 0.5, layout });
    const bytes = mutate(rng, line.subarray(0, line.length - 2));
    let problem: string | null;
    try {
      const r = decodeMasimoAscii(bytes);
      reasons.add(r.ok ? 'ok' : r.reason);
      problem = problemWith(r);
    } catch (err) {
      problem = `threw ${String(err)}`;
    }
    if (problem !== null) {
      failures++;
      t.fail(`seed ${seed} case ${i}: ${problem}; line ${JSON.stringify(bytes.toString('latin1'))}`);
    }
  }
  t.equal(failures, 0, `5000 mutated lines (seed ${seed})`);
  for (const reason of REASONS) t.ok(reasons.has(reason), `mutations reached ${reason}`);
});

t.test('REQ-MASIMO-002 never throws on inputs that are not bytes', async (t) => {
  for (const input of [undefined, null, 'text', 42, {}, [1, 2, 3]]) {
    const r = decodeMasimoAscii(input as unknown as Uint8Array);
    t.same(r.ok ? 'ok' : r.reason, 'framing', String(input));
  }
});
