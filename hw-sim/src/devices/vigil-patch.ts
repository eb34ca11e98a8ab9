/**
 * Simulated Vigil sensor patch, binary protocol v1 (docs/interfaces/vigil-patch.md), byte for
 * byte, with hw-sim's own codec of the patch's side (../wire/vigil-patch.ts, written from the
 * interface document, independently of the agent's decoder).
 *
 * Pure and deterministic: no I/O and no clock. The device runs in blocks of 200 ms of device
 * time; `nextBlock()` gives the bytes of the next block (an ECG, a PPG and an accelerometer
 * frame while streaming, and a STATUS frame closing every second, streaming or not), and
 * `receive()` takes what the host wrote and returns the device's answers (ACK, IDENTITY).
 * The signals come from the seeded physiology model of hw-sim/src/signals.ts driven by the
 * scenario, or from a recording (hw-sim/src/replay.ts). Faults are injected by device time.
 */
import {
  ACCEL_MILLI_G_PER_LSB,
  BROADCAST_SERIAL,
  buildFrame,
  cobsEncode,
  decodeHostFrame,
  ECG_MICROVOLTS_PER_LSB,
  PPG_MAX_COUNT,
  RATES_HZ,
  statusFlags,
  TYPE_CODES,
  type AckResult,
  type PatchPayload,
  type StatusFlag,
  type StreamName,
} from '../wire/vigil-patch';
import { createRng, type Rng } from '../rng';
import { ALARM_CYCLES, DESATURATION_TIMELINE, SENSOR_OFF_AFTER_SECONDS, type ScenarioName } from '../scenarios';
import { PhysiologyModel, type ChannelRates, type PhysiologyBlock, type PhysiologyState, type Spo2Curve } from '../signals';

export const DEVICE_NAME = 'vigil-patch';
/** Device time per block: one ECG, PPG and accelerometer frame each. */
export const BLOCK_MS = 200;
export const BLOCKS_PER_SECOND = 1000 / BLOCK_MS;
/** Without any host frame for this long the patch stops streaming (host-timeout). */
export const HOST_TIMEOUT_MS = 5000;
/** The serial numbers the simulated patches report (made-up values). */
export const SIMULATED_PATCH_SERIAL = '00C0FFEE';
export const OTHER_PATCH_SERIAL = '00BADA55';
export const FIRMWARE = { major: 1, minor: 4, patch: 2 } as const;
export const HARDWARE_REVISION = 3;
export const MODEL = 'VIGIL-PATCH1';

export const PATCH_INJECT_KINDS = [
  'garbage',
  'bit-error',
  'truncate',
  'duplicate',
  'reorder',
  'silence',
  'serial',
  'leads-off',
  'probe-off',
  'motion',
  'low-battery',
  'unplug',
] as const;
export type PatchInjectKind = (typeof PATCH_INJECT_KINDS)[number];

export function isPatchInjectKind(kind: string): kind is PatchInjectKind {
  return (PATCH_INJECT_KINDS as readonly string[]).includes(kind);
}

/** A fault from `atS` (device seconds) for `durationS` (one block when not given; `serial` lasts). */
export interface PatchInjection {
  kind: PatchInjectKind;
  atS: number;
  durationS: number | null;
}

/** Where the waveforms come from: the model (default) or a recording. */
export interface SignalSource {
  block(t0S: number, durationS: number, state: PhysiologyState, rates: ChannelRates): PhysiologyBlock;
  /** The recording's own truth at t (its annotated heart rate...), overriding the scenario's. */
  truthAt?(tS: number): Partial<Pick<PhysiologyState, 'heartRateBpm' | 'spo2Percent' | 'respRatePerMin'>>;
}

