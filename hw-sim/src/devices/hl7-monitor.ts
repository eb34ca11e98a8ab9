/**
 * Simulated multi-parameter monitor sending HL7 v2 ORU^R01 (IHE PCD-01), MLLP framed, as
 * docs/interfaces/hl7-pcd01.md specifies: SpO2, pulse, ECG heart rate and respiration rate in
 * every message, NIBP and temperature every Nth message (episodic), from a seeded scenario;
 * with the faults a real link shows, injected at chosen messages. It reads the gateway's ACKs.
 *
 * Pure and deterministic: message n is built from the scenario at device second n and from
 * the wall time given by the caller; no I/O, no clock here (the CLI paces the messages and the
 * pty carries the bytes). The message encoding is written here, independently of the agent's
 * decoder, as a monitor's firmware would be; the agent's MLLP helpers and ACK decoder are reused.
 */
import { formatDtm } from '../../../agent/src/drivers/hl7-pcd01/dtm';
import { decodePcd01 } from '../../../agent/src/drivers/hl7-pcd01/pcd01';
import { frameMllp, MllpSplitter, unwrapMllp } from '../../../agent/src/framing/mllp';
import { createRng, type Rng } from '../rng';
import { createScenario, DESATURATION_TIMELINE, type Scenario, type ScenarioName } from '../scenarios';

export const DEVICE_NAME = 'hl7-monitor';

export const HL7_INJECT_KINDS = [
  'wrong-unit',
  'fahrenheit',
  'preliminary',
  'demo',
  'unknown-code',
  'corrupt',
  'garbage',
  'truncated',
  'duplicate',
  'other-patient',
  'other-device',
  'silence',
] as const;
export type Hl7InjectKind = (typeof HL7_INJECT_KINDS)[number];

export function isHl7InjectKind(kind: string): kind is Hl7InjectKind {
  return (HL7_INJECT_KINDS as readonly string[]).includes(kind);
}

/** A fault on messages `from`..`to` (0-based, inclusive). */
export interface Hl7Injection {
  kind: Hl7InjectKind;
  from: number;
  to: number;
}

/** An EUI-64 for the simulated monitor (made up; the OUI is not any vendor's). */
export const SIMULATED_EQUIPMENT_ID = '0012A1FFFE3B4C5D';
export const OTHER_EQUIPMENT_ID = '0012A1FFFE00BEEF';
export const SIMULATED_PATIENT_ID = 'HWSIM0001';
export const OTHER_PATIENT_ID = 'HWSIM9999';

export interface Hl7MonitorOptions {
  scenario: ScenarioName;
  seed: number;
  patientId: string;
  equipmentId: string;
  /** OBX-11 of every metric: R (unverified, as live monitors send) or F. */
  status: 'R' | 'F';
  /** NIBP in every Nth message (starting with message 0). */
  nibpEvery: number;
  /** Temperature in every Nth message (starting with message 0). */
  tempEvery: number;
  injections: readonly Hl7Injection[];
}

/** What the monitor measured for one message (the ground truth), null when not in it. */
export interface Hl7Truth {
  spo2Percent: number | null;
  pulseBpm: number | null;
  heartRateBpm: number | null;
  respRatePerMin: number | null;
  nibpSystolicMmHg: number | null;
  nibpDiastolicMmHg: number | null;
  nibpMeanMmHg: number | null;
  tempCelsius: number | null;
}

export interface EmittedMessage {
  index: number;
  /** MSH-10 of the message (null when nothing was sent: silence). */
  controlId: string | null;
  /** Bytes to write: MLLP framed, with the fault applied (empty for silence). */
  bytes: Buffer;
  /** The values the bytes carry (another patient's, for other-patient). */
  truth: Hl7Truth;
  injected: Hl7InjectKind | null;
  deviceTimeMs: number;
}

/** An ACK read back from the gateway. */
export interface AckEvent {
  controlId: string;
  code: string;
  errors: Array<{ code: string; severity: string; text: string }>;
}

