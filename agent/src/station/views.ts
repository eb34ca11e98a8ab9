/**
 * The station's views of a bed (docs/interfaces/station.md): what a nurse sees, built from the
 * station model's state (station.ts) at a given time. Pure. A value is current only while the
 * gateway is up and the value is younger than its maximum age; ages do not trust the station's
 * and the gateway's clocks to agree (valueAgeMs).
 */
import type { AlarmMsg, EarlyWarningScoreMsg, EnvelopeMsg, ObservationMsg } from '../proto/codec';
import { isDeviceAlarm } from '../safety/conditions';
import type { BedState, BedView, Received, ValueView } from './station';

/** Result statuses whose value the station shows (marked when not final). */
const SHOWN_STATUSES = new Set([
  'RESULT_STATUS_FINAL',
  'RESULT_STATUS_CORRECTED',
  'RESULT_STATUS_UNVERIFIED',
  'RESULT_STATUS_PRELIMINARY',
]);

export const int = (v: number | string): number => (typeof v === 'number' ? v : Number(v));

/** Milliseconds since the gateway received the value, clock-skew tolerant (see file header). */
export function valueAgeMs(envelope: EnvelopeMsg, gatewayReceiveWallMs: number, stationReceivedMs: number, nowMs: number): number {
  const ageAtSend = Math.max(0, int(envelope.sentWallMs) - gatewayReceiveWallMs);
  const sinceReceipt = Math.max(0, nowMs - stationReceivedMs);
  return Math.max(ageAtSend + sinceReceipt, nowMs - gatewayReceiveWallMs);
}

export function bedView(bed: BedState, nowMs: number): BedView {
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

export function alarmViews(bed: BedState): BedView['alarms'] {
  return [...bed.alarms.values()].map(({ msg }) => alarmView(msg));
}

export function sequenceView(bed: BedState): Pick<BedView, 'sequenceGaps' | 'missingMessages'> {
  let sequenceGaps = 0;
  let missingMessages = 0;
  for (const b of bed.boots.values()) {
    sequenceGaps += b.missing.length;
    for (const [from, to] of b.missing) missingMessages += to - from + 1;
  }
  return { sequenceGaps, missingMessages };
}

export function backfillView(bed: BedState): BedView['backfill'] {
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

/** Whether the bed's gateway is online, from its last status and the age of its heartbeat. */
export function gatewayLiveness(bed: BedState, nowMs: number): Pick<BedView, 'gateway' | 'gatewayReason' | 'heartbeatAgeMs'> {
  if (!bed.status) return { gateway: 'unknown', gatewayReason: '', heartbeatAgeMs: null };
  const s = bed.status.msg;
  const heartbeatAgeMs = nowMs - bed.status.stationReceivedMs;
  if (!s.online) return { gateway: 'offline', gatewayReason: s.reason, heartbeatAgeMs };
  if (heartbeatAgeMs > 3 * (s.heartbeatIntervalMs || 5000)) return { gateway: 'lost', gatewayReason: 'heartbeats stopped', heartbeatAgeMs };
  return { gateway: 'online', gatewayReason: s.reason, heartbeatAgeMs };
}

/** The bed's values, by parameter then source; current only while the gateway is up and the value young. */
export function valueViews(bed: BedState, gatewayUp: boolean, nowMs: number): ValueView[] {
  return [...bed.observations.values()]
    .sort((a, b) => a.msg.parameter.localeCompare(b.msg.parameter) || (a.msg.source?.interfaceId ?? '').localeCompare(b.msg.source?.interfaceId ?? ''))
    .map((received) => valueView(bed, received, valueFlags(received, gatewayUp, nowMs)));
}

export interface ValueFlags {
  ageMs: number;
  current: boolean;
  stopped: boolean;
}

/** A value's age and whether it is current: what moves with time alone. */
export function valueFlags({ msg, envelope, stationReceivedMs }: Received<ObservationMsg>, gatewayUp: boolean, nowMs: number): ValueFlags {
  const ageMs = valueAgeMs(envelope, int(msg.receiveWallMs), stationReceivedMs, nowMs);
  // Shown as a value: final and corrected, and the device's own unverified or
  // preliminary values marked as such (a monitor's live values arrive unverified).
  // Cannot-obtain, deleted and withdrawn values are never shown as a number.
  const usable = msg.hasValue && SHOWN_STATUSES.has(msg.status);
  const maxAgeMs = msg.maxAgeMs || 5000;
  return { ageMs, current: usable && gatewayUp && envelope.backfill !== true && ageMs <= maxAgeMs, stopped: ageMs > maxAgeMs };
}

/** When time alone next changes the value valueBits last looked at (its age passing its maximum), else Infinity. */
export let flipAtMs = Infinity;

/**
 * valueFlags as bits (1 current, 2 stopped), without allocating, and in flipAtMs when they next
 * change by time alone: an age grows by at most the time that passes (valueAgeMs: both of its
 * terms grow at that rate), so a value is not stopped before its maximum age minus its age from now.
 */
export function valueBits(received: Received<ObservationMsg>, gatewayUp: boolean, nowMs: number): number {
  const { msg, envelope, stationReceivedMs } = received;
  const ageMs = valueAgeMs(envelope, int(msg.receiveWallMs), stationReceivedMs, nowMs);
  const maxAgeMs = msg.maxAgeMs || 5000;
  flipAtMs = ageMs <= maxAgeMs ? nowMs + (maxAgeMs - ageMs) + 1 : Infinity;
  const current = msg.hasValue && SHOWN_STATUSES.has(msg.status) && gatewayUp && envelope.backfill !== true && ageMs <= maxAgeMs;
  return (current ? 1 : 0) | (ageMs > maxAgeMs ? 2 : 0);
}

export function valueView(bed: BedState, { msg, envelope }: Received<ObservationMsg>, flags: ValueFlags): ValueView {
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
export const SCORE_MAX_AGE_MS = 10_000;

export function scoreIsCurrent({ msg, envelope, stationReceivedMs }: Received<EarlyWarningScoreMsg>, gatewayUp: boolean, nowMs: number): boolean {
  return gatewayUp && envelope.backfill !== true && valueAgeMs(envelope, int(msg.computedWallMs), stationReceivedMs, nowMs) <= SCORE_MAX_AGE_MS;
}

/** The bed's NEWS2 score, current only while the gateway is up and the score at most 10 s old. */
export function scoreView(bed: BedState, gatewayUp: boolean, nowMs: number): BedView['score'] {
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

export function alarmView(msg: AlarmMsg): BedView['alarms'][number] {
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