export interface VigilPatchOptions {
  scenario: ScenarioName;
  seed: number;
  serial?: string;
  injections?: readonly PatchInjection[];
  /** Device tick at power-on of the simulation; default from the seed (any u32). */
  tickStartMs?: number;
  /** First sequence number; default from the seed (so the wrap is exercised within minutes). */
  sequenceStart?: number;
  /** Start streaming without waiting for START (a misbehaving firmware); default false. */
  autoStart?: boolean;
  spo2Curve?: Spo2Curve;
  /** A recording instead of the model (replay). */
  source?: SignalSource;
}

/** The truth behind one block, and what was injected. */
export interface EmittedBlock {
  index: number;
  /** Device time of the block's first sample, s since the simulation started. */
  tS: number;
  tickMs: number;
  bytes: Buffer;
  streaming: boolean;
  truth: PhysiologyState;
  serial: string;
  /** A STATUS frame closes this block (the end of a device second). */
  closesSecond: boolean;
  injected: PatchInjectKind[];
  /** Frames in `bytes` (after duplicate/reorder faults), by type name. */
  frames: string[];
}

export interface CommandEvent {
  type: string;
  sequence: number;
  result: AckResult | 'rejected';
  /** The host frame's reject reason when it did not decode. */
  reason?: string;
}

const BASELINE: PhysiologyState = {
  heartRateBpm: 72,
  spo2Percent: 97,
  respRatePerMin: 14,
  perfusionIndexPercent: 3,
  skinTempCelsius: 34.2,
};

function ramp(t: number, t0: number, t1: number, from: number, to: number): number {
  if (t <= t0) return from;
  if (t >= t1) return to;
  return from + ((to - from) * (t - t0)) / (t1 - t0);
}

/**
 * The scenario's physiology at device time t (s). `stable`: a resting adult; `desaturation`:
 * the pulse oximeter's timeline (docs: hw-sim scenarios) with the heart and breathing rates
 * rising as SpO2 falls; `sensor-off`: valid for SENSOR_OFF_AFTER_SECONDS, then both the
 * electrodes and the optical probe are off; `alarm-cycles`: the pulse oximeter's SpO2 dips
 * (ALARM_CYCLES), the rest as `stable`.
 */
export function patchStateAt(scenario: ScenarioName, tS: number): PhysiologyState {
  // Slow, deterministic variation (respiratory sinus arrhythmia is in the beat jitter).
  const drift = Math.sin((2 * Math.PI * tS) / 60);
  const base: PhysiologyState = {
    ...BASELINE,
    heartRateBpm: BASELINE.heartRateBpm + 2 * drift,
    skinTempCelsius: BASELINE.skinTempCelsius + 0.1 * drift,
  };
  switch (scenario) {
    case 'stable':
      return base;
    case 'desaturation': {
      const d = DESATURATION_TIMELINE;
      const depth = tS < d.recoverStartSeconds ? ramp(tS, d.fallStartSeconds, d.fallEndSeconds, 0, 1) : ramp(tS, d.recoverStartSeconds, d.recoverEndSeconds, 1, 0);
      return {
        ...base,
        spo2Percent: BASELINE.spo2Percent + depth * (d.nadirSpo2Percent - BASELINE.spo2Percent),
        heartRateBpm: base.heartRateBpm + depth * (d.peakPulseBpm - BASELINE.heartRateBpm),
        respRatePerMin: BASELINE.respRatePerMin + depth * 10,
      };
    }
    case 'alarm-cycles':
      return Math.floor(tS) % ALARM_CYCLES.periodSeconds === ALARM_CYCLES.periodSeconds - 1 ? { ...base, spo2Percent: ALARM_CYCLES.lowSpo2Percent } : base;
    case 'sensor-off':
      return tS < SENSOR_OFF_AFTER_SECONDS ? base : { ...base, leadOff: true, probeOff: true };
  }
}

const FAULT_SEED_OFFSET = 0x5eed;

function clampInt(value: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, Math.round(value)));
}

