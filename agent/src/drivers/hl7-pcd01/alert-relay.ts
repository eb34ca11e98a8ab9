/**
 * The HL7 monitor's own alarms (IHE PCD-04 alerts, pcd04.ts) as alarm conditions the agent relays
 * to the station (issue 20 item 1; docs/interfaces/hl7-pcd01.md, "Alerts").
 *
 * Pure: no I/O; the monotonic time is passed in. `Pcd04AlertRelay` keeps the alerts relayed, by
 * their instance (OBR-3), and returns the raise and clear edges (the driver emits them as
 * DriverConditions), what to count, and what to warn the monitor of in the ACK.
 *
 * The rules (never guessed, never dropped):
 * - the condition is the device's kind and priority (`device-alarm-*`: physiological or advisory;
 *   `device-technical-*`); a priority not stated is relayed as medium, and the text says so;
 * - the qualifier is `<event code>-<source code>`: what the device said happened, on what;
 * - an unknown event code is relayed all the same, with its code (counted);
 * - an `end` of an instance not relayed is answered with a warning and counted; nothing changes;
 * - an alert not updated by the device for the update timeout stays shown, with a text that says
 *   since when it was not confirmed (a lost `end` must not clear an alarm that may still be on).
 */
import { elapsedMs } from '../../clock';
import type { DriverConditionKey } from '../../safety/conditions';
import type { AckError } from './ack';
import type { DriverCondition } from '../driver';
import type { AlertPriority, CodedValue, Pcd04Alert } from './pcd04';

/** The conditions a PCD-04 alert is relayed as (keys of safety/conditions.ts). */
export type Pcd04AlertCondition = Extract<
  DriverConditionKey,
  'device-alarm-high' | 'device-alarm-medium' | 'device-alarm-low' | 'device-technical-high' | 'device-technical-medium' | 'device-technical-low'
>;

/** The device's priority as the relayed alarm's: PN (no alarm priority) is low; not stated is medium. */
const RELAYED_PRIORITY: Readonly<Record<AlertPriority, 'high' | 'medium' | 'low'>> = { high: 'high', medium: 'medium', low: 'low', none: 'low' };

/** The catalogue condition of an alert: its type (technical apart) and the device's priority. */
export function alertCondition(alert: Pick<Pcd04Alert, 'priority' | 'type'>): Pcd04AlertCondition {
  const priority = alert.priority === null ? 'medium' : RELAYED_PRIORITY[alert.priority];
  return ALERT_CONDITIONS[alert.type === 'technical' ? 'technical' : 'physiological'][priority];
}

/** Technical alerts apart; physiological and advisory ones (and a type not stated) together. */
const ALERT_CONDITIONS: Readonly<Record<'physiological' | 'technical', Readonly<Record<'high' | 'medium' | 'low', Pcd04AlertCondition>>>> = {
  physiological: { high: 'device-alarm-high', medium: 'device-alarm-medium', low: 'device-alarm-low' },
  technical: { high: 'device-technical-high', medium: 'device-technical-medium', low: 'device-technical-low' },
};

function codeOf(c: CodedValue | null): string {
  if (c === null) return '0';
  if (c.code !== null) return String(c.code);
  // A reference id without a number: kept readable in an alarm id (letters, digits, _ and -).
  return c.refId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64) || '0';
}

/** The member of the condition's family: `<event code>-<source code>` (`196670-150456`). */
export function alertQualifier(alert: Pick<Pcd04Alert, 'event' | 'source'>): string {
  return `${codeOf(alert.event)}-${codeOf(alert.source)}`;
}

/** Longest piece of device text (a reference id, a coding system, a name) put into an alarm's text. */
export const MAX_DEVICE_TEXT_CHARS = 64;

/**
 * Text the monitor chose, as it goes into an alarm: printable characters only (control characters
 * become spaces) and at most MAX_DEVICE_TEXT_CHARS, marked when cut; a message may carry kilobytes
 * in one field, and the alarm's text is read on a ward board.
 */
export function deviceText(text: string): string {
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').trim();
  return clean.length <= MAX_DEVICE_TEXT_CHARS ? clean : `${clean.slice(0, MAX_DEVICE_TEXT_CHARS - 1)}…`;
}

