/**
 * Simulated Masimo pulse oximeter, "ASCII 1" serial output (docs/interfaces/masimo-ascii.md).
 *
 * Pure and deterministic: frame n is built from the scenario at device second n and encoded
 * by hw-sim's own encoder (../wire/masimo-ascii.ts, written from the interface document);
 * faults are injected at chosen frame indices. No I/O and no clock here: the runner paces the
 * frames and the pty carries the bytes.
 */
import { createRng, type Rng } from '../rng';
import { encodeMasimoLine, radical7Fields, type DeviceTime, type MasimoReading } from '../wire/masimo-ascii';
import { alarmBitsFor, DEFAULT_ALARM_LIMITS, type AlarmLimits, type Scenario } from '../scenarios';

/** The device clock (docs/interfaces/masimo-ascii.md, "Line format"). */
export type MasimoDeviceTime = DeviceTime;

export const DEVICE_NAME = 'masimo-ascii';

/**
 * Faults at a frame index. `frozen` is a state, not one bad frame: from that frame on the
 * device repeats that frame's values (a stuck device), while its clock keeps running.
 * `bit-error` flips one bit of one byte of the line (line noise).
 */
export const INJECT_KINDS = ['malformed', 'unknown-field', 'garbage', 'overlong', 'frozen', 'bit-error'] as const;
export type InjectKind = (typeof INJECT_KINDS)[number];

export function isInjectKind(kind: string): kind is InjectKind {
  return (INJECT_KINDS as readonly string[]).includes(kind);
}

export interface Injection {
  kind: InjectKind;
  frameIndex: number;
}

/** Length of the `overlong` fault: far beyond the 256-byte line bound, with no CR LF. */
export const OVERLONG_BYTES = 4096;

export interface MasimoAsciiDeviceOptions {
  scenario: Scenario;
  /** Seed of the fault payloads (kept apart from the scenario noise, so that injecting faults
   * does not change the readings of the other frames). */
  seed: number;
  /** Device clock at frame 0; it advances one second per frame, like the real 1 Hz output. */
  startTime: MasimoDeviceTime;
  /** null: a model that omits SN=. */
  serialNumber: string | null;
  /** true: a model that adds PVI=. */
  includePvi: boolean;
  injections: readonly Injection[];
  /** The device's alarm limits, against which it sets its ALARM bits (default DEFAULT_ALARM_LIMITS). */
  alarmLimits?: Readonly<AlarmLimits>;
}

/** One line as written to the wire, with the ground truth behind it. */
export interface EmittedFrame {
  index: number;
  bytes: Buffer;
  deviceTime: MasimoDeviceTime;
  /** Scenario truth, also for injected frames (whose bytes may not carry it). */
  spo2Percent: number | null;
  pulseBpm: number | null;
  /** The ALARM field of the line (for an injected frame: what the device set, which the bytes may not carry). */
  alarmBits: number;
  injected: InjectKind | null;
}

/** Adds whole seconds to a device-local time (calendar arithmetic only, no zone, no clock). */
export function addSeconds(time: MasimoDeviceTime, seconds: number): MasimoDeviceTime {
  const ms = Date.UTC(time.year, time.month - 1, time.day, time.hour, time.minute, time.second) + seconds * 1000;
  const d = new Date(ms);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
  };
}

