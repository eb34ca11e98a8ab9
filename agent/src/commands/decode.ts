/**
 * `vigil decode <driver> [file]`: decodes a captured byte stream through the same decoding
 * and the same verification the agent uses (the driver's protocol module, then the interface
 * risk controls of validation/controls.ts), and prints JSON Lines, one per reading or rejection:
 *
 *   {"kind":"reading","parameter":"spo2","code":"MDC:150456","value":97,"unit":"%","status":"unverified","deviceTime":"2026-11-21T09:14:55Z","flags":[]}
 *   {"kind":"rejection","reason":"unknown-code","detail":"OBX 3: MDC code 147232 ..."}
 *
 * and, for an HL7 acknowledgment found in a capture, {"kind":"ack","code":"AA","controlId":"..","detail":".."}.
 *
 * Drivers: `pcd01` (HL7 v2 PCD-01, with or without MLLP framing, any segment terminator),
 * `masimo-ascii` (one ASCII 1 line per reading, any known model or firmware, CR LF or LF) and `vigil-patch` (the patch's
 * COBS frames; its waveforms become one set of readings per device second, through the
 * agent's driver and native signal processing). Values are in the parameter's
 * canonical UCUM unit after the controls (98.6 [degF] -> 37 Cel, flagged unit-converted);
 * statuses are final, corrected, preliminary, unverified, unavailable or deleted.
 *
 * A capture has no gateway receive time: each reading is judged as if it arrived when the
 * device says it was measured, so the time-of-arrival controls (stale on arrival, device
 * clock offset) pass. Everything else runs as in the agent. Exit code 0 once the input was
 * read, whatever it contained; 1 when it cannot be read at all.
 */
import { readFile } from 'node:fs/promises';
import { frameToObservations } from '../drivers/masimo-ascii/driver';
import { decodeMasimoAscii } from '../drivers/masimo-ascii/protocol';
import { tickDelta, VigilPatchDriver } from '../drivers/vigil-patch/driver';
import { decodePatchFrame } from '../drivers/vigil-patch/protocol';
import { FakeClock } from '../clock';
import { createLogger } from '../log';
import { MLLP_START, MllpSplitter, unwrapMllp } from '../framing/mllp';
import type { ConformanceLevel } from '../drivers/hl7-pcd01/conformance';
import { utcOffsetMinutes } from '../drivers/hl7-pcd01/dtm';
import { splitUnframed } from '../drivers/hl7-pcd01/hl7v2';
import { deviceCodeOf, readingToObservation } from '../drivers/hl7-pcd01/obx';
import { profileSetting } from '../drivers/hl7-pcd01/profile';
import type { ReceiveOutcome } from '../drivers/hl7-pcd01/receiver';
import { Pcd01Receiver } from '../drivers/hl7-pcd01/receiver';
import { VigilError } from '../errors';
import type { Observation, ResultStatus } from '../model/observation';
import type { ParameterCode } from '../model/parameters';
import { newSourceMemory, runControls } from '../validation/controls';
import type { ControlSettings, SourceMemory } from '../validation/controls';

export const DECODE_DRIVERS = ['pcd01', 'masimo-ascii', 'vigil-patch'] as const;
export type DecodeDriver = (typeof DECODE_DRIVERS)[number];

export function isDecodeDriver(name: string): name is DecodeDriver {
  return (DECODE_DRIVERS as readonly string[]).includes(name);
}

/** Largest capture read, in bytes (the input is read whole). */
export const MAX_CAPTURE_BYTES = 256 * 1024 * 1024;

