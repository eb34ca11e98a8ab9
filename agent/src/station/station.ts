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

/** Parts of a bed's view that a message changed (BedState.dirty). */
const DIRTY_STATUS = 1;
const DIRTY_VALUE_SET = 2;
const DIRTY_SCORE = 4;
const DIRTY_ALARMS = 8;
const DIRTY_HISTORY = 16;
const DIRTY_SEQUENCE = 32;

/** The time-dependent part of a bed's view as last reported: a change of one is news, ageing alone is not. */
interface Reported {
  gateway: GatewayLiveness;
  gatewayReason: string;
  /** Per value key: bit 1 current, bit 2 stopped. */
  values: Map<string, number>;
  /** Per value key: its look (everything but the number and the age) as last reported: unchanged, only those two are sent. */
  looks: Map<string, string>;
  scoreCurrent: boolean | null;
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

function bedView(bed: BedState, nowMs: number): BedView {
  const liveness = gatewayLiveness(bed, nowMs);
  const gatewayUp = liveness.gateway === 'online';
  return {
    bed: bed.key,
    gatewayId: bed.gatewayId,
    ...liveness,
    values: valueViews(bed, gatewayUp, nowMs),
    score: scoreView(bed, gatewayUp, nowMs),
    alarms: alarmViews(bed),
    ...sequenceView(bed),
    runs: [...bed.boots].map(([bootId, b]) => ({ bootId, highest: b.last, received: b.received })),
    duplicates: bed.duplicates,
    backfill: backfillView(bed),
  };
}

/** The bed's changes since it was last reported (StationModel.changes), and the report updated; null when none. */
function bedChange(bed: BedState, nowMs: number): BedChange | null {
  const reported = bed.reported;
  if (!reported) {
    const view = bedView(bed, nowMs);
    bed.reported = {
      gateway: view.gateway,
      gatewayReason: view.gatewayReason,
      values: new Map(view.values.map((v) => [keyOf(v.parameter, v.interfaceId), flagBits(v)])),
      looks: new Map(view.values.map((v) => [keyOf(v.parameter, v.interfaceId), lookOf(v)])),
      scoreCurrent: view.score ? view.score.current : null,
    };
    return view;
  }
  const change: BedChange = { bed: bed.key };
  let changed = false;
  const liveness = gatewayLiveness(bed, nowMs);
  const gatewayUp = liveness.gateway === 'online';
  const upBefore = reported.gateway === 'online';
  if ((bed.dirty & DIRTY_STATUS) !== 0 || liveness.gateway !== reported.gateway || liveness.gatewayReason !== reported.gatewayReason) {
    Object.assign(change, { gatewayId: bed.gatewayId }, liveness);
    reported.gateway = liveness.gateway;
    reported.gatewayReason = liveness.gatewayReason;
    changed = true;
  }
  // Every value when the set of values changed (a new source renames the others) or the gateway
  // went up or down (which decides `current` for all); else the values a message or time changed.
  const all = (bed.dirty & DIRTY_VALUE_SET) !== 0 || gatewayUp !== upBefore;
  const values: ValueChange[] = [];
  const dirtyValues = bed.dirtyValues;
  /** Reports the value if it changed; returns when time alone could next change it (valueBits). */
  const check = (received: Received<ObservationMsg>, key: string): number => {
    const bits = valueBits(received, gatewayUp, nowMs);
    if (all || dirtyValues.has(key) || reported.values.get(key) !== bits) {
      const view = valueView(bed, received, valueFlags(received, gatewayUp, nowMs));
      const look = lookOf(view);
      // A new reading that looks as the last one did (the usual case at 1 Hz): its number and age only.
      values.push(reported.looks.get(key) === look ? { parameter: view.parameter, interfaceId: view.interfaceId, value: view.value, ageMs: view.ageMs } : view);
      reported.values.set(key, bits);
      reported.looks.set(key, look);
    }
    return flipAtMs;
  };
  if (all || nowMs >= bed.nextValueFlipMs) {
    let next = Infinity;
    bed.observations.forEach((received, key) => {
      next = Math.min(next, check(received, key));
    });
    bed.nextValueFlipMs = next;
  } else {
    for (const key of dirtyValues) {
      const received = bed.observations.get(key);
      if (received) bed.nextValueFlipMs = Math.min(bed.nextValueFlipMs, check(received, key));
    }
  }
  if (values.length > 0) {
    change.values = values;
    changed = true;
  }
  const scoreCurrent = bed.score ? scoreIsCurrent(bed.score, gatewayUp, nowMs) : null;
  if ((bed.dirty & DIRTY_SCORE) !== 0 || scoreCurrent !== reported.scoreCurrent) {
    change.score = scoreView(bed, gatewayUp, nowMs);
    reported.scoreCurrent = scoreCurrent;
    changed = true;
  }
  if ((bed.dirty & DIRTY_ALARMS) !== 0) {
    change.alarms = alarmViews(bed);
    changed = true;
  }
  if ((bed.dirty & DIRTY_SEQUENCE) !== 0) {
    Object.assign(change, sequenceView(bed));
    changed = true;
  }
  if ((bed.dirty & DIRTY_HISTORY) !== 0) {
    change.backfill = backfillView(bed);
    changed = true;
  }
  return changed ? change : null;
}

const keyOf = (parameter: string, interfaceId: string): string => `${parameter}@${interfaceId}`;

/** A value's look: all it shows but its number and its age. */
function lookOf(v: ValueView): string {
  return JSON.stringify([v.source, v.driver, v.unit, v.current, v.status, v.quality, v.reason, v.backfill, v.stopped, v.enteredBy, v.valueCode]);
}
const flagBits = (v: { current: boolean; stopped: boolean }): number => (v.current ? 1 : 0) | (v.stopped ? 2 : 0);

function alarmViews(bed: BedState): BedView['alarms'] {
  return [...bed.alarms.values()].map(({ msg }) => alarmView(msg));
}

function sequenceView(bed: BedState): Pick<BedView, 'sequenceGaps' | 'missingMessages'> {
  let sequenceGaps = 0;
  let missingMessages = 0;
  for (const b of bed.boots.values()) {
    sequenceGaps += b.missing.length;
    for (const [from, to] of b.missing) missingMessages += to - from + 1;
  }
  return { sequenceGaps, missingMessages };
}

function backfillView(bed: BedState): BedView['backfill'] {
  const history = bed.history;
  let oldest = Infinity;
  let newest = -Infinity;
  for (const h of history) {
    oldest = Math.min(oldest, h.wallMs);
    newest = Math.max(newest, h.wallMs);
  }
  return {
    received: bed.backfillReceived,
    oldestWallMs: history.length > 0 ? oldest : null,
    newestWallMs: history.length > 0 ? newest : null,
    recent: history.slice(-20),
  };
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
  return [...bed.observations.values()]
    .sort((a, b) => a.msg.parameter.localeCompare(b.msg.parameter) || (a.msg.source?.interfaceId ?? '').localeCompare(b.msg.source?.interfaceId ?? ''))
    .map((received) => valueView(bed, received, valueFlags(received, gatewayUp, nowMs)));
}

interface ValueFlags {
  ageMs: number;
  current: boolean;
  stopped: boolean;
}

/** A value's age and whether it is current: what moves with time alone. */
function valueFlags({ msg, envelope, stationReceivedMs }: Received<ObservationMsg>, gatewayUp: boolean, nowMs: number): ValueFlags {
  const ageMs = valueAgeMs(envelope, int(msg.receiveWallMs), stationReceivedMs, nowMs);
  // Shown as a value: final and corrected, and the device's own unverified or
  // preliminary values marked as such (a monitor's live values arrive unverified).
  // Cannot-obtain, deleted and withdrawn values are never shown as a number.
  const usable = msg.hasValue && SHOWN_STATUSES.has(msg.status);
  const maxAgeMs = msg.maxAgeMs || 5000;
  return { ageMs, current: usable && gatewayUp && envelope.backfill !== true && ageMs <= maxAgeMs, stopped: ageMs > maxAgeMs };
}

/** When time alone next changes the value valueBits last looked at (its age passing its maximum), else Infinity. */
let flipAtMs = Infinity;

/**
 * valueFlags as bits (1 current, 2 stopped), without allocating, and in flipAtMs when they next
 * change by time alone: an age grows by at most the time that passes (valueAgeMs: both of its
 * terms grow at that rate), so a value is not stopped before its maximum age minus its age from now.
 */
function valueBits(received: Received<ObservationMsg>, gatewayUp: boolean, nowMs: number): number {
  const { msg, envelope, stationReceivedMs } = received;
  const ageMs = valueAgeMs(envelope, int(msg.receiveWallMs), stationReceivedMs, nowMs);
  const maxAgeMs = msg.maxAgeMs || 5000;
  flipAtMs = ageMs <= maxAgeMs ? nowMs + (maxAgeMs - ageMs) + 1 : Infinity;
  const current = msg.hasValue && SHOWN_STATUSES.has(msg.status) && gatewayUp && envelope.backfill !== true && ageMs <= maxAgeMs;
  return (current ? 1 : 0) | (ageMs > maxAgeMs ? 2 : 0);
}

function valueView(bed: BedState, { msg, envelope }: Received<ObservationMsg>, flags: ValueFlags): ValueView {
  return {
    parameter: msg.parameter,
    source: (bed.sourceCount.get(msg.parameter) ?? 0) > 1 ? (msg.source?.interfaceId ?? '') : '',
    interfaceId: msg.source?.interfaceId ?? '',
    driver: msg.source?.driver ?? '',
    value: msg.hasValue ? msg.value : null,
    unit: msg.unitUcum,
    ageMs: flags.ageMs,
    current: flags.current,
    status: msg.status.replace('RESULT_STATUS_', '').toLowerCase(),
    quality: msg.quality.map((q) => q.replace('QUALITY_FLAG_', '').toLowerCase()),
    reason: msg.unavailableReason,
    backfill: envelope.backfill === true,
    stopped: flags.stopped,
    enteredBy: msg.manual?.enteredBy ?? '',
    valueCode: msg.valueCode ?? '',
  };
}

/** A NEWS2 score older than this is not current (its retained message expires then too: docs/interfaces/mqtt.md, topic `score`). */
const SCORE_MAX_AGE_MS = 10_000;

function scoreIsCurrent({ msg, envelope, stationReceivedMs }: Received<EarlyWarningScoreMsg>, gatewayUp: boolean, nowMs: number): boolean {
  return gatewayUp && envelope.backfill !== true && valueAgeMs(envelope, int(msg.computedWallMs), stationReceivedMs, nowMs) <= SCORE_MAX_AGE_MS;
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
    current: scoreIsCurrent(bed.score, gatewayUp, nowMs),
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
