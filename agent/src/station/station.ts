/**
 * The nurses' station view: subscribes to every bed, decodes vigil.v1 envelopes and
 * shows, per bed, the latest values with their age, the NEWS2 score, alarms, and
 * whether the gateway is online.
 *
 * The rule that matters most: a value is never shown as current once it is older
 * than its maximum age. Age is computed without trusting that the station's and the
 * gateway's wall clocks agree: the gateway states how old the value was when it sent
 * it (sent time minus receive time, both on its clock), the station adds how long
 * ago it received it (on its own clock), and takes the larger of that and the plain
 * wall-clock difference.
 *
 * Delivery (docs/interfaces/mqtt.md, durable-queue.md): the gateway delivers at least
 * once, so the station drops duplicates by message id (exactly once in effect). A
 * message flagged backfill (delivered late from the gateway's queue) goes into the
 * bed's history; it never raises an alarm and is never shown as a current value. It
 * may only replace what is shown when it is newer, and for an alarm only to clear it.
 * Sequence numbers are tracked per gateway run (boot id): a number that never arrives
 * is a lost message; one that arrives late fills its gap.
 */
import type { EnvelopeMsg, ObservationMsg, EarlyWarningScoreMsg, AlarmMsg, GatewayStatusMsg } from '../proto/codec';
import { decodeEnvelopeChecked, payloadKind } from '../proto/codec';
import type { ReceiptBook } from './receipts';
import { parseTopic } from '../publish/topics';
import { isDeviceAlarm } from '../safety/conditions';

interface Received<T> {
  msg: T;
  envelope: EnvelopeMsg;
  stationReceivedMs: number;
}

/** Sequence numbers of one gateway run: the highest seen and the ranges still missing below it. */
interface BootSequence {
  last: number;
  missing: Array<[from: number, to: number]>;
  /** Distinct numbered messages received (each message id once), whatever their order. */
  received: number;
}

/** A message that arrived as backfill (history), newest last. */
export interface HistoryItem {
  kind: string;
  topic: string;
  sequence: number;
  /** The gateway's time for the content (receive time of a value, computation of a score, change of an alarm). */
  wallMs: number;
  summary: string;
}

/** Message ids remembered for de-duplication, at most (oldest forgotten first). */
export const DEDUP_WINDOW = 100_000;
/** Backfill history kept per bed, at most. */
export const HISTORY_LIMIT = 500;
/** Gateway runs tracked per bed for sequence gaps. */
const BOOTS_TRACKED = 4;

export interface BedState {
  key: string;
  gatewayId: string;
  status: Received<GatewayStatusMsg> | null;
  observations: Map<string, Received<ObservationMsg>>;
  score: Received<EarlyWarningScoreMsg> | null;
  alarms: Map<string, Received<AlarmMsg>>;
  /** Latest change seen per alarm id (live or backfill), to order clears against raises. */
  alarmChangedWallMs: Map<string, number>;
  boots: Map<string, BootSequence>;
  duplicates: number;
  backfillReceived: number;
  history: HistoryItem[];
}

export type GatewayLiveness = 'online' | 'offline' | 'lost' | 'unknown';

/** Result statuses whose value the station shows (marked when not final). */
const SHOWN_STATUSES = new Set([
  'RESULT_STATUS_FINAL',
  'RESULT_STATUS_CORRECTED',
  'RESULT_STATUS_UNVERIFIED',
  'RESULT_STATUS_PRELIMINARY',
]);

export interface ValueView {
  parameter: string;
  /** The interface it came from, when the bed has this parameter from more than one source. */
  source: string;
  /** The interface it came from (the configured name, e.g. `spo2`), always: the ward board names the source device. */
  interfaceId: string;
  /** The driver that read it (e.g. `masimo-ascii`): the kind of device. */
  driver: string;
  value: number | null;
  unit: string;
  ageMs: number;
  current: boolean;
  status: string;
  quality: string[];
  reason: string;
  /** What is shown came late from the gateway's queue: history, never current. */
  backfill: boolean;
  /**
   * Data has stopped: nothing at all (no value, no withdrawal) arrived for this parameter
   * within its maximum age. Distinct from a value the gateway withdrew with a reason.
   */
  stopped: boolean;
  /** Manual observation: who entered it at the station. */
  enteredBy: string;
  /** Coded value of a manual observation (e.g. ACVPU "A"). */
  valueCode: string;
}