// A fixed offset so that the extra vitals and the faults do not replay the scenario's noise.
const VITALS_SEED_OFFSET = 0x4c37;
const FAULT_SEED_OFFSET = 0x5eed;
const PROFILE = 'IHE PCD ORU-R01 2006^HL7^1.3.6.1.4.1.19376.1.6.1.1.1^ISO';

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

export class Hl7MonitorDevice {
  private readonly scenario: Scenario;
  private readonly vitalsRng: Rng;
  private readonly faultRng: Rng;
  private readonly injections: Map<number, Hl7InjectKind>;
  private readonly splitter = new MllpSplitter();
  private index = 0;
  /** The last message sent, for the duplicate fault. */
  private previous: { bytes: Buffer; controlId: string; truth: Hl7Truth } | null = null;

  constructor(private readonly opts: Hl7MonitorOptions) {
    this.scenario = createScenario(opts.scenario, opts.seed);
    this.vitalsRng = createRng((opts.seed + VITALS_SEED_OFFSET) | 0);
    this.faultRng = createRng((opts.seed + FAULT_SEED_OFFSET) | 0);
    const map = new Map<number, Hl7InjectKind>();
    for (const i of opts.injections) for (let n = i.from; n <= i.to; n++) map.set(n, i.kind);
    this.injections = map;
  }

  /** Builds the next message (in order: the scenario noise is sequential) at wall time `nowMs`. */
  nextMessage(nowMs: number): EmittedMessage {
    const index = this.index++;
    const injected = this.injections.get(index) ?? null;
    const truth = this.truthAt(index);
    const controlId = `HWSIM${this.opts.seed}-${index}`;
    if (injected === 'silence') {
      return { index, controlId: null, bytes: Buffer.alloc(0), truth, injected, deviceTimeMs: nowMs };
    }
    if (injected === 'duplicate' && this.previous !== null) {
      // The previous message again, byte for byte (a monitor that missed our ACK resends).
      const p = this.previous;
      return { index, controlId: p.controlId, bytes: p.bytes, truth: p.truth, injected, deviceTimeMs: nowMs };
    }
    const shown = injected === 'other-patient' ? otherPatientTruth(truth) : truth;
    const text = this.encode(controlId, nowMs, shown, injected);
    let bytes = frameMllp(text);
    switch (injected) {
      case 'corrupt': {
        // Line noise inside the message: the SpO2 value loses its digits to printable junk,
        // so the message no longer parses (HL7 has no checksum: only such errors are seen).
        const body = bytes.toString('latin1');
        const at = body.indexOf('MDC_PULS_OXIM_SAT_O2^MDC|');
        const valueAt = at < 0 ? -1 : body.indexOf('|', at + 'MDC_PULS_OXIM_SAT_O2^MDC|'.length) + 1;
        if (valueAt > 0) bytes = Buffer.from(`${body.slice(0, valueAt)}#${body.slice(valueAt + 1)}`, 'latin1');
        break;
      }
      case 'garbage': {
        // Bytes >= 0x80 between frames: never a start block, end block or CR.
        const noise = Buffer.alloc(this.faultRng.int(8, 32));
        for (let i = 0; i < noise.length; i++) noise[i] = this.faultRng.int(0x80, 0xff);
        bytes = Buffer.concat([noise, bytes]);
        break;
      }
      case 'truncated': {
        // A block cut short (the monitor restarted mid-message), then the message whole.
        const half = bytes.subarray(0, Math.floor(bytes.length / 2));
        bytes = Buffer.concat([half, bytes]);
        break;
      }
      default:
        break;
    }
    this.previous = { bytes, controlId, truth: shown };
    return { index, controlId, bytes, truth: shown, injected, deviceTimeMs: nowMs };
  }

