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
 */
import type { EnvelopeMsg, ObservationMsg, EarlyWarningScoreMsg, AlarmMsg, GatewayStatusMsg } from '../proto/codec';
import { decodeEnvelope, payloadKind } from '../proto/codec';
import { parseTopic } from '../publish/topics';

interface Received<T> {
  msg: T;
  envelope: EnvelopeMsg;
  stationReceivedMs: number;
}

export interface BedState {
  key: string;
  gatewayId: string;
  status: Received<GatewayStatusMsg> | null;
  observations: Map<string, Received<ObservationMsg>>;
  score: Received<EarlyWarningScoreMsg> | null;
  alarms: Map<string, Received<AlarmMsg>>;
  lastSequence: number;
  sequenceGaps: number;
}

export type GatewayLiveness = 'online' | 'offline' | 'lost' | 'unknown';

export interface ValueView {
  parameter: string;
  value: number | null;
  unit: string;
  ageMs: number;
  current: boolean;
  status: string;
  quality: string[];
  reason: string;
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
  } | null;
  alarms: Array<{ alarmId: string; priority: string; condition: string; kind: string; detail: string }>;
  sequenceGaps: number;
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

  /** Applies one MQTT message; returns false (and counts) when it cannot be used. */
  apply(topic: string, payload: Uint8Array, nowMs: number): boolean {
    const address = parseTopic(topic);
    if (!address) return false;
    if (payload.length === 0) return false; // a cleared retained message
    let envelope: EnvelopeMsg;
    try {
      envelope = decodeEnvelope(payload);
    } catch {
      this.undecodable += 1;
      return false;
    }
    const key = `${address.siteId}/${address.wardId}/${address.bedId}`;
    let bed = this.beds.get(key);
    if (!bed) {
      bed = {
        key,
        gatewayId: envelope.gatewayId,
        status: null,
        observations: new Map(),
        score: null,
        alarms: new Map(),
        lastSequence: 0,
        sequenceGaps: 0,
      };
      this.beds.set(key, bed);
    }
    bed.gatewayId = envelope.gatewayId;
    const seq = int(envelope.sequence);
    if (bed.lastSequence > 0 && seq > bed.lastSequence + 1) bed.sequenceGaps += 1;
    if (seq > bed.lastSequence || seq === 1) bed.lastSequence = seq;
    const stamp = { envelope, stationReceivedMs: nowMs };
    switch (payloadKind(envelope)) {
      case 'observation':
        if (envelope.observation) bed.observations.set(envelope.observation.parameter, { msg: envelope.observation, ...stamp });
        break;
      case 'score':
        if (envelope.score) bed.score = { msg: envelope.score, ...stamp };
        break;
      case 'alarm':
        if (envelope.alarm) {
          if (envelope.alarm.state === 'ALARM_STATE_CLEARED') bed.alarms.delete(envelope.alarm.alarmId);
          else bed.alarms.set(envelope.alarm.alarmId, { msg: envelope.alarm, ...stamp });
        }
        break;
      case 'status':
        if (envelope.status) bed.status = { msg: envelope.status, ...stamp };
        break;
      default:
        this.undecodable += 1;
        return false;
    }
    return true;
  }

  view(nowMs: number): BedView[] {
    return [...this.beds.values()]
      .sort((a, b) => a.key.localeCompare(b.key))
      .map((bed) => this.bedView(bed, nowMs));
  }

  private bedView(bed: BedState, nowMs: number): BedView {
    let gateway: GatewayLiveness = 'unknown';
    let gatewayReason = '';
    let heartbeatAgeMs: number | null = null;
    if (bed.status) {
      const s = bed.status.msg;
      heartbeatAgeMs = nowMs - bed.status.stationReceivedMs;
      gatewayReason = s.reason;
      if (!s.online) gateway = 'offline';
      else if (heartbeatAgeMs > 3 * (s.heartbeatIntervalMs || 5000)) {
        gateway = 'lost';
        gatewayReason = 'heartbeats stopped';
      } else gateway = 'online';
    }
    const gatewayUp = gateway === 'online';
    const values: ValueView[] = [...bed.observations.values()]
      .sort((a, b) => a.msg.parameter.localeCompare(b.msg.parameter))
      .map(({ msg, envelope, stationReceivedMs }) => {
        const ageMs = valueAgeMs(envelope, int(msg.receiveWallMs), stationReceivedMs, nowMs);
        const usable = msg.hasValue && (msg.status === 'RESULT_STATUS_FINAL' || msg.status === 'RESULT_STATUS_CORRECTED');
        return {
          parameter: msg.parameter,
          value: msg.hasValue ? msg.value : null,
          unit: msg.unitUcum,
          ageMs,
          current: usable && gatewayUp && ageMs <= (msg.maxAgeMs || 5000),
          status: msg.status.replace('RESULT_STATUS_', '').toLowerCase(),
          quality: msg.quality.map((q) => q.replace('QUALITY_FLAG_', '').toLowerCase()),
          reason: msg.unavailableReason,
        };
      });
    let score: BedView['score'] = null;
    if (bed.score) {
      const { msg, envelope, stationReceivedMs } = bed.score;
      const ageMs = valueAgeMs(envelope, int(msg.computedWallMs), stationReceivedMs, nowMs);
      score = {
        total: msg.total,
        riskLevel: msg.riskLevel.replace('RISK_LEVEL_', '').toLowerCase().replace('_', '-'),
        complete: msg.complete,
        missing: msg.missing,
        ageMs,
        current: gatewayUp && ageMs <= 10_000,
      };
    }
    return {
      bed: bed.key,
      gatewayId: bed.gatewayId,
      gateway,
      gatewayReason,
      heartbeatAgeMs,
      values,
      score,
      alarms: [...bed.alarms.values()].map(({ msg }) => ({
        alarmId: msg.alarmId,
        priority: msg.priority.replace('ALARM_PRIORITY_', '').toLowerCase(),
        condition: msg.condition,
        kind: msg.kind.replace('ALARM_KIND_', '').toLowerCase(),
        detail: msg.detail,
      })),
      sequenceGaps: bed.sequenceGaps,
    };
  }
}