export type DecodeLine =
  | {
      kind: 'reading';
      parameter: string;
      code: string;
      value: number | null;
      unit: string;
      status: DecodeStatus;
      deviceTime: string | null;
      flags: string[];
    }
  | { kind: 'rejection'; reason: string; detail: string }
  | { kind: 'ack'; code: string; controlId: string; detail: string }
  /** pcd01: a deviation from PCD-01 that a tolerant interface reads (conformance-warning.<what>). */
  | { kind: 'warning'; reason: string; detail: string }
  /** pcd01 with --profile: the device profile applied from this message on (null: none, and why). */
  | { kind: 'profile'; profile: string | null; detail: string }
  /** pcd01: an alert of an ORU^R40 (IHE PCD-04), as the gateway reads it (relayed or not is the driver's). */
  | {
      kind: 'alert';
      instanceId: string;
      event: string;
      eventKnown: boolean;
      source: string | null;
      phase: string | null;
      state: string | null;
      inactivation: string | null;
      priority: string | null;
      type: string | null;
      ended: boolean;
      deviceTime: string | null;
    };

export type DecodeStatus = 'final' | 'corrected' | 'preliminary' | 'unverified' | 'unavailable' | 'deleted';

const STATUS_NAME: Readonly<Record<ResultStatus, DecodeStatus>> = {
  final: 'final',
  corrected: 'corrected',
  preliminary: 'preliminary',
  unverified: 'unverified',
  'cannot-obtain': 'unavailable',
  unavailable: 'unavailable',
  deleted: 'deleted',
};

export interface DecodeOptions {
  /** UTC offset of times sent without a zone ("+01:00"); default "+00:00". */
  utcOffset?: string;
  /** pcd01: check PID-3 against this patient id, as a bed configured with it does. */
  patientId?: string;
  /** Wall time used for a reading that carries no device time (default: now). */
  nowWallMs?: number;
  /** pcd01: the conformance level (default tolerant, as an interface's default). */
  conformance?: ConformanceLevel;
  /** pcd01: a device profile of agent/profiles/hl7 by name, or "auto" (select by MSH-3/MSH-4). */
  profile?: string;
}

/** Settings of the controls for a capture: the table's default maximum ages, the default clock bound. */
const CAPTURE_SETTINGS: ControlSettings = {
  maxAgeMs: (spec) => spec.defaultMaxAgeMs,
  clockOffsetBoundMs: 120_000,
};