export function formatDeviceTime(t: MasimoDeviceTime): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(t.year, 4)}-${p(t.month)}-${p(t.day)}T${p(t.hour)}:${p(t.minute)}:${p(t.second)}`;
}

const CRLF = Buffer.from('\r\n', 'ascii');
// A fixed offset so that the fault generator does not replay the scenario's noise sequence.
const FAULT_SEED_OFFSET = 0x5eed;

export class MasimoAsciiDevice {
  private readonly injections: ReadonlyMap<number, InjectKind>;
  private frozenSample: ReturnType<Scenario['sampleAt']> | null = null;
  private readonly faultRng: Rng;
  private index = 0;

  constructor(private readonly opts: MasimoAsciiDeviceOptions) {
    const map = new Map<number, InjectKind>();
    for (const injection of opts.injections) map.set(injection.frameIndex, injection.kind);
    this.injections = map;
    this.faultRng = createRng((opts.seed + FAULT_SEED_OFFSET) | 0);
  }

  /** Builds the next frame (frames must be taken in order: the scenario noise is sequential). */
  nextFrame(): EmittedFrame {
    const index = this.index++;
    const frozenFrom = [...this.injections].find(([at, kind]) => kind === 'frozen' && at <= index)?.[0];
    if (frozenFrom !== undefined && this.frozenSample === null) this.frozenSample = this.opts.scenario.sampleAt(frozenFrom);
    const live = this.opts.scenario.sampleAt(index);
    const sample = frozenFrom !== undefined && this.frozenSample !== null ? this.frozenSample : live;
    const deviceTime = addSeconds(this.opts.startTime, index);
    // The device's own alarms: the scenario's readings against this device's limits.
    const alarmBits = alarmBitsFor(sample.spo2Percent, sample.pulseBpm, this.opts.alarmLimits ?? DEFAULT_ALARM_LIMITS);
    const reading: MasimoReading = {
      serialNumber: this.opts.serialNumber,
      spo2Percent: sample.spo2Percent,
      pulseBpm: sample.pulseBpm,
      perfusionIndexPercent: sample.perfusionIndexPercent,
      // This model has no SpCO/SpMet board and no desaturation index: dashed, as on the Rad-8.
      spcoPercent: null,
      spmetPercent: null,
      pviPercent: this.opts.includePvi ? sample.pviPercent : null,
      desat: null,
      piDeltaPercent: null,
      alarmBits,
      exceptionBits: sample.exceptionBits,
    };
    const fields = radical7Fields(reading, { includeSerial: this.opts.serialNumber !== null, includePvi: this.opts.includePvi });
    const line = encodeMasimoLine({ deviceTime, fields });
    const injectedAt = this.injections.get(index) ?? null;
    const injected = injectedAt ?? (frozenFrom !== undefined ? 'frozen' : null);
    return {
      index,
      bytes: injected === null || injected === 'frozen' ? line : this.inject(injected, line),
      deviceTime,
      spo2Percent: sample.spo2Percent,
      pulseBpm: sample.pulseBpm,
      alarmBits,
      injected,
    };
  }

  private inject(kind: InjectKind, line: Buffer): Buffer {
    switch (kind) {
      case 'malformed': {
        // Corrupt the middle character of the SPO2 value ("SPO2=098%" -> "SPO2=0x8%"): still
        // printable ASCII, so the decoder must reject it on syntax, not on framing.
        const text = line.toString('ascii');
        const at = text.indexOf('SPO2=') + 'SPO2='.length + 1;
        return Buffer.from(`${text.slice(0, at)}x${text.slice(at + 1)}`, 'ascii');
      }
      case 'unknown-field': {
        const text = line.toString('ascii').slice(0, -2);
        return Buffer.from(`${text} FOO=1\r\n`, 'ascii');
      }
      case 'garbage': {
        // Bytes >= 0x80 never contain CR or LF, so this is exactly one bad line.
        const length = this.faultRng.int(8, 64);
        const noise = Buffer.alloc(length);
        for (let i = 0; i < length; i++) noise[i] = this.faultRng.int(0x80, 0xff);
        return Buffer.concat([noise, CRLF]);
      }
      case 'frozen':
        return line;
      case 'bit-error': {
        // One flipped bit in the text before CR LF; the decoder must reject the line
        // (framing or malformed), whichever byte it hits.
        const out = Buffer.from(line);
        const at = this.faultRng.int(0, out.length - 3);
        out[at] = (out[at] ?? 0) ^ (1 << this.faultRng.int(0, 6));
        return out;
      }
      case 'overlong': {
        // A run of printable bytes with no delimiter (lost CR LFs), then a normal line. On the
        // wire this is one line of OVERLONG_BYTES + ~110 bytes: the driver's bounded parser must
        // report an overflow, drop it (this frame's readings are lost with it) and decode the
        // next frame normally.
        const run = Buffer.alloc(OVERLONG_BYTES);
        for (let i = 0; i < OVERLONG_BYTES; i++) run[i] = this.faultRng.int(0x41, 0x5a);
        return Buffer.concat([run, line]);
      }
    }
  }
}