export interface BedView {
  bed: string;
  gatewayId: string;
  gateway: GatewayLiveness;
  gatewayReason: string;
  heartbeatAgeMs: number | null;
  values: ValueView[];
  score: {
    total: number;
    riskLevel: string;
    complete: boolean;
    missing: string[];
    ageMs: number;
    current: boolean;
    backfill: boolean;
    spo2Scale: number;
    manualInputs: Array<{ field: string; valueCode: string; enteredBy: string }>;
  } | null;
  alarms: Array<{
    alarmId: string;
    priority: string;
    condition: string;
    /** `device`: the bedside device's own alarm, relayed (shown with the device as its source); `gateway`: the gateway's. */
    origin: 'device' | 'gateway';
    /** The alarm's source as the gateway names it (the interface id, or `gateway`). */
    source: string;
    kind: string;
    detail: string;
    state: string;
    acknowledgedBy: string;
    silencedUntilWallMs: number;
  }>;
  /** Gaps in the sequence numbers still open (messages not received, maybe lost). */
  sequenceGaps: number;
  /** How many numbered messages those gaps hold. */
  missingMessages: number;
  /** Per gateway run (the last few): the highest number seen and how many distinct numbered messages arrived. */
  runs: Array<{ bootId: string; highest: number; received: number }>;
  duplicates: number;
  backfill: { received: number; oldestWallMs: number | null; newestWallMs: number | null; recent: HistoryItem[] };
}

const int = (v: number | string): number => (typeof v === 'number' ? v : Number(v));

/** Milliseconds since the gateway received the value, clock-skew tolerant (see file header). */
export function valueAgeMs(envelope: EnvelopeMsg, gatewayReceiveWallMs: number, stationReceivedMs: number, nowMs: number): number {
  const ageAtSend = Math.max(0, int(envelope.sentWallMs) - gatewayReceiveWallMs);
  const sinceReceipt = Math.max(0, nowMs - stationReceivedMs);
  return Math.max(ageAtSend + sinceReceipt, nowMs - gatewayReceiveWallMs);
}

/** Station state: pure, fed with decoded messages, rendered on demand. */
export class StationModel {
  readonly beds = new Map<string, BedState>();
  undecodable = 0;
  duplicates = 0;
  unknownEnums = 0; // enum values this station does not know (a newer gateway): shown as "unknown"
  private readonly seenIds = new Map<string, true>();

  /** `receipts`: told of every numbered message decoded, duplicates too (station/receipts.ts). */
  constructor(private readonly receipts?: ReceiptBook) {}

  /** Applies one MQTT message; returns false (and counts) when it cannot be used. */
  apply(topic: string, payload: Uint8Array, nowMs: number): boolean {
    const address = parseTopic(topic);
    // Commands and receipts go to gateways: not gateway messages, not for the view.
    if (!address || address.kind === 'cmd' || address.kind === 'receipt') return false;
    if (payload.length === 0) return false; // a cleared retained message
    let envelope: EnvelopeMsg;
    try {
      const checked = decodeEnvelopeChecked(payload);
      envelope = checked.msg;
      this.unknownEnums += checked.unknownEnums.length;
    } catch {
      this.undecodable += 1;
      return false;
    }
    const bed = this.bedFor(`${address.siteId}/${address.wardId}/${address.bedId}`, envelope.gatewayId);
    this.receipts?.note(address, envelope.gatewayId, envelope.bootId, int(envelope.sequence), nowMs);
    if (this.isDuplicate(bed, envelope.messageId)) return false;
    bed.gatewayId = envelope.gatewayId;
    trackSequence(bed, envelope.bootId, int(envelope.sequence));
    const backfill = envelope.backfill === true;
    const kind = payloadKind(envelope);
    if (backfill && kind !== null) {
      bed.backfillReceived += 1;
      bed.history.push(historyItem(topic, envelope, kind));
      if (bed.history.length > HISTORY_LIMIT) bed.history.shift();
    }
    if (applyPayload(bed, envelope, kind, nowMs)) return true;
    this.undecodable += 1;
    return false;
  }