/** Formats a UTC time as ISO 8601, without milliseconds when there are none. */
function isoTime(ms: number | null): string | null {
  if (ms === null || !Number.isFinite(ms)) return null;
  const iso = new Date(ms).toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

/** Removes binary floating-point noise from a converted value (12 significant digits). */
function clean(value: number | null): number | null {
  return value === null ? null : Number.parseFloat(value.toPrecision(12));
}

/** Runs the agent's controls on one observation, as if received at its device time. */
function verify(obs: Observation, memory: SourceMemory, nowWallMs: number, code: string): DecodeLine {
  const receiveWallMs = obs.deviceTimeMs ?? nowWallMs;
  const stamped: Observation = { ...obs, receiveWallMs, receiveMonoNs: BigInt(Math.round(receiveWallMs)) * 1_000_000n };
  const verdict = runControls(stamped, memory, CAPTURE_SETTINGS);
  if (!verdict.ok) return { kind: 'rejection', reason: verdict.rule, detail: verdict.detail };
  const o = verdict.obs;
  return {
    kind: 'reading',
    parameter: o.parameter,
    code,
    value: clean(o.value),
    unit: o.unitUcum,
    status: STATUS_NAME[o.status],
    deviceTime: isoTime(o.deviceTimeMs),
    flags: [...o.quality].sort(),
  };
}

/** The lines of one accepted message: its warnings, then its readings and rejections in OBX order. */
function acceptedLines(outcome: Extract<ReceiveOutcome, { kind: 'accepted' }>, memory: SourceMemory, nowWallMs: number): DecodeLine[] {
  const stamp = { wallMs: nowWallMs, monoNs: 0n };
  const source = { driver: 'hl7-pcd01', interfaceId: 'capture', port: 'capture' };
  const judgedAt = outcome.header.messageTime?.ms ?? nowWallMs;
  const ordered = [
    ...outcome.readings.map((r) => ({ seq: r.obxSequence, line: verify(readingToObservation(r, stamp, source), memory, judgedAt, deviceCodeOf(r)) })),
    ...outcome.obxRejections.map((r) => ({ seq: r.obxSequence, line: { kind: 'rejection', reason: r.reason, detail: r.detail } as DecodeLine })),
  ].sort((a, b) => a.seq - b.seq);
  const warnings: DecodeLine[] = outcome.warnings.map((w) => ({ kind: 'warning', reason: `conformance-warning.${w.what}`, detail: w.detail }));
  return [...warnings, ...ordered.map((o) => o.line)];
}

/** `196670^MDC_EVT_LO`: a coded element as the device sent it. */
function codedText(c: { code: number | null; refId: string }): string {
  return [c.code === null ? '' : String(c.code), c.refId].filter((x) => x !== '').join('^');
}

/** One message of a capture through the receiver, as JSON lines; `profiles` says when to name the profile applied. */
function messageLines(outcome: ReceiveOutcome, memory: SourceMemory, nowWallMs: number, profiles: { last: string | undefined; shown: boolean }): DecodeLine[] {
  switch (outcome.kind) {
    case 'ack':
      return [{ kind: 'ack', code: outcome.ack.code, controlId: outcome.ack.controlId, detail: outcome.ack.errors.map((e) => `${e.severity} ${e.code}: ${e.text}`).join('; ') }];
    case 'rejected':
      return [{ kind: 'rejection', reason: outcome.reason, detail: outcome.detail }];
    case 'duplicate':
      return [{ kind: 'rejection', reason: 'duplicate', detail: outcome.detail }];
    case 'alert':
      return [
        ...outcome.warnings.map((w): DecodeLine => ({ kind: 'warning', reason: `conformance-warning.${w.what}`, detail: w.detail })),
        ...outcome.alerts.flatMap((a): DecodeLine[] => [
          ...a.warnings.map((w): DecodeLine => ({ kind: 'warning', reason: `alert-warning.${w.what}`, detail: w.detail })),
          {
            kind: 'alert',
            instanceId: a.instanceId,
            event: codedText(a.event),
            eventKnown: a.eventKnown,
            source: a.source === null ? null : codedText(a.source),
            phase: a.phase,
            state: a.state,
            inactivation: a.inactivation,
            priority: a.priority,
            type: a.type,
            ended: a.ended,
            deviceTime: a.deviceTime === null ? null : isoTime(a.deviceTime.ms),
          },
        ]),
      ];
    case 'accepted': {
      const lines: DecodeLine[] = [];
      const choice = outcome.profile;
      const name = choice.profile?.name ?? null;
      const key = name ?? `none:${choice.profile === null ? choice.why : ''}`;
      if (profiles.shown && key !== profiles.last) {
        lines.push({ kind: 'profile', profile: name, detail: choice.profile ? `${choice.profile.vendor} ${choice.profile.model} v${choice.profile.profileVersion} (${choice.by})` : choice.why });
      }
      profiles.last = key;
      return [...lines, ...acceptedLines(outcome, memory, nowWallMs)];
    }
  }
}

/** Decodes an HL7 v2 PCD-01 capture, MLLP framed (a 0x0B byte anywhere) or not. */
export function decodePcd01Capture(bytes: Uint8Array, opts: DecodeOptions = {}): DecodeLine[] {
  const lines: DecodeLine[] = [];
  const nowWallMs = opts.nowWallMs ?? Date.now();
  const receiver = new Pcd01Receiver({
    patientId: opts.patientId ?? null,
    patientIdAuthority: null,
    equipmentId: null,
    defaultUtcOffsetMinutes: utcOffsetMinutes(opts.utcOffset ?? '+00:00'),
    conformance: opts.conformance ?? 'tolerant',
    profile: profileSetting(opts.profile),
  });
  const memory = newSourceMemory(0); // received at its device time: the offset is zero by construction
  const profiles = { last: undefined as string | undefined, shown: opts.profile !== undefined };
  const message = (payload: Uint8Array): void => {
    lines.push(...messageLines(receiver.receive(payload, nowWallMs), memory, nowWallMs, profiles));
  };

  if (bytes.includes(MLLP_START)) {
    const splitter = new MllpSplitter();
    for (const e of [...splitter.push(bytes), ...splitter.end()]) {
      if (e.kind === 'overflow') lines.push({ kind: 'rejection', reason: 'overflow', detail: 'MLLP block longer than the maximum message size' });
      else if (e.kind === 'truncated') lines.push({ kind: 'rejection', reason: 'truncated', detail: 'MLLP block without end block at end of input' });
      else {
        const u = unwrapMllp(e.bytes);
        if (!u.ok) {
          lines.push({ kind: 'rejection', reason: u.reason, detail: u.detail });
          continue;
        }
        if (u.noiseBytes > 0) lines.push({ kind: 'rejection', reason: 'framing', detail: `${u.noiseBytes} bytes outside an MLLP block` });
        for (let i = 0; i < u.truncatedFrames; i++) lines.push({ kind: 'rejection', reason: 'truncated', detail: 'MLLP block without end block: a new start block came first' });
        message(u.payload);
      }
    }
    return lines;
  }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  const { messages, leading } = splitUnframed(text);
  if (leading.trim() !== '') lines.push({ kind: 'rejection', reason: 'framing', detail: `${leading.length} bytes before the first MSH segment` });
  for (const m of messages) message(Buffer.from(m, 'latin1'));
  return lines;
}

/** The device's own name of each parameter it sends (its field name on the line). */
const MASIMO_FIELD: Readonly<Record<string, string>> = {
  spo2: 'SPO2',
  pulseRate: 'BPM',
  perfusionIndex: 'PI',
  spCO: 'SPCO',
  spMet: 'SPMET',
  spHb: 'SPHB',
  spOC: 'SPOC',
  pvi: 'PVI',
};

/** Decodes a Masimo ASCII 1 capture: one line per frame, CR LF or LF. */
export function decodeMasimoCapture(bytes: Uint8Array, opts: DecodeOptions = {}): DecodeLine[] {
  const lines: DecodeLine[] = [];
  const nowWallMs = opts.nowWallMs ?? Date.now();
  const memory = newSourceMemory(0); // received at its device time: the offset is zero by construction
  const source = { driver: 'masimo-ascii', interfaceId: 'capture', port: 'capture' };
  const reported = new Set<ParameterCode>();
  let serial: string | null = null;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let start = 0;
  while (start <= buf.length) {
    let end = buf.indexOf(0x0a, start);
    const last = end < 0;
    if (last) end = buf.length;
    let line = buf.subarray(start, end);
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, -1);
    start = end + 1;
    if (line.length === 0) {
      if (last) break;
      continue;
    }
    const result = decodeMasimoAscii(line);
    if (!result.ok) {
      lines.push({ kind: 'rejection', reason: result.reason, detail: result.detail });
    } else if (result.frame.serialNumber !== null && serial !== null && result.frame.serialNumber !== serial) {
      lines.push({ kind: 'rejection', reason: 'device-changed', detail: 'device serial number changed: values withheld until the change is confirmed' });
    } else {
      serial ??= result.frame.serialNumber;
      const stamp = { wallMs: nowWallMs, monoNs: 0n };
      for (const obs of frameToObservations(result.frame, stamp, source, opts.utcOffset ?? '+00:00', reported)) {
        lines.push(verify(obs, memory, nowWallMs, `masimo-ascii:${MASIMO_FIELD[obs.parameter] ?? obs.parameter}`));
      }
    }
    if (last) break;
  }
  return lines;
}