export class VigilPatchDevice {
  private readonly model: SignalSource;
  private readonly faultRng: Rng;
  private readonly injections: readonly PatchInjection[];
  private index = 0;
  private sequence: number;
  private readonly tickStartMs: number;
  private streaming: boolean;
  private hostTimedOut = false;
  private lastHostMs = 0;
  private readonly rates: Record<StreamName, number> = { ecg: RATES_HZ.ecg.default, ppg: RATES_HZ.ppg.default, accel: RATES_HZ.accel.default };
  private battery = 96;
  /** Bytes the host sent that do not yet end in a delimiter (bounded). */
  private rx: Buffer = Buffer.alloc(0);
  private readonly commandEvents: CommandEvent[] = [];

  constructor(private readonly opts: VigilPatchOptions) {
    const seedRng = createRng(opts.seed);
    this.tickStartMs = opts.tickStartMs ?? seedRng.int(0, 0x7fffffff);
    this.sequence = opts.sequenceStart ?? seedRng.int(0, 0xffff);
    this.faultRng = createRng((opts.seed + FAULT_SEED_OFFSET) | 0);
    this.injections = opts.injections ?? [];
    this.streaming = opts.autoStart ?? false;
    this.model =
      opts.source ??
      new PhysiologyModel({ seed: opts.seed, ...(opts.spo2Curve ? { spo2Curve: opts.spo2Curve } : {}) });
  }

  /** Device time now, ms since the simulation started (the start of the next block). */
  get nowMs(): number {
    return this.index * BLOCK_MS;
  }

  get isStreaming(): boolean {
    return this.streaming;
  }

  /** Commands handled since the last call (for hw-sim's event log). */
  takeCommandEvents(): CommandEvent[] {
    return this.commandEvents.splice(0);
  }

  private active(kind: PatchInjectKind, tS: number): boolean {
    return this.injections.some((i) => {
      if (i.kind !== kind) return false;
      if (kind === 'serial') return tS >= i.atS;
      const end = i.atS + (i.durationS ?? BLOCK_MS / 1000);
      return tS >= i.atS - 1e-9 && tS < end - 1e-9;
    });
  }

  private serialAt(tS: number): string {
    return this.active('serial', tS) ? OTHER_PATCH_SERIAL : (this.opts.serial ?? SIMULATED_PATCH_SERIAL);
  }

  private tickAt(ms: number): number {
    return (this.tickStartMs + ms) >>> 0;
  }

  private frame(payload: PatchPayload, tickMs: number, serial: string): Uint8Array {
    const bytes = buildFrame({ serial, sequence: this.sequence, tickMs, payload });
    this.sequence = (this.sequence + 1) & 0xffff;
    return bytes;
  }

  /** The physiology of the block starting at tS, with the injected conditions. */
  truthAt(tS: number): PhysiologyState {
    const state = { ...patchStateAt(this.opts.scenario, tS), ...(this.model.truthAt?.(tS) ?? {}) };
    if (this.active('leads-off', tS)) state.leadOff = true;
    if (this.active('probe-off', tS)) state.probeOff = true;
    if (this.active('motion', tS)) state.motion = true;
    return state;
  }

