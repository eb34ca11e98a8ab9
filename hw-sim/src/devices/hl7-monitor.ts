/**
 * Simulated multi-parameter monitor sending HL7 v2 ORU^R01 (IHE PCD-01), MLLP framed, as
 * docs/interfaces/hl7-pcd01.md specifies: SpO2, pulse, ECG heart rate and respiration rate in
 * every message, NIBP and temperature every Nth message (episodic), from a seeded scenario;
 * with the faults a real link shows, injected at chosen messages; and its SpO2 low limit alarm as
 * IHE PCD-04 ORU^R40 alerts (start, continue, end; the document's "Alerts (PCD-04)"), with the
 * alert faults. It reads the gateway's ACKs.
 *
 * Pure and deterministic: message n is built from the scenario at device second n and from
 * the wall time given by the caller; no I/O, no clock here (the CLI paces the messages and the
 * pty carries the bytes). The message, its MLLP block and the ACKs read back go through
 * hw-sim's own codec (../wire/hl7-pcd01.ts, ../wire/mllp.ts), written from the interface
 * document independently of the agent's decoder, as a monitor's firmware would be.
 */
import { createRng, type Rng } from '../rng';
import {
  encodePcd01,
  encodePcd04,
  formatDtmUtc,
  readAck,
  type AlarmInactivationState,
  type AlarmState,
  type AlertPhase,
  type AlertPriority,
  type AlertType,
  type Pcd01Message,
  type Pcd04Alert,
  type Pcd01Observation,
} from '../wire/hl7-pcd01';
import { frameMllp, MllpReader } from '../wire/mllp';
import { createScenario, DESATURATION_TIMELINE, type Scenario, type ScenarioName } from '../scenarios';

export const DEVICE_NAME = 'hl7-monitor';

/**
 * The alert faults (docs/interfaces/hl7-pcd01.md, "hw-sim", **Alerts (PCD-04)**): each adds to or
 * takes from the ORU^R40 messages of its message, never changes its ORU^R01.
 */
export const HL7_ALERT_INJECT_KINDS = ['alert-malformed', 'alert-unknown-event', 'alert-end-without-start', 'alert-missing-end'] as const;
export type Hl7AlertInjectKind = (typeof HL7_ALERT_INJECT_KINDS)[number];

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
  ...HL7_ALERT_INJECT_KINDS,
] as const;
export type Hl7InjectKind = (typeof HL7_INJECT_KINDS)[number];

export function isHl7InjectKind(kind: string): kind is Hl7InjectKind {
  return (HL7_INJECT_KINDS as readonly string[]).includes(kind);
}

export function isHl7AlertInjectKind(kind: string): kind is Hl7AlertInjectKind {
  return (HL7_ALERT_INJECT_KINDS as readonly string[]).includes(kind);
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
  /** Alerts (PCD-04): false for a monitor that sends none (default true). */
  alerts?: boolean;
  /** The monitor's SpO2 low alarm limit, % (default 90): alarm while SpO2 is at or below it. */
  spo2LowLimitPercent?: number;
  /** A `continue` of an alarm in progress every this many messages (default 10). */
  alertContinueEvery?: number;
}

/** docs/interfaces/hl7-pcd01.md, "hw-sim", **Alerts (PCD-04)**: the defaults of the monitor's alerts. */
export const DEFAULT_SPO2_LOW_LIMIT_PERCENT = 90;
export const DEFAULT_ALERT_CONTINUE_EVERY = 10;

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

