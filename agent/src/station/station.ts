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
import type { Reported } from './changes';
import { bedChange, DIRTY_ALARMS, DIRTY_HISTORY, DIRTY_SCORE, DIRTY_SEQUENCE, DIRTY_STATUS, DIRTY_VALUE_SET } from './changes';
import { bedView, int } from './views';

export interface Received<T> {
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
  /** Sources per parameter (a parameter from more than one source names its source on the board). */
  sourceCount: Map<string, number>;
  /** Parts changed by messages since the last `changes()`: DIRTY_* bits, and the keys of the values. */
  dirty: number;
  dirtyValues: Set<string>;
  /** What the last `changes()` reported of what moves with time alone; undefined: nothing yet (the whole view is due). */
  reported: Reported | undefined;
  /**
   * Station wall time before which no value of the bed can stop being current by time alone (the
   * earliest value's age reaching its maximum); until then `changes()` looks only at the values
   * messages changed. Conservative: a later message only makes the real moment later.
   */
  nextValueFlipMs: number;
}

/**
 * What changed in a bed's view, other than by ageing, since the previous `changes()`
 * (docs/interfaces/station-web.md, partial `ward` events): `bed` and only the changed parts.
 * `values` holds only the changed values (merged by `parameter@interfaceId`); `runs` and
 * `duplicates` move with every message and come only with the whole view.
 */
export type BedChange = { bed: string } & Partial<Omit<BedView, 'bed' | 'values'>> & { values?: ValueChange[] };

/**
 * A value in a partial event: whole, or, when it looks as it last did (only its number and age
 * changed), `parameter`, `interfaceId`, `value` and `ageMs` alone, merged over the value held.
 */
export type ValueChange = ValueView | Pick<ValueView, 'parameter' | 'interfaceId' | 'value' | 'ageMs'>;

export type GatewayLiveness = 'online' | 'offline' | 'lost' | 'unknown';

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

/** Station state: pure, fed with decoded messages, rendered on demand. */
export class StationModel {
  readonly beds = new Map<string, BedState>();
  undecodable = 0;
  duplicates = 0;
  unknownEnums = 0; // enum values this station does not know (a newer gateway): shown as "unknown"
  /** Message ids seen (the last DEDUP_WINDOW), and the same ids in arrival order, a ring: the oldest is overwritten. */
  private readonly seenIds = new Set<string>();
  private readonly seenRing: string[] = [];
  private seenNext = 0;

  /** `receipts`: told of every numbered message decoded, duplicates too (station/receipts.ts). */
  constructor(private readonly receipts?: ReceiptBook) {}

