/**
 * Golden wire tests (issue 13, STYLE.md "Checked against the world"): every wire example of the
 * interface documents (a `wire <interface> <id>` block and the `json values <id>` block written
 * by hand beside it, docs/hw-sim.md) is checked from both sides, each side with its own code:
 *
 * - what the device sends: hw-sim's encoder (hw-sim/src/wire/) reproduces the bytes from the
 *   values, and the agent's decoder reads the bytes back to exactly those values;
 * - what the gateway sends (patch host commands, HL7 ACKs): the agent's encoder reproduces the
 *   bytes, and hw-sim's device reads them back to the values.
 *
 * Examples are found generically: an example added to a document is tested without touching
 * this file. hw-sim imports nothing from the agent (checked last), so a misunderstanding of a
 * format would have to be made twice, independently, and agree with the document, to pass.
 */
import t from 'tap';
import type { Test as TapTest } from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { decodeCapture } from '../../agent/src/commands/decode';
import { decodeMasimoAscii } from '../../agent/src/drivers/masimo-ascii/protocol';
import { decodePatchFrame, encodeCommand, type PatchPayload as AgentPayload } from '../../agent/src/drivers/vigil-patch/protocol';
import { buildAck } from '../../agent/src/drivers/hl7-pcd01/ack';
import { frameMllp as agentFrameMllp } from '../../agent/src/framing/mllp';
import { encodeMasimoLine, isFieldKey, MODELS, type FieldKey, type FieldValue, type MasimoModel } from '../../hw-sim/src/wire/masimo-ascii';
import { decodeHostFrame, encodeFrame, statusFlags, type PatchPayload, type StatusFlag } from '../../hw-sim/src/wire/vigil-patch';
import { encodePcd01, readAck, type Pcd01Message } from '../../hw-sim/src/wire/hl7-pcd01';
import { frameMllp, MllpReader } from '../../hw-sim/src/wire/mllp';
import { hexWireBytes, hl7WireBytes, readWireExamples, type WireExample } from '../support/wire-examples';

const ROOT = join(__dirname, '..', '..', '..');
const { examples, problems } = readWireExamples(ROOT);
type Values = Record<string, unknown>;
type Test = TapTest;

/** `"0x1234"` or a number. */
function int(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^0x[0-9a-f]+$/i.test(v)) return Number.parseInt(v.slice(2), 16);
  throw new Error(`not an integer: ${JSON.stringify(v)}`);
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').replace(/(..)(?!$)/g, '$1 ');

// ---- masimo-ascii ------------------------------------------------------------------------

/**
 * The data-contract table of masimo-ascii.md names, for each key, the field of the agent's
 * decoded frame (column `MasimoFrame`): the golden test reads that mapping from the document.
 */
function masimoFrameFields(): Map<string, string> {
  const lines = readFileSync(join(ROOT, 'docs', 'interfaces', 'masimo-ascii.md'), 'utf8').split('\n');
  const cells = (l: string) => l.split('|').slice(1, -1).map((c) => c.trim());
  const header = lines.findIndex((l) => l.startsWith('|') && cells(l)[0] === 'Key' && cells(l).includes('`MasimoFrame`'));
  const map = new Map<string, string>();
  if (header < 0) return map;
  const col = cells(lines[header]!).indexOf('`MasimoFrame`');
  // The table's rows: the lines after its header and separator, up to the first line that is not a row.
  for (let i = header + 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
    const c = cells(lines[i]!);
    const key = /^`([A-Z0-9]+)`$/.exec(c[0] ?? '')?.[1] ?? (c[0]?.startsWith('date') ? 'deviceTime' : undefined);
    const field = /`([A-Za-z0-9]+)`/.exec(c[col] ?? '')?.[1];
    if (key && field) map.set(key, field);
  }
  return map;
}

/** The bit fields, written as `0x` hex text in the values. */
const HEX_KEYS: ReadonlySet<string> = new Set(['ALARM', 'EXC', 'EXC1']);