/** One ORU^R40 the monitor sends after a message's ORU^R01 (docs/interfaces/hl7-pcd01.md, "Alerts"). */
export interface EmittedAlert {
  /** MSH-10 of the ORU^R40 (its own, never the ORU^R01's). */
  controlId: string;
  /** OBR-3 entity id (`HWSIM-ALERT-<n>`, namespace HWSIM); null when left out (alert-malformed). */
  instanceId: string | null;
  phase: AlertPhase;
  state: AlarmState;
  inactivationState: AlarmInactivationState;
  /** OBX-3 of the first OBX: the event code and its reference id. */
  eventCode: string;
  eventName: string;
  /** OBX-5 of the first OBX: the source's code. */
  sourceCode: string;
  priority: AlertPriority;
  type: AlertType;
  /** The alert fault that made or changed this alert (null: the scenario's alarm as it is). */
  injected: Hl7AlertInjectKind | null;
  /** Bytes to write, MLLP framed. */
  bytes: Buffer;
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
  /** The ORU^R40 messages sent right after this one, in order (none with alerts off, or in silence). */
  alerts: EmittedAlert[];
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
/** MSH-21: the PCD-01 profile id (docs/interfaces/hl7-pcd01.md, MSH-21 example; S3). */
const PROFILE = ['IHE PCD ORU-R01 2006', 'HL7', '1.3.6.1.4.1.19376.1.6.1.1.1', 'ISO'];

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

export class Hl7MonitorDevice {
  private readonly scenario: Scenario;
  private readonly vitalsRng: Rng;
  private readonly faultRng: Rng;
  private readonly injections: Map<number, Hl7InjectKind>;
  private readonly reader = new MllpReader();
  private index = 0;
  private readonly alerts: AlertAnnouncer;
  /** The last message sent, for the duplicate fault. */
  private previous: { bytes: Buffer; controlId: string; truth: Hl7Truth } | null = null;

  constructor(private readonly opts: Hl7MonitorOptions) {
    this.scenario = createScenario(opts.scenario, opts.seed);
    this.vitalsRng = createRng((opts.seed + VITALS_SEED_OFFSET) | 0);
    this.faultRng = createRng((opts.seed + FAULT_SEED_OFFSET) | 0);
    const map = new Map<number, Hl7InjectKind>();
    for (const i of opts.injections) for (let n = i.from; n <= i.to; n++) map.set(n, i.kind);
    this.injections = map;
    this.alerts = new AlertAnnouncer(opts, (controlId, nowMs) => this.header(controlId, nowMs));
  }

  /**
   * Builds the next message (in order: the scenario noise is sequential) at wall time `nowMs`, and
   * the ORU^R40 alerts to send right after it.
   */
  nextMessage(nowMs: number): EmittedMessage {
    const index = this.index++;
    const injected = this.injections.get(index) ?? null;
    const truth = this.truthAt(index);
    const message = this.oruR01(index, nowMs, truth, injected);
    // A silent monitor sends nothing that second, alerts included; its alarm is judged again at
    // the next message it sends (the alarm's messages then follow what it measures then).
    const alerts = injected === 'silence' ? [] : this.alerts.next(index, nowMs, truth.spo2Percent, injected);
    return { ...message, alerts };
  }