function codedName(c: CodedValue): string {
  const parts = [deviceText(c.refId), c.code === null ? '' : String(c.code)].filter((p) => p !== '');
  const name = parts.length === 2 ? `${parts[0]} (${parts[1]})` : (parts[0] ?? 'no code');
  return c.system !== '' && c.system !== 'MDC' ? `${name}, coding system ${deviceText(c.system)}` : name;
}

const INACTIVATION_TEXT: Readonly<Record<string, string>> = {
  enabled: 'alarm signals on at the device',
  'audio-paused': 'audio paused at the device',
  'audio-off': 'audio off at the device',
  'alarm-paused': 'alarm paused at the device',
  'alarm-off': 'alarm off at the device',
  'alert-acknowledged': 'acknowledged at the device',
};

/** Who the alert comes from: the interface, the sending application (MSH-3), the equipment id. */
export interface AlertSourceDevice {
  interfaceId: string;
  sendingApplication: string;
  equipmentId: string | null;
}

/**
 * The alarm's text at the station: the source device, the device's event and source codes, its
 * alarm state and inactivation state; no measured value. The phase and the alert instance id are
 * left out (every `continue`, and a device that numbers each message's OBR-3 anew, would otherwise
 * re-announce the alarm); the instance is in the gateway's log.
 */
export function alertDetail(alert: Pcd04Alert, device: AlertSourceDevice): string {
  const who = [device.sendingApplication !== '' ? `HL7 ${deviceText(device.sendingApplication)}` : 'HL7 monitor', device.equipmentId === null ? '' : `EUI-64 ${deviceText(device.equipmentId)}`]
    .filter((p) => p !== '')
    .join(' ');
  const what = `${codedName(alert.event)}${alert.eventKnown ? '' : ' (event code not known to Vigil)'}`;
  const on = alert.source === null ? '' : ` on ${codedName(alert.source)}`;
  const from = alert.alertSource === null ? '' : `, source ${deviceText(alert.alertSource)}`;
  const state = alert.state === null ? 'state not stated' : `state ${alert.state}`;
  const signals = alert.inactivation === null ? '' : `, ${INACTIVATION_TEXT[alert.inactivation] ?? alert.inactivation}`;
  const priority = alert.priority === null ? ', priority not stated by the device: relayed as medium' : alert.priority === 'none' ? ', no alarm priority (PN): relayed as low' : '';
  const type = alert.type === 'advisory' ? ', advisory' : alert.type === null ? ', type not stated' : '';
  return `device ${who} on ${device.interfaceId}: ${what}${on}${from}, ${state}${signals}${priority}${type}`;
}

interface Relayed {
  condition: Pcd04AlertCondition;
  qualifier: string;
  detail: string;
  updatedMonoNs: bigint;
  /** Whether the text now says the device stopped updating it. */
  overdue: boolean;
}

export interface RelayResult {
  edges: DriverCondition[];
  /** Counter names, one per occurrence (`device-alarms-relayed`, `alert-event-unknown`, ...). */
  counts: string[];
  /** ERR warnings for the ACK (an end without start). */
  ackWarnings: AckError[];
  /** Log lines: what happened that the monitor's side should know. */
  notes: Array<{ event: string; instanceId: string; detail: string }>;
}

/**
 * The PCD-04 alerts relayed for one interface, by alert instance (OBR-3). An `end` whose instance
 * is not relayed ends a relayed alert of the same event and source when there is one (a device
 * that numbers each message's OBR-3 anew, S9); otherwise it is an end without start.
 */
export class Pcd04AlertRelay {
  private readonly relayed = new Map<string, Relayed>();

  constructor(
    private readonly interfaceId: string,
    private readonly updateTimeoutMs: number,
  ) {}

  /** How many alerts are relayed now. */
  get active(): number {
    return this.relayed.size;
  }