function checkMasimo(t: Test, ex: WireExample, v: Values): void {
  t.equal(ex.wireLines.length, 1, 'one line per example');
  const line = ex.wireLines[0] ?? '';
  const decoded = decodeMasimoAscii(Buffer.from(line, 'ascii'));
  if (typeof v.reject === 'string') {
    t.match(decoded, { ok: false, reason: v.reject }, `the agent refuses it as ${v.reject}`);
    return;
  }
  const model = (v.model ?? 'Radical-7') as MasimoModel;
  t.ok(MODELS.includes(model), `hw-sim knows the model ${model}`);
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(String(v.deviceTime));
  const [year, month, day, hour, minute, second] = (m ?? []).slice(1).map(Number);
  const deviceTime = { year: year!, month: month!, day: day!, hour: hour!, minute: minute!, second: second! };
  const fieldsIn = Object.entries((v.fields ?? {}) as Record<string, unknown>);
  const unknown = fieldsIn.filter(([k]) => !isFieldKey(k)).map(([k]) => k);
  t.same(unknown, [], 'hw-sim encodes every field of the example');
  const fields = fieldsIn
    .filter(([k]) => isFieldKey(k))
    .map(([k, value]): [FieldKey, FieldValue] => [k as FieldKey, HEX_KEYS.has(k) ? int(value) : (value as FieldValue)]);
  const expected = Buffer.from(`${line}\r\n`, 'ascii');
  const mine = encodeMasimoLine({ deviceTime, fields, trailingSpace: v.trailingSpace === true }, model);
  t.equal(hex(mine), hex(expected), 'hw-sim prints the line byte for byte (CR LF at its end)');

  t.ok(decoded.ok, `the agent decodes the line${decoded.ok ? '' : `: ${decoded.reason} ${decoded.detail}`}`);
  if (!decoded.ok) return;
  const frame = decoded.frame as unknown as Record<string, unknown>;
  const fieldOf = masimoFrameFields();
  t.ok(fieldOf.size >= 10, `the data-contract table names the decoded field of ${fieldOf.size} keys`);
  t.same(frame[fieldOf.get('deviceTime') ?? 'deviceTime'], deviceTime, 'device time');
  const given = new Map(fieldsIn);
  for (const [key, frameField] of fieldOf) {
    if (key === 'deviceTime') continue;
    const raw = given.get(key);
    // Absent and dashed (any dashed form) both decode to null ("Data contract").
    const dashed = raw === null || (typeof raw === 'object' && raw !== null);
    const want = raw === undefined || dashed ? null : HEX_KEYS.has(key) ? int(raw) : raw;
    if (raw === undefined && HEX_KEYS.has(key)) continue;
    t.same(frame[frameField], want, `${key} -> ${frameField}`);
  }
  if (Array.isArray(v.exceptions)) t.same(frame.exceptions, v.exceptions, 'EXC bits by name');
}

// ---- vigil-patch -------------------------------------------------------------------------

/** SET_RATE -> set-rate: the names of the frame-type table as both codecs spell them. */
const typeName = (docName: unknown): string => String(docName).toLowerCase().replace(/_/g, '-');

function hwSimPayload(type: string, p: Values): PatchPayload {
  switch (type) {
    case 'status':
      return { type, flags: statusFlags(p.flags as StatusFlag[]), skinTempCelsius: p.skinTempCelsius as number | null, batteryPercent: p.batteryPercent as number | null, batteryMv: p.batteryMv as number };
    case 'ack':
      return { type, ackedSequence: int(p.ackedSequence), ackedType: int(p.ackedType), result: p.result as 'ok' };
    case 'identity': {
      const [major, minor, patch] = String(p.firmware).split('.').map(Number);
      return { type, firmware: { major: major!, minor: minor!, patch: patch! }, hardwareRevision: p.hardwareRevision as number, model: String(p.model) };
    }
    default:
      return { type, ...p } as PatchPayload;
  }
}

/** A decoded payload (either side) in the document's vocabulary, for the keys the values give. */
function inDocTerms(type: string, decoded: Record<string, unknown>, keys: readonly string[]): Values {
  const out: Values = {};
  for (const key of keys) {
    const value = decoded[key];
    if (type === 'status' && key === 'flags') out.flags = decoded.conditions ?? decoded.flags;
    else if (type === 'ack' && key === 'ackedType') out.ackedType = value;
    else if (type === 'identity' && key === 'firmware') {
      const f = value as { major: number; minor: number; patch: number };
      out.firmware = `${f.major}.${f.minor}.${f.patch}`;
    } else out[key] = ArrayBuffer.isView(value) ? Array.from(value as unknown as ArrayLike<number>) : value;
  }
  return out;
}

function docPayload(type: string, p: Values): Values {
  return type === 'ack' ? { ...p, ackedType: int(p.ackedType) } : p;
}

function between(t: Test, wire: Buffer): Buffer {
  let start = 0;
  while (wire[start] === 0) start++;
  t.equal(wire[wire.length - 1], 0, 'the wire bytes end with the 0x00 delimiter');
  return wire.subarray(start, wire.length - 1);
}