  view(nowMs: number): BedView[] {
    return [...this.beds.values()]
      .sort((a, b) => a.key.localeCompare(b.key))
      .map((bed) => this.bedView(bed, nowMs));
  }

  /** The bed at `key`, created on its first message. */
  private bedFor(key: string, gatewayId: string): BedState {
    let bed = this.beds.get(key);
    if (!bed) {
      bed = {
        key,
        gatewayId,
        status: null,
        observations: new Map(),
        score: null,
        alarms: new Map(),
        alarmChangedWallMs: new Map(),
        boots: new Map(),
        duplicates: 0,
        backfillReceived: 0,
        history: [],
      };
      this.beds.set(key, bed);
    }
    return bed;
  }

  /**
   * At least once on the wire, exactly once in effect: a message id seen before is a
   * duplicate (counted, dropped); a new one is remembered (the last `DEDUP_WINDOW`).
   */
  private isDuplicate(bed: BedState, messageId: string): boolean {
    if (!messageId) return false;
    if (this.seenIds.has(messageId)) {
      this.duplicates += 1;
      bed.duplicates += 1;
      return true;
    }
    this.seenIds.set(messageId, true);
    if (this.seenIds.size > DEDUP_WINDOW) this.seenIds.delete(this.seenIds.keys().next().value as string);
    return false;
  }

  private bedView(bed: BedState, nowMs: number): BedView {
    const liveness = gatewayLiveness(bed, nowMs);
    const gatewayUp = liveness.gateway === 'online';
    const history = bed.history;
    const boots = [...bed.boots.values()];
    return {
      bed: bed.key,
      gatewayId: bed.gatewayId,
      ...liveness,
      values: valueViews(bed, gatewayUp, nowMs),
      score: scoreView(bed, gatewayUp, nowMs),
      alarms: [...bed.alarms.values()].map(({ msg }) => alarmView(msg)),
      sequenceGaps: boots.reduce((n, b) => n + b.missing.length, 0),
      missingMessages: boots.reduce((n, b) => n + b.missing.reduce((m, [from, to]) => m + to - from + 1, 0), 0),
      runs: [...bed.boots].map(([bootId, b]) => ({ bootId, highest: b.last, received: b.received })),
      duplicates: bed.duplicates,
      backfill: {
        received: bed.backfillReceived,
        oldestWallMs: history.length > 0 ? Math.min(...history.map((h) => h.wallMs)) : null,
        newestWallMs: history.length > 0 ? Math.max(...history.map((h) => h.wallMs)) : null,
        recent: history.slice(-20),
      },
    };
  }
}

/** When a message arrived at the station, with its envelope. */
type Stamp = Omit<Received<unknown>, 'msg'>;

/** Applies a decoded message of `kind` to the bed; false when its kind is unknown. */
function applyPayload(bed: BedState, envelope: EnvelopeMsg, kind: ReturnType<typeof payloadKind>, nowMs: number): boolean {
  const backfill = envelope.backfill === true;
  const stamp: Stamp = { envelope, stationReceivedMs: nowMs };
  switch (kind) {
    case 'observation':
      if (envelope.observation) applyObservation(bed, envelope.observation, backfill, stamp);
      return true;
    case 'score':
      if (envelope.score) {
        if (!backfill || !bed.score || int(bed.score.msg.computedWallMs) <= int(envelope.score.computedWallMs)) {
          bed.score = { msg: envelope.score, ...stamp };
        }
      }
      return true;
    case 'alarm':
      if (envelope.alarm) applyAlarm(bed, envelope.alarm, backfill, stamp);
      return true;
    case 'status':
      if (envelope.status && !backfill) bed.status = { msg: envelope.status, ...stamp };
      return true;
    case 'commandResult':
      return true; // answers to commands: read by the command sender (commands/station.ts)
    default:
      return false;
  }
}