  /** The edges of one accepted ORU^R40. */
  update(alerts: readonly Pcd04Alert[], device: AlertSourceDevice, nowMonoNs: bigint): RelayResult {
    const out: RelayResult = { edges: [], counts: ['alerts-received'], ackWarnings: [], notes: [] };
    for (const alert of alerts) {
      if (!alert.eventKnown) out.counts.push('alert-event-unknown');
      for (const w of alert.warnings) out.counts.push(`alert-warning.${w.what}`);
      const condition = alertCondition(alert);
      const qualifier = alertQualifier(alert);
      if (alert.ended) {
        const key = this.relayed.has(alert.instanceId) ? alert.instanceId : this.findByMember(condition, qualifier);
        const before = key === null ? undefined : this.relayed.get(key);
        if (key === null || before === undefined) {
          const detail = `OBR ${alert.group}: the end of alert instance not active at the gateway (its start was not received): nothing raised or cleared`;
          out.counts.push('alert-end-without-start');
          out.ackWarnings.push({ code: 205, severity: 'W', location: { segment: 'OBR', sequence: alert.group, field: 3 }, text: detail });
          out.notes.push({ event: 'alert-end-without-start', instanceId: alert.instanceId, detail });
          continue;
        }
        this.relayed.delete(key);
        out.edges.push(this.edge(before.condition, before.qualifier, false, `${alertDetail(alert, device)}: ended at the device`));
        continue;
      }
      const detail = alertDetail(alert, device);
      let before = this.relayed.get(alert.instanceId);
      if (before === undefined) {
        // The same event on the same source under another instance id: the same alarm (S9).
        const same = this.findByMember(condition, qualifier);
        if (same !== null) {
          before = this.relayed.get(same);
          this.relayed.delete(same);
        }
      }
      if (before !== undefined && (before.condition !== condition || before.qualifier !== qualifier)) {
        // Escalated or de-escalated (another priority or type): the old condition ends, the new one is raised.
        out.edges.push(this.edge(before.condition, before.qualifier, false, `${detail}: priority or type changed at the device`));
      }
      const changed = before === undefined || before.condition !== condition || before.qualifier !== qualifier || before.detail !== detail || before.overdue;
      if (before === undefined) out.counts.push('device-alarms-relayed');
      this.relayed.set(alert.instanceId, { condition, qualifier, detail, updatedMonoNs: nowMonoNs, overdue: false });
      if (changed) out.edges.push(this.edge(condition, qualifier, true, detail));
    }
    return out;
  }

  /**
   * Every safety tick: an alert the device has not updated for the update timeout is re-announced
   * once with a text saying so (its end may have been lost); it stays raised.
   */
  tick(nowMonoNs: bigint): RelayResult {
    const out: RelayResult = { edges: [], counts: [], ackWarnings: [], notes: [] };
    for (const [instanceId, r] of this.relayed) {
      if (r.overdue || elapsedMs(r.updatedMonoNs, nowMonoNs) < this.updateTimeoutMs) continue;
      r.overdue = true;
      const seconds = Math.round(this.updateTimeoutMs / 1000);
      const detail = `${r.detail}; not updated by the device for more than ${seconds} s: its end may have been lost, check the device`;
      out.counts.push('alert-update-missing');
      out.notes.push({ event: 'alert-update-missing', instanceId, detail });
      out.edges.push(this.edge(r.condition, r.qualifier, true, detail));
    }
    return out;
  }

  /** Ends every relayed alert, with the reason (the link's state): a stale device alarm is never shown as current. */
  clearAll(reason: string): DriverCondition[] {
    const edges = [...this.relayed.values()].map((r) => this.edge(r.condition, r.qualifier, false, `${r.detail}: no longer known: ${reason}`));
    this.relayed.clear();
    return edges;
  }

  private findByMember(condition: Pcd04AlertCondition, qualifier: string): string | null {
    for (const [key, r] of this.relayed) if (r.qualifier === qualifier && r.condition === condition) return key;
    for (const [key, r] of this.relayed) if (r.qualifier === qualifier) return key;
    return null;
  }

  private edge(condition: Pcd04AlertCondition, qualifier: string, active: boolean, detail: string): DriverCondition {
    return { interfaceId: this.interfaceId, condition, qualifier, active, detail };
  }
}