function checkPatch(t: Test, ex: WireExample, v: Values): void {
  const wire = hexWireBytes(ex.wireLines);
  const encoded = between(t, wire);
  t.notOk(encoded.includes(0), 'one frame: no 0x00 inside');
  const fromHost = v.from === 'host';
  if (typeof v.reject === 'string') {
    if (fromHost) t.match(decodeHostFrame(encoded), { ok: false, reason: v.reject }, `hw-sim's patch refuses it as ${v.reject}`);
    else t.match(decodePatchFrame(encoded), { ok: false, reason: v.reject }, `the agent refuses it as ${v.reject}`);
    return;
  }
  const type = typeName(v.type);
  const payload = (v.payload ?? {}) as Values;
  const header = { serial: String(v.serial), sequence: int(v.sequence), tickMs: int(v.tick) };
  const keys = Object.keys(payload);
  if (!fromHost) {
    const mine = encodeFrame({ ...header, payload: hwSimPayload(type, payload) });
    t.equal(hex(mine), hex(wire), 'hw-sim encodes the frame byte for byte');
    const decoded = decodePatchFrame(encoded);
    t.ok(decoded.ok, `the agent decodes the frame${decoded.ok ? '' : `: ${decoded.reason}`}`);
    if (!decoded.ok) return;
    t.same({ serial: decoded.frame.serial, sequence: decoded.frame.sequence, tickMs: decoded.frame.tickMs, type: decoded.frame.payload.type }, { ...header, type }, 'header');
    t.same(inDocTerms(type, decoded.frame.payload as unknown as Values, keys), docPayload(type, payload), 'payload');
    if (type === 'status') t.match(decoded.frame.payload, { unknownFlagBits: 0 }, 'no reserved bit');
  } else {
    t.equal(header.serial, 'FFFFFFFF', 'a host command goes to any patch');
    const theirs = encodeCommand({ type, ...payload } as Extract<AgentPayload, { type: 'start' | 'stop' | 'identify' | 'set-rate' | 'keep-alive' }>, header.sequence, header.tickMs);
    t.equal(hex(theirs), hex(wire), "the agent's host encodes the command byte for byte (leading 0x00 included)");
    const decoded = decodeHostFrame(encoded);
    t.ok(decoded.ok && decoded.kind === 'command', "hw-sim's patch decodes the command");
    if (!decoded.ok || decoded.kind !== 'command') return;
    t.same({ serial: decoded.frame.serial, sequence: decoded.frame.sequence, tickMs: decoded.frame.tickMs, type: decoded.frame.payload.type }, { ...header, type }, 'header');
    t.same(inDocTerms(type, decoded.frame.payload as unknown as Values, keys), payload, 'payload');
  }
}

// ---- hl7-pcd01 ---------------------------------------------------------------------------

/** An HL7 DTM with seconds and a zone (20261121091501+0000) as ms since the epoch. */
function dtmMs(text: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,4}))?([+-])(\d{2})(\d{2})$/.exec(text);
  if (!m) throw new Error(`not a DTM with seconds and zone: ${text}`);
  const [, y, mo, d, h, mi, s, frac, sign, zh, zm] = m;
  const offsetMs = (sign === '-' ? -1 : 1) * (Number(zh) * 60 + Number(zm)) * 60_000;
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Math.round(Number(`0.${frac ?? '0'}`) * 1000)) - offsetMs;
}

interface Row {
  setId: string;
  vigil?: string | null;
  vigilValue?: number | null;
  vigilUnit?: string | null;
  vigilStatus?: string;
}

function checkHl7FromDevice(t: Test, ex: WireExample, v: Values): void {
  const wire = hl7WireBytes(ex.wireLines);
  const lines = decodeCapture('pcd01', wire);
  const delivered = lines.flatMap((l) => (l.kind === 'reading' && l.value !== null ? [l] : []));
  if (typeof v.reject === 'string') {
    t.ok(lines.some((l) => l.kind === 'rejection' && l.reason === v.reject), `the agent refuses it as ${v.reject}`);
    t.same(delivered, [], 'and delivers nothing');
    return;
  }
  const mine = frameMllp(encodePcd01(v as unknown as Pcd01Message));
  t.equal(mine.toString('latin1'), wire.toString('latin1'), 'hw-sim writes the message byte for byte (MLLP block, CR after each segment)');
  const rows = ((v.orders ?? []) as Array<{ observations: Row[] }>).flatMap((o) => o.observations);
  const wanted = rows.filter((r) => r.vigil != null && r.vigilValue != null);
  for (const r of wanted) {
    const got = delivered.filter((l) => l.kind === 'reading' && l.parameter === r.vigil);
    t.equal(got.length, 1, `OBX ${r.setId}: one ${r.vigil} delivered`);
    const g = got[0];
    if (g?.kind !== 'reading') continue;
    t.ok(Math.abs((g.value ?? NaN) - (r.vigilValue ?? NaN)) < 1e-9, `OBX ${r.setId}: ${r.vigil} ${g.value} is ${r.vigilValue}`);
    t.equal(g.unit, r.vigilUnit, `OBX ${r.setId}: unit`);
    if (r.vigilStatus !== undefined) t.equal(g.status, r.vigilStatus, `OBX ${r.setId}: status`);
  }
  for (const r of rows.filter((x) => x.vigil != null && x.vigilValue == null)) {
    t.notOk(delivered.some((l) => l.kind === 'reading' && l.parameter === r.vigil), `OBX ${r.setId}: no ${r.vigil} value delivered`);
  }
  t.equal(delivered.length, wanted.length, 'nothing else is delivered with a value');
}