  /** Applies one MQTT message; returns false (and counts) when it cannot be used. */
  apply(topic: string, payload: Uint8Array, nowMs: number, address = parseTopic(topic)): boolean {
    // Commands and receipts go to gateways: not gateway messages, not for the view.
    if (!address || address.kind === 'cmd' || address.kind === 'receipt') return false;
    if (payload.length === 0) return false; // a cleared retained message
    let envelope: EnvelopeMsg;
    try {
      // 64-bit times and sequence numbers as numbers: the model does arithmetic on them, per message and per event.
      const checked = decodeEnvelopeChecked(payload, 'number');
      envelope = checked.msg;
      this.unknownEnums += checked.unknownEnums.length;
    } catch {
      this.undecodable += 1;
      return false;
    }
    const bed = this.bedFor(`${address.siteId}/${address.wardId}/${address.bedId}`, envelope.gatewayId);
    this.receipts?.note(address, envelope.gatewayId, envelope.bootId, int(envelope.sequence), nowMs);
    if (this.isDuplicate(bed, envelope.messageId)) return false;
    if (bed.gatewayId !== envelope.gatewayId) bed.dirty |= DIRTY_STATUS;
    bed.gatewayId = envelope.gatewayId;
    if (trackSequence(bed, envelope.bootId, int(envelope.sequence))) bed.dirty |= DIRTY_SEQUENCE;
    const backfill = envelope.backfill === true;
    const kind = payloadKind(envelope);
    if (backfill && kind !== null) {
      bed.backfillReceived += 1;
      bed.history.push(historyItem(topic, envelope, kind));
      if (bed.history.length > HISTORY_LIMIT) bed.history.shift();
      bed.dirty |= DIRTY_HISTORY;
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

  /** One bed's whole view, or null for a bed never heard from. */
  viewOf(key: string, nowMs: number): BedView | null {
    const bed = this.beds.get(key);
    return bed ? bedView(bed, nowMs) : null;
  }

  /**
   * What changed in the view since the previous call, other than by ageing: per bed only the
   * parts changed by a message, or by time alone (a value or score that stopped being current, a
   * gateway that went lost); a bed not reported before comes whole. Costs what changed, not the
   * ward: 200 beds at 1 Hz call this several times a second (docs/interfaces/station-web.md).
   */
  changes(nowMs: number): BedChange[] {
    const out: BedChange[] = [];
    for (const bed of this.beds.values()) {
      const change = bedChange(bed, nowMs);
      bed.dirty = 0;
      bed.dirtyValues.clear();
      if (change) out.push(change);
    }
    return out;
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
        sourceCount: new Map(),
        dirty: 0,
        dirtyValues: new Set(),
        reported: undefined,
        nextValueFlipMs: 0,
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
    const oldest = this.seenRing[this.seenNext];
    if (oldest !== undefined) this.seenIds.delete(oldest);
    this.seenRing[this.seenNext] = messageId;
    this.seenNext = (this.seenNext + 1) % DEDUP_WINDOW;
    this.seenIds.add(messageId);
    return false;
  }

  private bedView(bed: BedState, nowMs: number): BedView {
    return bedView(bed, nowMs);
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
          bed.dirty |= DIRTY_SCORE;
        }
      }
      return true;
    case 'alarm':
      if (envelope.alarm) applyAlarm(bed, envelope.alarm, backfill, stamp);
      return true;
    case 'status':
      if (envelope.status && !backfill) {
        bed.status = { msg: envelope.status, ...stamp };
        bed.dirty |= DIRTY_STATUS;
      }
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
    bed.dirtyValues.add(key);
    if (!shown) {
      bed.sourceCount.set(o.parameter, (bed.sourceCount.get(o.parameter) ?? 0) + 1);
      bed.dirty |= DIRTY_VALUE_SET;
    }
  }
}

function applyAlarm(bed: BedState, a: AlarmMsg, backfill: boolean, stamp: Stamp): void {
  const changed = int(a.changedWallMs);
  const latest = bed.alarmChangedWallMs.get(a.alarmId) ?? 0;
  if (backfill) {
    // Never raise from backfill; a late clear applies only when it is the newest news.
    if (a.state === 'ALARM_STATE_CLEARED' && changed >= latest && bed.alarms.delete(a.alarmId)) bed.dirty |= DIRTY_ALARMS;
  } else {
    if (a.state === 'ALARM_STATE_CLEARED') bed.alarms.delete(a.alarmId);
    else bed.alarms.set(a.alarmId, { msg: a, ...stamp });
    bed.dirty |= DIRTY_ALARMS;
  }
  bed.alarmChangedWallMs.set(a.alarmId, Math.max(latest, changed));
}

/**
 * Records a sequence number of a gateway run; 0 (state messages) is outside the numbered stream.
 * True when the gaps changed (opened, filled, or a run forgotten).
 */
function trackSequence(bed: BedState, bootId: string, seq: number): boolean {
  if (seq <= 0) return false;
  let boot = bed.boots.get(bootId);
  let forgotGaps = false;
  if (!boot) {
    boot = { last: 0, missing: [], received: 0 };
    bed.boots.set(bootId, boot);
    if (bed.boots.size > BOOTS_TRACKED) {
      const oldest = bed.boots.keys().next().value as string;
      forgotGaps = (bed.boots.get(oldest) as BootSequence).missing.length > 0;
      bed.boots.delete(oldest);
    }
  }
  boot.received += 1;
  if (boot.last === 0) {
    // The first number seen of a run: anything below it was before this station listened.
    boot.last = seq;
    return forgotGaps;
  }
  if (seq > boot.last) {
    const gap = seq > boot.last + 1;
    if (gap) boot.missing.push([boot.last + 1, seq - 1]);
    boot.last = seq;
    return gap || forgotGaps;
  }
  // A late arrival (backfill, or overtaken): fill its gap.
  const i = boot.missing.findIndex(([from, to]) => seq >= from && seq <= to);
  if (i < 0) return forgotGaps;
  const [from, to] = boot.missing[i] as [number, number];
  const parts: Array<[number, number]> = [];
  if (from <= seq - 1) parts.push([from, seq - 1]);
  if (seq + 1 <= to) parts.push([seq + 1, to]);
  boot.missing.splice(i, 1, ...parts);
  return true;
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
export { valueAgeMs } from './views';