  /** Reads bytes the gateway wrote (MLLP-framed ACKs); returns the ACKs completed. */
  receive(bytes: Uint8Array): AckEvent[] {
    const acks: AckEvent[] = [];
    for (const e of this.splitter.push(bytes)) {
      if (e.kind !== 'frame') continue;
      const u = unwrapMllp(e.bytes);
      if (!u.ok) continue;
      const d = decodePcd01(u.payload, { defaultUtcOffsetMinutes: 0 });
      if (d.ok && d.kind === 'ack') acks.push({ controlId: d.ack.controlId, code: d.ack.code, errors: d.ack.errors });
    }
    return acks;
  }

  /** The scenario at device second `index`, with the extra vitals a monitor measures. */
  private truthAt(index: number): Hl7Truth {
    const s = this.scenario.sampleAt(index);
    const rng = this.vitalsRng;
    // Draw every random number whether used or not, so that a fault does not shift the noise.
    const hrNoise = Math.round(rng.normal(0, 1));
    const rrNoise = rng.normal(0, 0.7);
    const sys = rng.normal(122, 4);
    const dia = rng.normal(78, 3);
    const temp = rng.normal(36.9, 0.1);
    const d = DESATURATION_TIMELINE;
    const distress =
      this.opts.scenario === 'desaturation' && index >= d.fallStartSeconds && index < d.recoverEndSeconds
        ? index < d.recoverStartSeconds
          ? Math.min(1, (index - d.fallStartSeconds) / (d.fallEndSeconds - d.fallStartSeconds))
          : 1 - (index - d.recoverStartSeconds) / (d.recoverEndSeconds - d.recoverStartSeconds)
        : 0;
    const rr = Math.round(16 + 10 * distress + rrNoise);
    const nibp = index % this.opts.nibpEvery === 0;
    const systolic = Math.round(sys - 15 * distress);
    const diastolic = Math.round(dia - 8 * distress);
    return {
      spo2Percent: s.spo2Percent,
      pulseBpm: s.pulseBpm,
      heartRateBpm: s.pulseBpm === null ? null : s.pulseBpm + hrNoise,
      respRatePerMin: rr,
      nibpSystolicMmHg: nibp ? systolic : null,
      nibpDiastolicMmHg: nibp ? diastolic : null,
      nibpMeanMmHg: nibp ? Math.round((systolic + 2 * diastolic) / 3) : null,
      tempCelsius: index % this.opts.tempEvery === 0 ? round1(temp) : null,
    };
  }