function checkHl7FromGateway(t: Test, ex: WireExample, v: Values): void {
  const wire = hl7WireBytes(ex.wireLines);
  const errors = (v.errors ?? []) as Array<{ segment: string; sequence: number; field: number; code: number; severity: 'E' | 'W' | 'I'; text: string }>;
  const echo = (v.echo ?? []) as string[];
  const theirs = agentFrameMllp(
    buildAck({
      code: v.code as 'AA',
      controlId: String(v.controlId),
      ackControlId: String(v.ackControlId),
      nowWallMs: dtmMs(String(v.time)),
      header: { rawSendingApplication: echo[0] ?? '', rawSendingFacility: echo[1] ?? '', processingId: String(v.processingId ?? 'P') },
      errors: errors.map((e) => ({ code: e.code, severity: e.severity, location: { segment: e.segment, sequence: e.sequence, field: e.field }, text: e.text })),
    }),
  );
  t.equal(theirs.toString('latin1'), wire.toString('latin1'), "the agent writes the ACK byte for byte");
  const messages = new MllpReader().push(wire);
  t.equal(messages.length, 1, "hw-sim's monitor finds one block");
  t.same(readAck(messages[0] ?? Buffer.alloc(0)), {
    code: v.code,
    controlId: v.controlId,
    errors: errors.map((e) => ({ code: String(e.code), severity: e.severity, text: e.text })),
  }, "hw-sim's monitor reads the ACK");
}

// ---- the tests ---------------------------------------------------------------------------

const CHECKS: Readonly<Record<string, (t: Test, ex: WireExample, v: Values) => void>> = {
  'masimo-ascii': checkMasimo,
  'vigil-patch': checkPatch,
  'hl7-pcd01': (t, ex, v) => (v.from === 'gateway' ? checkHl7FromGateway(t, ex, v) : checkHl7FromDevice(t, ex, v)),
};

t.test('REQ-HWSIM-010 the interface documents hold wire examples, each paired with its values', async (t) => {
  t.same(problems, [], 'every wire block has a values block and the reverse');
  for (const iface of Object.keys(CHECKS)) t.ok(examples.some((e) => e.iface === iface), `${iface}: at least one example`);
  t.same(examples.filter((e) => CHECKS[e.iface] === undefined).map((e) => `${e.doc}:${e.line}`), [], 'every example names an interface this test knows');
});

for (const ex of examples) {
  const check = CHECKS[ex.iface];
  if (check === undefined || ex.values === null) continue;
  const values = ex.values;
  t.test(`REQ-HWSIM-010 ${ex.iface} example ${ex.id} (${ex.doc}:${ex.line}): both sides agree with the document`, async (t) => check(t, ex, values));
}

// ---- hw-sim's independence ---------------------------------------------------------------

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : n.endsWith('.ts') ? [p] : [];
  });
}

t.test('REQ-HWSIM-011 hw-sim imports nothing from the agent', async (t) => {
  const src = join(ROOT, 'hw-sim', 'src');
  const files = tsFiles(src);
  t.ok(files.length >= 10, `${files.length} source files`);
  const outside: string[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    if (text.includes('agent/')) outside.push(`${relative(ROOT, file)}: names agent/`);
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|require\s*\(\s*)['"]([^'"]+)['"]/g)) {
      const spec = m[1] ?? '';
      if (!spec.startsWith('.')) continue;
      const target = resolve(file, '..', spec);
      if (!target.startsWith(src)) outside.push(`${relative(ROOT, file)}: imports ${spec}`);
    }
  }
  t.same(outside, [], 'every relative import stays inside hw-sim/src, and no file names agent/');
});