function applyObservation(bed: BedState, o: ObservationMsg, backfill: boolean, stamp: Stamp): void {
  // One line per parameter and source: the monitor's heart rate and the patch's are
  // two readings, and neither may hide the other's state.
  const key = `${o.parameter}@${o.source?.interfaceId ?? ''}`;
  const shown = bed.observations.get(key);
  // Live messages arrive in order; a late one only replaces an older one.
  if (!backfill || !shown || int(shown.msg.receiveWallMs) <= int(o.receiveWallMs)) {
    bed.observations.set(key, { msg: o, ...stamp });
  }
}

function applyAlarm(bed: BedState, a: AlarmMsg, backfill: boolean, stamp: Stamp): void {
  const changed = int(a.changedWallMs);
  const latest = bed.alarmChangedWallMs.get(a.alarmId) ?? 0;
  if (backfill) {
    // Never raise from backfill; a late clear applies only when it is the newest news.
    if (a.state === 'ALARM_STATE_CLEARED' && changed >= latest) bed.alarms.delete(a.alarmId);
  } else if (a.state === 'ALARM_STATE_CLEARED') bed.alarms.delete(a.alarmId);
  else bed.alarms.set(a.alarmId, { msg: a, ...stamp });
  bed.alarmChangedWallMs.set(a.alarmId, Math.max(latest, changed));
}

/** Whether the bed's gateway is online, from its last status and the age of its heartbeat. */
function gatewayLiveness(bed: BedState, nowMs: number): Pick<BedView, 'gateway' | 'gatewayReason' | 'heartbeatAgeMs'> {
  if (!bed.status) return { gateway: 'unknown', gatewayReason: '', heartbeatAgeMs: null };
  const s = bed.status.msg;
  const heartbeatAgeMs = nowMs - bed.status.stationReceivedMs;
  if (!s.online) return { gateway: 'offline', gatewayReason: s.reason, heartbeatAgeMs };
  if (heartbeatAgeMs > 3 * (s.heartbeatIntervalMs || 5000)) return { gateway: 'lost', gatewayReason: 'heartbeats stopped', heartbeatAgeMs };
  return { gateway: 'online', gatewayReason: s.reason, heartbeatAgeMs };
}

/** The bed's values, by parameter then source; current only while the gateway is up and the value young. */
function valueViews(bed: BedState, gatewayUp: boolean, nowMs: number): ValueView[] {
  const sources = new Map<string, number>();
  for (const { msg } of bed.observations.values()) sources.set(msg.parameter, (sources.get(msg.parameter) ?? 0) + 1);
  return [...bed.observations.values()]
    .sort((a, b) => a.msg.parameter.localeCompare(b.msg.parameter) || (a.msg.source?.interfaceId ?? '').localeCompare(b.msg.source?.interfaceId ?? ''))
    .map(({ msg, envelope, stationReceivedMs }) => {
      const ageMs = valueAgeMs(envelope, int(msg.receiveWallMs), stationReceivedMs, nowMs);
      // Shown as a value: final and corrected, and the device's own unverified or
      // preliminary values marked as such (a monitor's live values arrive unverified).
      // Cannot-obtain, deleted and withdrawn values are never shown as a number.
      const usable = msg.hasValue && SHOWN_STATUSES.has(msg.status);
      const maxAgeMs = msg.maxAgeMs || 5000;
      const backfill = envelope.backfill === true;
      return {
        parameter: msg.parameter,
        source: (sources.get(msg.parameter) ?? 0) > 1 ? (msg.source?.interfaceId ?? '') : '',
        interfaceId: msg.source?.interfaceId ?? '',
        driver: msg.source?.driver ?? '',
        value: msg.hasValue ? msg.value : null,
        unit: msg.unitUcum,
        ageMs,
        current: usable && gatewayUp && !backfill && ageMs <= maxAgeMs,
        status: msg.status.replace('RESULT_STATUS_', '').toLowerCase(),
        quality: msg.quality.map((q) => q.replace('QUALITY_FLAG_', '').toLowerCase()),
        reason: msg.unavailableReason,
        backfill,
        stopped: ageMs > maxAgeMs,
        enteredBy: msg.manual?.enteredBy ?? '',
        valueCode: msg.valueCode ?? '',
      };
    });
}