  nextBlock(): EmittedBlock {
    const index = this.index++;
    const t0Ms = index * BLOCK_MS;
    const tS = t0Ms / 1000;
    const truth = this.truthAt(tS);
    const serial = this.serialAt(tS);
    const closesSecond = (index + 1) % BLOCKS_PER_SECOND === 0;
    if (this.streaming && t0Ms - this.lastHostMs > HOST_TIMEOUT_MS) {
      // No host for HOST_TIMEOUT_MS: stop streaming to save the battery.
      this.streaming = false;
      this.hostTimedOut = true;
    }
    // The signals are generated whether or not they are sent: the model's time runs on.
    const block = this.model.block(tS, BLOCK_MS / 1000, truth, { ...this.rates });
    const frames: Array<{ name: string; bytes: Uint8Array }> = [];
    if (this.streaming) {
      const ecg = Int16Array.from(block.ecgMv, (mv) => clampInt((mv * 1000) / ECG_MICROVOLTS_PER_LSB, -32768, 32767));
      frames.push({ name: 'ecg', bytes: this.frame({ type: 'ecg', sampleRateHz: this.rates.ecg, samples: ecg }, this.tickAt(t0Ms), serial) });
      const red = Uint32Array.from(block.red, (c) => clampInt(c, 0, PPG_MAX_COUNT));
      const ir = Uint32Array.from(block.ir, (c) => clampInt(c, 0, PPG_MAX_COUNT));
      frames.push({ name: 'ppg', bytes: this.frame({ type: 'ppg', sampleRateHz: this.rates.ppg, red, ir }, this.tickAt(t0Ms), serial) });
      const axis = (mg: Float64Array): Int16Array => Int16Array.from(mg, (v) => clampInt(v / ACCEL_MILLI_G_PER_LSB, -32768, 32767));
      frames.push({
        name: 'accel',
        bytes: this.frame(
          { type: 'accel', sampleRateHz: this.rates.accel, x: axis(block.accelMg.x), y: axis(block.accelMg.y), z: axis(block.accelMg.z) },
          this.tickAt(t0Ms),
          serial,
        ),
      });
    }
    if (closesSecond) frames.push({ name: 'status', bytes: this.frame(this.statusPayload(truth, tS), this.tickAt(t0Ms + BLOCK_MS), serial) });
    return this.applyFaults({ index, tS, tickMs: this.tickAt(t0Ms), truth, serial, closesSecond, frames });
  }

  private statusPayload(truth: PhysiologyState, tS: number): PatchPayload {
    if (!this.active('low-battery', tS)) this.battery = Math.max(20, 96 - Math.floor(tS / 600));
    const lowBattery = this.active('low-battery', tS);
    const conditions: StatusFlag[] = [];
    if (truth.leadOff) conditions.push('lead-off');
    if (truth.probeOff) conditions.push('probe-off');
    if (truth.motion) conditions.push('motion');
    if (lowBattery) conditions.push('low-battery');
    if (this.streaming) conditions.push('streaming');
    if (this.hostTimedOut) conditions.push('host-timeout');
    return {
      type: 'status',
      flags: statusFlags(conditions),
      // The skin thermistor is on the electrode side: off the skin it reads the room.
      skinTempCelsius: truth.leadOff ? 24 : Math.round(truth.skinTempCelsius * 100) / 100,
      batteryPercent: lowBattery ? 8 : this.battery,
      batteryMv: lowBattery ? 3420 : 3700 + this.battery * 4,
    };
  }

  private applyFaults(b: {
    index: number;
    tS: number;
    tickMs: number;
    truth: PhysiologyState;
    serial: string;
    closesSecond: boolean;
    frames: Array<{ name: string; bytes: Uint8Array }>;
  }): EmittedBlock {
    const injected = PATCH_INJECT_KINDS.filter((k) => this.active(k, b.tS));
    let frames = b.frames;
    const wire: Buffer[] = [];
    if (injected.includes('silence')) frames = [];
    if (injected.includes('reorder') && frames.length >= 2) frames = [frames[1]!, frames[0]!, ...frames.slice(2)];
    if (injected.includes('duplicate') && frames.length >= 1) frames = [frames[0]!, ...frames];
    if (injected.includes('garbage')) {
      const noise = Buffer.alloc(48);
      for (let i = 0; i < noise.length; i++) noise[i] = this.faultRng.int(0, 255);
      wire.push(noise, Buffer.from([0]));
    }
    const flipAt = injected.includes('bit-error') && frames.length > 0 ? this.faultRng.int(0, frames.length - 1) : -1;
    frames.forEach((f, i) => {
      let bytes = f.bytes;
      if (i === flipAt) {
        // One bit flipped in the frame's content: the CRC-32C must catch it.
        bytes = Uint8Array.from(bytes);
        const bit = this.faultRng.int(0, bytes.length * 8 - 1);
        bytes[bit >> 3]! ^= 1 << (bit & 7);
      }
      let encoded = Buffer.from(cobsEncode(bytes));
      if (i === 0 && injected.includes('truncate')) encoded = encoded.subarray(0, Math.floor(encoded.length / 2));
      wire.push(encoded, Buffer.from([0]));
    });
    return {
      index: b.index,
      tS: b.tS,
      tickMs: b.tickMs,
      bytes: Buffer.concat(wire),
      streaming: this.streaming,
      truth: b.truth,
      serial: b.serial,
      closesSecond: b.closesSecond,
      injected,
      frames: frames.map((f) => f.name),
    };
  }