  private oruR01(index: number, nowMs: number, truth: Hl7Truth, injected: Hl7InjectKind | null): Omit<EmittedMessage, 'alerts'> {
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
    let bytes = frameMllp(encodePcd01(this.message(controlId, nowMs, shown, injected)));
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
    for (const message of this.reader.push(bytes)) {
      const ack = readAck(message);
      if (ack !== null) acks.push(ack);
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

  /** What an ORU^R40 carries of the monitor and its patient: as the ORU^R01's MSH, PID and PV1. */
  private header(controlId: string, nowMs: number): AlertHeader {
    return {
      sendingApplication: ['HWSIM_MONITOR', this.opts.equipmentId, 'EUI-64'],
      sendingFacility: 'HWSIM',
      time: formatDtmUtc(nowMs),
      controlId,
      processingId: 'P',
      version: '2.6',
      characterSet: 'UNICODE UTF-8',
      patient: { identifiers: [this.opts.patientId, '', '', 'HWSIM', 'MR'], name: ['SIMULATED', 'PATIENT'] },
      visit: { patientClass: 'I', location: ['WARD7', 'BED12', '1'] },
      equipment: [this.opts.equipmentId, 'EUI-64'],
    };
  }

  private message(controlId: string, nowMs: number, v: Hl7Truth, injected: Hl7InjectKind | null): Pcd01Message {
    // DTM with milliseconds (HL7 allows up to 4 fraction digits): each message's time is unique.
    const ts = formatDtmUtc(nowMs);
    const status = injected === 'preliminary' ? 'P' : this.opts.status;
    const flags = injected === 'demo' ? 'DEMO' : '';
    const patient = injected === 'other-patient' ? OTHER_PATIENT_ID : this.opts.patientId;
    const equipment = injected === 'other-device' ? OTHER_EQUIPMENT_ID : this.opts.equipmentId;
    const rows: Pcd01Observation[] = [];
    const mdc = (code: string, name: string): string[] => [code, name, 'MDC'];
    const metric = (code: string[], subId: string, value: number | null, unit: string[]): void => {
      // A value the device cannot obtain (sensor off): OBX-11 X with an empty OBX-5.
      rows.push({ setId: String(rows.length + 1), type: 'NM', code, subId, value: value === null ? '' : String(value), unit, abnormalFlags: flags, status: value === null ? 'X' : status, time: ts });
    };
    // The MDS row: a descriptor that names the monitor (OBX-18, EUI-64), PCD-01 order.
    rows.push({ setId: '1', type: '', code: mdc('69965', 'MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS'), subId: '1.0.0.0', value: '', abnormalFlags: flags, status: 'X', equipment: [equipment, 'EUI-64'] });
    const percent = mdc('262688', 'MDC_DIM_PERCENT');
    const perMin = mdc('264864', 'MDC_DIM_BEAT_PER_MIN');
    const mmHg = mdc('266016', 'MDC_DIM_MMHG');
    const celsius = mdc('268192', 'MDC_DIM_DEGC');
    metric(mdc('150456', 'MDC_PULS_OXIM_SAT_O2'), '1.1.1.1', v.spo2Percent, percent);
    metric(mdc('149530', 'MDC_PULS_OXIM_PULS_RATE'), '1.1.1.2', v.pulseBpm, perMin);
    metric(mdc('147842', 'MDC_ECG_HEART_RATE'), '1.2.1.1', v.heartRateBpm, perMin);
    metric(mdc('151562', 'MDC_RESP_RATE'), '1.2.1.2', v.respRatePerMin, mdc('264928', 'MDC_DIM_RESP_PER_MIN'));
    if (v.nibpSystolicMmHg !== null) {
      metric(mdc('150021', 'MDC_PRESS_BLD_NONINV_SYS'), '1.3.1.1', v.nibpSystolicMmHg, mmHg);
      metric(mdc('150022', 'MDC_PRESS_BLD_NONINV_DIA'), '1.3.1.2', v.nibpDiastolicMmHg, mmHg);
      metric(mdc('150023', 'MDC_PRESS_BLD_NONINV_MEAN'), '1.3.1.3', v.nibpMeanMmHg, mmHg);
    }
    const temp = injected === 'wrong-unit' || injected === 'fahrenheit' ? (v.tempCelsius ?? 37) : v.tempCelsius;
    if (temp !== null) {
      const fahrenheit = round1((temp * 9) / 5 + 32);
      const body = mdc('150364', 'MDC_TEMP_BODY');
      if (injected === 'wrong-unit') {
        // The firmware fault of HAZ-001: a Fahrenheit number labelled Celsius.
        metric(body, '1.4.1.1', fahrenheit, celsius);
      } else if (injected === 'fahrenheit') {
        metric(body, '1.4.1.1', fahrenheit, mdc('266560', 'MDC_DIM_FAHR'));
      } else {
        metric(body, '1.4.1.1', temp, celsius);
      }
    }
    if (injected === 'unknown-code') metric(mdc('148065', 'MDC_ECG_V_P_C_CNT'), '1.2.1.9', 2, perMin);
    return {
      sendingApplication: ['HWSIM_MONITOR', this.opts.equipmentId, 'EUI-64'],
      sendingFacility: 'HWSIM',
      time: ts,
      controlId,
      processingId: 'P',
      version: '2.6',
      acceptAckType: 'NE',
      applicationAckType: 'AL',
      characterSet: 'UNICODE UTF-8',
      profile: PROFILE,
      patient: { identifiers: [patient, '', '', 'HWSIM', 'MR'], name: ['SIMULATED', 'PATIENT'] },
      visit: { patientClass: 'I', location: ['WARD7', 'BED12', '1'] },
      orders: [{ setId: '1', serviceId: ['182777000', 'monitoring of patient', 'SCT'], observationTime: ts, observations: rows }],
    };
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

// ---- alerts (IHE PCD-04, ORU^R40) -----------------------------------------------------------

/** The fields of an ORU^R40 that come from the monitor and its patient, not from the alert. */
type AlertHeader = Pick<
  Pcd04Alert,
  'sendingApplication' | 'sendingFacility' | 'time' | 'controlId' | 'processingId' | 'version' | 'characterSet' | 'patient' | 'visit' | 'equipment'
>;

/** docs/interfaces/hl7-pcd01.md, "hw-sim", **Alerts (PCD-04)**: the SpO2 low limit alarm. */
const EVT_LO = ['196670', 'MDC_EVT_LO', 'MDC'] as const;
const SPO2 = ['150456', 'MDC_PULS_OXIM_SAT_O2', 'MDC'] as const;
const PERCENT = ['262688', 'MDC_DIM_PERCENT', 'MDC'] as const;
/** The alert-unknown-event fault's private event code (document: `9001^HWSIM_EVT_PRIVATE^99HWSIM`). */
const PRIVATE_EVENT = ['9001', 'HWSIM_EVT_PRIVATE', '99HWSIM'] as const;
/** The source of the private technical alert: the monitor itself (its MDS, as in the ORU^R01). */
const MDS = ['69965', 'MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS', 'MDC'] as const;
/**
 * OBX-7 of the SpO2 row: the alarm limits, `low-high` (HL7 v2.6 7.4.2.7 reference range, form
 * "lower limit-upper limit"). hw-sim's monitor has no SpO2 high limit: the upper bound is the
 * scale's end.
 */
const SPO2_SCALE_END_PERCENT = 100;

/** The alarm in progress: its instance, and whether the monitor still announces it. */
interface AlarmInProgress {
  instance: number;
  /** The message of its last ORU^R40 (a continue is due `alertContinueEvery` messages later). */
  lastSentIndex: number;
  /** False after alert-missing-end: the alarm goes on at the device, unannounced, with no end. */
  announced: boolean;
}

/**
 * The monitor's alert logic: compares its own SpO2 with its low limit at every message it sends
 * and announces the limit alarm as the document's hw-sim paragraph gives it: `start` at the first
 * message at or below the limit, `continue` every `alertContinueEvery` messages while it lasts, `end`
 * (state inactive) at the first message above it; plus the alert faults. A message without an SpO2
 * value (sensor off) leaves the alarm as it is: nothing starts, continues or ends on an unknown.
 * Deterministic: no randomness, only the values and the faults.
 */
class AlertAnnouncer {
  private readonly on: boolean;
  private readonly limitPercent: number;
  private readonly continueEvery: number;
  private alarm: AlarmInProgress | null = null;
  private nextInstance = 1;
  /** Private alerts started (alert-unknown-event) whose end goes with the next message sent. */
  private privateEnds: number[] = [];

  constructor(
    private readonly opts: Pick<Hl7MonitorOptions, 'seed' | 'alerts' | 'spo2LowLimitPercent' | 'alertContinueEvery'>,
    private readonly header: (controlId: string, nowMs: number) => AlertHeader,
  ) {
    this.on = opts.alerts ?? true;
    this.limitPercent = opts.spo2LowLimitPercent ?? DEFAULT_SPO2_LOW_LIMIT_PERCENT;
    this.continueEvery = opts.alertContinueEvery ?? DEFAULT_ALERT_CONTINUE_EVERY;
  }

  /** The ORU^R40 messages of message `index` (in order), given the monitor's SpO2 then. */
  next(index: number, nowMs: number, spo2Percent: number | null, injected: Hl7InjectKind | null): EmittedAlert[] {
    if (!this.on) return [];
    const out: EmittedAlert[] = [];
    const send = (a: Omit<AlertSpec, 'controlId'>): void => {
      out.push(this.build({ ...a, controlId: `HWSIM${this.opts.seed}-${index}-A${out.length + 1}` }, nowMs));
    };
    for (const instance of this.privateEnds.splice(0)) send(privateAlert(instance, 'end'));
    if (injected === 'alert-missing-end' && this.alarm !== null) this.alarm.announced = false;
    if (spo2Percent !== null) {
      const low = spo2Percent <= this.limitPercent;
      const alarm = this.alarm;
      if (alarm === null && low) {
        const instance = this.nextInstance++;
        this.alarm = { instance, lastSentIndex: index, announced: true };
        send(this.spo2Alert(instance, 'start', spo2Percent, null));
      } else if (alarm !== null && low) {
        if (alarm.announced && index - alarm.lastSentIndex >= this.continueEvery) {
          alarm.lastSentIndex = index;
          send(this.spo2Alert(alarm.instance, 'continue', spo2Percent, null));
        }
      } else if (alarm !== null) {
        if (alarm.announced) send(this.spo2Alert(alarm.instance, 'end', spo2Percent, null));
        this.alarm = null;
      }
    }
    switch (injected) {
      case 'alert-malformed':
        // An ORU^R40 without OBR-3: a receiver cannot tell which alert it is.
        send(this.spo2Alert(null, 'start', spo2Percent, 'alert-malformed'));
        break;
      case 'alert-unknown-event': {
        const instance = this.nextInstance++;
        send(privateAlert(instance, 'start'));
        this.privateEnds.push(instance);
        break;
      }
      case 'alert-end-without-start':
        // An instance number taken and never started: the end of an alert no one has seen.
        send(this.spo2Alert(this.nextInstance++, 'end', spo2Percent, 'alert-end-without-start'));
        break;
      default:
        break;
    }
    return out;
  }

  private spo2Alert(instance: number | null, phase: AlertPhase, spo2Percent: number | null, injected: Hl7AlertInjectKind | null): Omit<AlertSpec, 'controlId'> {
    return {
      instance,
      phase,
      event: EVT_LO,
      source: SPO2,
      priority: 'PM',
      type: 'SP',
      parameter: spo2Percent === null ? null : { value: String(spo2Percent), referenceRange: `${this.limitPercent}-${SPO2_SCALE_END_PERCENT}` },
      injected,
    };
  }

  private build(a: AlertSpec, nowMs: number): EmittedAlert {
    const h = this.header(a.controlId, nowMs);
    const state: AlarmState = a.phase === 'end' ? 'inactive' : 'active';
    const inactivationState: AlarmInactivationState = 'enabled';
    const instanceId = a.instance === null ? null : `HWSIM-ALERT-${a.instance}`;
    const bytes = frameMllp(
      encodePcd04({
        ...h,
        instanceId: instanceId === null ? null : [instanceId, 'HWSIM'],
        alertTime: h.time,
        event: a.event,
        source: a.source,
        priority: a.priority,
        type: a.type,
        ...(a.parameter === null ? {} : { parameter: { code: SPO2, value: a.parameter.value, unit: PERCENT, referenceRange: a.parameter.referenceRange } }),
        phase: a.phase,
        state,
        inactivationState,
      }),
    );
    return {
      controlId: a.controlId,
      instanceId,
      phase: a.phase,
      state,
      inactivationState,
      eventCode: a.event[0],
      eventName: a.event[1],
      sourceCode: a.source[0],
      priority: a.priority,
      type: a.type,
      injected: a.injected,
      bytes,
    };
  }
}

/** One alert to encode. */
interface AlertSpec {
  controlId: string;
  instance: number | null;
  phase: AlertPhase;
  event: readonly [string, string, string];
  source: readonly [string, string, string];
  priority: AlertPriority;
  type: AlertType;
  /** The SpO2 row (null: none, the private technical alert or no SpO2 value). */
  parameter: { value: string; referenceRange: string } | null;
  injected: Hl7AlertInjectKind | null;
}

/** The alert-unknown-event fault's alert: a private event code, technical, low priority. */
function privateAlert(instance: number, phase: AlertPhase): Omit<AlertSpec, 'controlId'> {
  return { instance, phase, event: PRIVATE_EVENT, source: MDS, priority: 'PL', type: 'ST', parameter: null, injected: 'alert-unknown-event' };
}