const LABEL: Record<string, string> = { spo2: 'SpO2', pulse: 'Pulse', 'perfusion-index': 'PI' };

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Renders the station view as plain text, one block per bed. */
export function renderStation(views: BedView[], nowMs: number): string {
  const lines = [`Vigil station  ${new Date(nowMs).toISOString()}  beds: ${views.length}`];
  if (views.length === 0) lines.push('  (waiting for gateways...)');
  for (const v of views) {
    const hb = v.heartbeatAgeMs === null ? '' : ` (status ${seconds(v.heartbeatAgeMs)} ago)`;
    const gw = v.gateway.toUpperCase() + (v.gateway === 'online' ? '' : `: ${v.gatewayReason}`);
    lines.push('', `${v.bed}  gateway ${v.gatewayId}  ${gw}${hb}`);
    for (const val of v.values) {
      const label = (LABEL[val.parameter] ?? val.parameter).padEnd(8);
      if (val.current && val.value !== null) {
        const flags = val.quality.length > 0 ? `  [${val.quality.join(', ')}]` : '';
        lines.push(`  ${label}${String(val.value).padStart(6)} ${val.unit.padEnd(5)} age ${seconds(val.ageMs)}${flags}`);
      } else {
        const why = val.reason || (val.value !== null && !val.current ? (val.status === 'final' ? 'STALE' : val.status) : val.status);
        lines.push(`  ${label}${'--'.padStart(6)} ${val.unit.padEnd(5)} unavailable: ${why} (last ${seconds(val.ageMs)} ago)`);
      }
    }
    if (v.score) {
      const s = v.score;
      const head = s.current ? `${s.total}` : '--';
      const risk = s.current ? (s.complete ? `risk ${s.riskLevel}` : `risk at least ${s.riskLevel}`) : 'not current';
      const inc = s.complete ? '' : `  INCOMPLETE, missing: ${s.missing.join(', ')}`;
      lines.push(`  NEWS2   ${head.padStart(6)}       ${risk}${inc}`);
    }
    if (v.alarms.length === 0) lines.push('  Alarms  none');
    for (const a of v.alarms) lines.push(`  ALARM   [${a.priority.toUpperCase()}] ${a.kind} ${a.alarmId}: ${a.detail}`);
  }
  return `${lines.join('\n')}\n`;
}