  /**
   * Bytes from the host. Complete frames (0x00-delimited) are decoded and answered; the
   * answers (ACK, IDENTITY) are returned as wire bytes. A frame that does not decode gets no
   * answer (the host times out and retries), as a real device cannot tell who sent it.
   */
  receive(bytes: Uint8Array): Buffer {
    this.rx = Buffer.concat([this.rx, bytes]);
    const out: Buffer[] = [];
    let at: number;
    while ((at = this.rx.indexOf(0)) >= 0) {
      const encoded = this.rx.subarray(0, at);
      this.rx = this.rx.subarray(at + 1);
      if (encoded.length > 0) out.push(...this.handleHostFrame(encoded));
    }
    // A host babbling without delimiters must not grow the buffer without bound.
    if (this.rx.length > 256) this.rx = Buffer.alloc(0);
    return Buffer.concat(out);
  }

  private handleHostFrame(encoded: Uint8Array): Buffer[] {
    const decoded = decodeHostFrame(encoded);
    if (!decoded.ok) {
      this.commandEvents.push({ type: 'unknown', sequence: -1, result: 'rejected', reason: decoded.reason });
      return [];
    }
    const nowMs = this.nowMs;
    const serial = this.serialAt(nowMs / 1000);
    const target = decoded.kind === 'command' ? decoded.frame.serial : decoded.serial;
    if (target !== BROADCAST_SERIAL && target !== serial) return [];
    this.lastHostMs = nowMs;
    let result: AckResult = 'ok';
    let identify = false;
    let sequence: number;
    let typeCode: number;
    let typeName: string;
    if (decoded.kind === 'refused') {
      ({ result, sequence, typeCode } = decoded);
      typeName = `0x${typeCode.toString(16).padStart(2, '0')}`;
    } else {
      const p = decoded.frame.payload;
      sequence = decoded.frame.sequence;
      typeCode = TYPE_CODES[p.type];
      typeName = p.type;
      switch (p.type) {
        case 'start':
          this.streaming = true;
          this.hostTimedOut = false;
          break;
        case 'stop':
          this.streaming = false;
          break;
        case 'identify':
          identify = true;
          break;
        case 'set-rate':
          // Takes effect from the next block (a rate not allowed was refused as bad-argument).
          this.rates[p.stream] = p.sampleRateHz;
          break;
        default:
          break;
      }
    }
    this.commandEvents.push({ type: typeName, sequence, result });
    // The ACK first, then the answer: frames leave in the order of their sequence numbers.
    const replies = [this.wire(this.frame({ type: 'ack', ackedSequence: sequence, ackedType: typeCode, result }, this.tickAt(nowMs), serial))];
    if (identify) {
      replies.push(this.wire(this.frame({ type: 'identity', firmware: { ...FIRMWARE }, hardwareRevision: HARDWARE_REVISION, model: MODEL }, this.tickAt(nowMs), serial)));
    }
    return replies;
  }

  private wire(bytes: Uint8Array): Buffer {
    return Buffer.concat([cobsEncode(bytes), Buffer.from([0])]);
  }
}