/** The bed's NEWS2 score, current only while the gateway is up and the score at most 10 s old. */
function scoreView(bed: BedState, gatewayUp: boolean, nowMs: number): BedView['score'] {
  if (!bed.score) return null;
  const { msg, envelope, stationReceivedMs } = bed.score;
  const ageMs = valueAgeMs(envelope, int(msg.computedWallMs), stationReceivedMs, nowMs);
  return {
    total: msg.total,
    riskLevel: msg.riskLevel.replace('RISK_LEVEL_', '').toLowerCase().replace('_', '-'),
    complete: msg.complete,
    missing: msg.missing,
    ageMs,
    current: gatewayUp && envelope.backfill !== true && ageMs <= 10_000,
    backfill: envelope.backfill === true,
    spo2Scale: msg.spo2Scale,
    manualInputs: (msg.inputs ?? [])
      .filter((i) => i.interfaceId === 'manual')
      .map((i) => ({ field: i.field, valueCode: i.valueCode ?? '', enteredBy: i.enteredBy ?? '' })),
  };
}

function alarmView(msg: AlarmMsg): BedView['alarms'][number] {
  return {
    alarmId: msg.alarmId,
    priority: msg.priority.replace('ALARM_PRIORITY_', '').toLowerCase(),
    condition: msg.condition,
    origin: isDeviceAlarm(msg.condition ?? '') ? 'device' : 'gateway',
    source: msg.source ?? '',
    kind: msg.kind.replace('ALARM_KIND_', '').toLowerCase(),
    detail: msg.detail,
    state: msg.state.replace('ALARM_STATE_', '').toLowerCase(),
    acknowledgedBy: msg.acknowledgedBy ?? '',
    silencedUntilWallMs: int(msg.silencedUntilWallMs ?? 0),
  };
}

/** Records a sequence number of a gateway run; 0 (state messages) is outside the numbered stream. */
function trackSequence(bed: BedState, bootId: string, seq: number): void {
  if (seq <= 0) return;
  let boot = bed.boots.get(bootId);
  if (!boot) {
    boot = { last: 0, missing: [], received: 0 };
    bed.boots.set(bootId, boot);
    if (bed.boots.size > BOOTS_TRACKED) bed.boots.delete(bed.boots.keys().next().value as string);
  }
  boot.received += 1;
  if (boot.last === 0) {
    // The first number seen of a run: anything below it was before this station listened.
    boot.last = seq;
    return;
  }
  if (seq > boot.last) {
    if (seq > boot.last + 1) boot.missing.push([boot.last + 1, seq - 1]);
    boot.last = seq;
    return;
  }
  // A late arrival (backfill, or overtaken): fill its gap.
  const i = boot.missing.findIndex(([from, to]) => seq >= from && seq <= to);
  if (i < 0) return;
  const [from, to] = boot.missing[i] as [number, number];
  const parts: Array<[number, number]> = [];
  if (from <= seq - 1) parts.push([from, seq - 1]);
  if (seq + 1 <= to) parts.push([seq + 1, to]);
  boot.missing.splice(i, 1, ...parts);
}

function historyItem(topic: string, envelope: EnvelopeMsg, kind: string): HistoryItem {
  let wallMs = int(envelope.sentWallMs);
  let summary = kind;
  if (envelope.observation) {
    const o = envelope.observation;
    wallMs = int(o.receiveWallMs);
    summary = o.hasValue ? `${o.parameter} ${o.valueCode || o.value} ${o.unitUcum}`.trim() : `${o.parameter} unavailable: ${o.unavailableReason}`;
  } else if (envelope.score) {
    wallMs = int(envelope.score.computedWallMs);
    summary = `NEWS2 ${envelope.score.total}${envelope.score.complete ? '' : ' (incomplete)'}`;
  } else if (envelope.alarm) {
    wallMs = int(envelope.alarm.changedWallMs);
    summary = `alarm ${envelope.alarm.alarmId} ${envelope.alarm.state.replace('ALARM_STATE_', '').toLowerCase()}`;
  }
  return { kind, topic, sequence: int(envelope.sequence), wallMs, summary };
}

export { renderStation } from './render';