/** The patch's channel behind each derived parameter (it has no codes of its own for them). */
const PATCH_CHANNEL: Readonly<Record<string, string>> = {
  heartRate: 'ECG',
  pulseRate: 'PPG',
  spo2: 'PPG',
  perfusionIndex: 'PPG',
  respRate: 'ACC+PPG',
  skinTemperature: 'TEMP',
};

/**
 * Decodes a Vigil patch capture: the device's byte stream, COBS frames delimited by 0x00
 * (docs/interfaces/vigil-patch.md). The frames go through the agent's own driver: sequence
 * and identity checks, one-second batches through the native signal processing, so each
 * device second gives the readings the agent would publish (heartRate, pulseRate, spo2,
 * perfusionIndex, respRate, skinTemperature). The patch has no wall clock: the first frame
 * is taken as received at `nowWallMs` and later ones by their device tick.
 */
export function decodeVigilPatchCapture(bytes: Uint8Array, opts: DecodeOptions = {}): DecodeLine[] {
  const lines: DecodeLine[] = [];
  const nowWallMs = opts.nowWallMs ?? Date.now();
  const clock = new FakeClock(nowWallMs);
  const memory = newSourceMemory(0); // received at its device time: the offset is zero by construction
  const driver = new VigilPatchDriver(
    { id: 'capture', driver: 'vigil-patch', path: 'capture', baudRate: 921600, quietTimeMs: 1000, reopenDelayMs: 1000, keepAliveIntervalMs: 1000, scoreUnverified: false },
    clock,
    createLogger('error', () => undefined),
  );
  driver.on('rejected', (r) => lines.push({ kind: 'rejection', reason: r.reason, detail: r.detail }));
  driver.on('observations', (observations) => {
    for (const obs of observations) lines.push(verify(obs, memory, clock.wallMs(), `vigil-patch:${PATCH_CHANNEL[obs.parameter] ?? obs.parameter}`));
  });
  let firstTick: number | null = null;
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0) continue;
    const frame = bytes.subarray(start, i);
    start = i + 1;
    if (frame.length === 0) continue;
    if (i === bytes.length) {
      lines.push({ kind: 'rejection', reason: 'truncated', detail: 'partial frame at end of input' });
      break;
    }
    const decoded = decodePatchFrame(frame);
    if (decoded.ok) {
      firstTick ??= decoded.frame.tickMs;
      const atMs = nowWallMs + Math.max(0, tickDelta(firstTick, decoded.frame.tickMs));
      if (atMs > clock.wallMs()) clock.advanceMs(atMs - clock.wallMs());
    }
    driver.handleFrame(frame, { wallMs: clock.wallMs(), monoNs: clock.monoNs() });
  }
  return lines;
}