  private encode(controlId: string, nowMs: number, v: Hl7Truth, injected: Hl7InjectKind | null): string {
    // DTM with milliseconds (HL7 allows up to 4 fraction digits): each message's time is unique.
    const ms = String(Math.floor(nowMs) % 1000).padStart(3, '0');
    const ts = formatDtm(nowMs).replace('+0000', `.${ms}+0000`);
    const status = injected === 'preliminary' ? 'P' : this.opts.status;
    const flags = injected === 'demo' ? 'DEMO' : '';
    const patient = injected === 'other-patient' ? OTHER_PATIENT_ID : this.opts.patientId;
    const equipment = injected === 'other-device' ? OTHER_EQUIPMENT_ID : this.opts.equipmentId;
    const rows: string[][] = [];
    // OBX fields 1-18: set id, type, code, containment, value, unit, range, flags, -, -, status, -, -, time, -, -, -, equipment.
    const obx = (type: string, code: string, sub: string, value: string, unit: string, st: string, time: string, eq = ''): void => {
      rows.push([String(rows.length + 1), type, code, sub, value, unit, '', flags, '', '', st, '', '', time, '', '', '', eq]);
    };
    const metric = (code: string, sub: string, value: number | null, unit: string): void => {
      // A value the device cannot obtain (sensor off): OBX-11 X with an empty OBX-5.
      obx('NM', code, sub, value === null ? '' : String(value), unit, value === null ? 'X' : status, ts);
    };
    obx('', '69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC', '1.0.0.0', '', '', 'X', '', `${equipment}^EUI-64`);
    metric('150456^MDC_PULS_OXIM_SAT_O2^MDC', '1.1.1.1', v.spo2Percent, '262688^MDC_DIM_PERCENT^MDC');
    metric('149530^MDC_PULS_OXIM_PULS_RATE^MDC', '1.1.1.2', v.pulseBpm, '264864^MDC_DIM_BEAT_PER_MIN^MDC');
    metric('147842^MDC_ECG_HEART_RATE^MDC', '1.2.1.1', v.heartRateBpm, '264864^MDC_DIM_BEAT_PER_MIN^MDC');
    metric('151562^MDC_RESP_RATE^MDC', '1.2.1.2', v.respRatePerMin, '264928^MDC_DIM_RESP_PER_MIN^MDC');
    if (v.nibpSystolicMmHg !== null) {
      metric('150021^MDC_PRESS_BLD_NONINV_SYS^MDC', '1.3.1.1', v.nibpSystolicMmHg, '266016^MDC_DIM_MMHG^MDC');
      metric('150022^MDC_PRESS_BLD_NONINV_DIA^MDC', '1.3.1.2', v.nibpDiastolicMmHg, '266016^MDC_DIM_MMHG^MDC');
      metric('150023^MDC_PRESS_BLD_NONINV_MEAN^MDC', '1.3.1.3', v.nibpMeanMmHg, '266016^MDC_DIM_MMHG^MDC');
    }
    const temp = injected === 'wrong-unit' || injected === 'fahrenheit' ? (v.tempCelsius ?? 37) : v.tempCelsius;
    if (temp !== null) {
      const fahrenheit = round1((temp * 9) / 5 + 32);
      if (injected === 'wrong-unit') {
        // The firmware fault of HAZ-001: a Fahrenheit number labelled Celsius.
        metric('150364^MDC_TEMP_BODY^MDC', '1.4.1.1', fahrenheit, '268192^MDC_DIM_DEGC^MDC');
      } else if (injected === 'fahrenheit') {
        metric('150364^MDC_TEMP_BODY^MDC', '1.4.1.1', fahrenheit, '266560^MDC_DIM_FAHR^MDC');
      } else {
        metric('150364^MDC_TEMP_BODY^MDC', '1.4.1.1', temp, '268192^MDC_DIM_DEGC^MDC');
      }
    }
    if (injected === 'unknown-code') metric('148065^MDC_ECG_V_P_C_CNT^MDC', '1.2.1.9', 2, '264864^MDC_DIM_BEAT_PER_MIN^MDC');
    const segments = [
      ['MSH', '^~\\&', `HWSIM_MONITOR^${this.opts.equipmentId}^EUI-64`, 'HWSIM', '', '', ts, '', 'ORU^R01^ORU_R01', controlId, 'P', '2.6', '', '', 'NE', 'AL', '', 'UNICODE UTF-8', '', '', PROFILE].join('|'),
      ['PID', '', '', `${patient}^^^HWSIM^MR`, '', 'SIMULATED^PATIENT'].join('|'),
      ['PV1', '', 'I', 'WARD7^BED12^1'].join('|'),
      ['OBR', '1', '', '', '182777000^monitoring of patient^SCT', '', '', ts].join('|'),
      ...rows.map((r) => ['OBX', ...r].join('|')),
    ];
    return `${segments.join('\r')}\r`;
  }
}

/** Another patient's vitals (for other-patient): clearly not this bed's patient. */
function otherPatientTruth(t: Hl7Truth): Hl7Truth {
  return {
    spo2Percent: 88,
    pulseBpm: 118,
    heartRateBpm: 118,
    respRatePerMin: 27,
    nibpSystolicMmHg: t.nibpSystolicMmHg === null ? null : 95,
    nibpDiastolicMmHg: t.nibpDiastolicMmHg === null ? null : 55,
    nibpMeanMmHg: t.nibpMeanMmHg === null ? null : 68,
    tempCelsius: t.tempCelsius === null ? null : 38.9,
  };
}