export function decodeCapture(driver: DecodeDriver, bytes: Uint8Array, opts: DecodeOptions = {}): DecodeLine[] {
  switch (driver) {
    case 'pcd01':
      return decodePcd01Capture(bytes, opts);
    case 'masimo-ascii':
      return decodeMasimoCapture(bytes, opts);
    case 'vigil-patch':
      return decodeVigilPatchCapture(bytes, opts);
  }
}

async function readAll(input: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of input) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : (chunk as Buffer);
    total += b.length;
    if (total > MAX_CAPTURE_BYTES) throw new Error(`input larger than ${MAX_CAPTURE_BYTES} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** Reads the capture (file, or stdin when no file), writes one JSON line per reading or rejection. */
export async function runDecode(
  args: { driver: DecodeDriver; file?: string | undefined } & DecodeOptions,
  stdin: NodeJS.ReadableStream,
  stdout: NodeJS.WritableStream,
  stderr: NodeJS.WritableStream,
): Promise<number> {
  let bytes: Buffer;
  try {
    if (args.file !== undefined) {
      bytes = await readFile(args.file);
      if (bytes.length > MAX_CAPTURE_BYTES) throw new Error(`input larger than ${MAX_CAPTURE_BYTES} bytes`);
    } else {
      bytes = await readAll(stdin);
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    stderr.write(`vigil decode: cannot read ${args.file ?? 'stdin'}: ${code ?? (err as Error).message}\n`);
    return 1;
  }
  let lines: DecodeLine[];
  try {
    lines = decodeCapture(args.driver, bytes, args);
  } catch (err) {
    // An invalid device profile (ProfileError): nothing was decoded.
    if (!(err instanceof VigilError)) throw err;
    stderr.write(`vigil decode: ${err.message}\n`);
    return 1;
  }
  const text = lines.map((l) => JSON.stringify(l)).join('\n');
  if (text !== '') {
    await new Promise<void>((resolve, reject) => {
      stdout.write(`${text}\n`, (err) => (err ? reject(err) : resolve()));
    });
  }
  return 0;
}
