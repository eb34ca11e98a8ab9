/**
 * The oximeter's own alarms, from the `ALARM` bits of its line, as alarm conditions the agent
 * relays to the station (issue 20 item 1; docs/interfaces/masimo-ascii.md, "ALARM bits").
 *
 * Pure: no I/O, no clock. `masimoDeviceAlarms` maps one line's bits to the device alarms present,
 * by a per-model table that cites the source of every bit; `MasimoAlarmRelay` keeps what was
 * relayed last and returns the raise and clear edges (the driver emits them as DriverConditions).
 *
 * What is named and what is not (never guessed):
 * - 0x0001-0x0008 (SpO2 high/low limit, pulse rate high/low limit): named conditions. S1 (the
 *   Radical-7 serial output description, restated by OpenICE) gives them for the Radical-7 line,
 *   which the Radical-5 shares; S8 found the same bits by experiment on a Rad-8 (and a Rad-97
 *   logger reads them the same way).
 * - 0x0010 (alarm active) and 0x0020 (alarm silenced), same sources: the device's alarm *state*,
 *   not alarms of their own. They are carried in every relayed alarm's text.
 * - Every other set bit, 0x0040-0x2000 (S1 alone gives them a meaning: low battery, SpCO, SpMet,
 *   desaturation index, PI rate of change) and any bit beyond: "device alarm (unconfirmed
 *   meaning)" with the raw bit. A line whose model is not recognised names no bit at all.
 */
import type { DriverConditionKey } from '../../safety/conditions';
import type { DriverCondition } from '../driver';
import type { MasimoModel } from './protocol';

/** The conditions a Masimo bit can be relayed as (keys of safety/conditions.ts). */
export type MasimoAlarmCondition = Extract<
  DriverConditionKey,
  'device-spo2-high' | 'device-spo2-low' | 'device-pulse-high' | 'device-pulse-low' | 'device-alarm-unconfirmed'
>;

/** What one bit of a model's table means. */
export interface AlarmBitMeaning {
  bit: number;
  /** `state-*`: the device's alarm state; otherwise the named condition it is relayed as. */
  meaning: Exclude<MasimoAlarmCondition, 'device-alarm-unconfirmed'> | 'state-active' | 'state-silenced';
  text: string;
  /** The sources (docs/interfaces/masimo-ascii.md, "Sources") that confirm this bit for this model. */
  sources: string;
}

/** The device's own alarm state, from 0x0010 / 0x0020. */
export type DeviceAlarmState = 'active' | 'silenced' | 'not-flagged';

/** One device alarm present on a line. */
export interface DeviceAlarm {
  condition: MasimoAlarmCondition;
  bit: number;
  /** The bit as the alarm's qualifier and in its text: `0x0002`. */
  bitText: string;
  text: string;
}

export interface MasimoDeviceAlarms {
  model: MasimoModel;
  state: DeviceAlarmState;
  alarms: DeviceAlarm[];
}

const ALARM_ACTIVE_BIT = 0x0010;
const ALARM_SILENCED_BIT = 0x0020;

/** The bits S1 documents and S8 found by experiment on a Rad-8: the only ones named. */
function confirmedBits(sources: string): readonly AlarmBitMeaning[] {
  return [
    { bit: 0x0001, meaning: 'device-spo2-high', text: 'SpO2 high limit', sources },
    { bit: 0x0002, meaning: 'device-spo2-low', text: 'SpO2 low limit', sources },
    { bit: 0x0004, meaning: 'device-pulse-high', text: 'pulse rate high limit', sources },
    { bit: 0x0008, meaning: 'device-pulse-low', text: 'pulse rate low limit', sources },
    { bit: ALARM_ACTIVE_BIT, meaning: 'state-active', text: 'alarm active', sources },
    { bit: ALARM_SILENCED_BIT, meaning: 'state-silenced', text: 'alarm silenced', sources },
  ];
}

/**
 * The named bits of each model. S1 is the Radical-7's own serial description (as restated) and
 * gives the Radical-5 lines too; S8 is the Rad-8 experiment. A model not recognised from its keys
 * gets an empty table: every bit it sets is relayed as unconfirmed.
 */
export const MASIMO_ALARM_BITS: Readonly<Record<MasimoModel, readonly AlarmBitMeaning[]>> = {
  'Rad-8': confirmedBits('S1 (Radical-7 description) and S8 (found by experiment on a Rad-8)'),
  'Radical-7': confirmedBits('S1 (the Radical-7 serial output description), S8 (the same bits on a Rad-8)'),
  'Radical-7 colour': confirmedBits('S1 (the Radical-7 serial output description), S8 (the same bits on a Rad-8)'),
  'Radical-5': confirmedBits('S1 (gives the Radical-5 lines), S8 (the same bits on a Rad-8)'),
  unknown: [],
};

/** `0x0002`: at least four hex digits, as the Rad-8 prints its ALARM field. */
export function alarmBitText(bit: number): string {
  return `0x${bit.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** The 32 bits the decoder can hold (ALARM is 1 to 8 hex digits), lowest first. */
function setBits(bits: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < 32; i++) {
    const bit = 2 ** i;
    if (Math.floor(bits / bit) % 2 === 1) out.push(bit);
  }
  return out;
}

/**
 * The device alarms present on a line of `model` whose ALARM field is `alarmBits`, lowest bit
 * first, and the device's alarm state. Never throws; a bit the model's table does not name is
 * `device-alarm-unconfirmed` with its raw value.
 */
export function masimoDeviceAlarms(alarmBits: number, model: MasimoModel): MasimoDeviceAlarms {
  const table = new Map(MASIMO_ALARM_BITS[model].map((m) => [m.bit, m]));
  const bits = Number.isInteger(alarmBits) && alarmBits > 0 ? setBits(alarmBits) : [];
  const named = (bit: number): AlarmBitMeaning | undefined => table.get(bit);
  const state: DeviceAlarmState = named(ALARM_SILENCED_BIT) && bits.includes(ALARM_SILENCED_BIT)
    ? 'silenced'
    : named(ALARM_ACTIVE_BIT) && bits.includes(ALARM_ACTIVE_BIT)
      ? 'active'
      : 'not-flagged';
  const alarms: DeviceAlarm[] = [];
  for (const bit of bits) {
    const meaning = named(bit);
    if (meaning?.meaning === 'state-active' || meaning?.meaning === 'state-silenced') continue;
    alarms.push(
      meaning
        ? { condition: meaning.meaning, bit, bitText: alarmBitText(bit), text: meaning.text }
        : { condition: 'device-alarm-unconfirmed', bit, bitText: alarmBitText(bit), text: 'device alarm (unconfirmed meaning)' },
    );
  }
  return { model, state, alarms };
}

const STATE_TEXT: Record<DeviceAlarmState, string> = {
  active: 'alarm active at the device',
  silenced: 'alarm silenced at the device',
  'not-flagged': 'the device does not flag its alarm active',
};

/** Who the alarm comes from: interface, model, serial when the line gives one. */
export interface DeviceAlarmSource {
  interfaceId: string;
  model: MasimoModel;
  serialNumber: string | null;
}

/**
 * The alarm's text at the station: the source device, the device's own alarm id (the bit) and
 * the device's state. No measured value (readings are patient data and the device shows them).
 */
export function deviceAlarmDetail(alarm: DeviceAlarm, state: DeviceAlarmState, source: DeviceAlarmSource): string {
  const model = source.model === 'unknown' ? 'model not recognised' : source.model;
  const serial = source.serialNumber === null ? '' : ` SN ${source.serialNumber}`;
  return `device Masimo ${model}${serial} on ${source.interfaceId}: ${alarm.text} (ALARM bit ${alarm.bitText}), ${STATE_TEXT[state]}`;
}

/**
 * The device alarms relayed for one interface: each line's alarms against the last line's give
 * the edges to emit. Raised on the first line with the bit, cleared on the first line without it;
 * a change of the device's state or of the source (silenced at the device) re-announces the
 * alarm with its new text. `clearAll` ends every relayed alarm (the link went stale or was lost:
 * a stale device alarm is never shown as current; the link's own technical alarm takes over).
 */
export class MasimoAlarmRelay {
  /** Relayed alarms by `<condition>.<bit>`, with the text last sent. */
  private readonly relayed = new Map<string, { alarm: DeviceAlarm; detail: string }>();

  constructor(private readonly interfaceId: string) {}

  /** The edges of one valid line; `raised` counts the alarms that are new (for the counters). */
  update(alarmBits: number, model: MasimoModel, serialNumber: string | null): { edges: DriverCondition[]; raised: number } {
    const present = masimoDeviceAlarms(alarmBits, model);
    const source: DeviceAlarmSource = { interfaceId: this.interfaceId, model, serialNumber };
    const edges: DriverCondition[] = [];
    const seen = new Set<string>();
    let raised = 0;
    for (const alarm of present.alarms) {
      const key = `${alarm.condition}.${alarm.bitText}`;
      seen.add(key);
      const detail = deviceAlarmDetail(alarm, present.state, source);
      const before = this.relayed.get(key);
      if (before?.detail === detail) continue;
      if (!before) raised++;
      this.relayed.set(key, { alarm, detail });
      edges.push(this.edge(alarm, true, detail));
    }
    for (const [key, { alarm }] of this.relayed) {
      if (seen.has(key)) continue;
      this.relayed.delete(key);
      edges.push(this.edge(alarm, false, `${alarm.text} (ALARM bit ${alarm.bitText}) ended at the device`));
    }
    return { edges, raised };
  }

  /** Ends every relayed alarm, with the reason (the link's state). */
  clearAll(reason: string): DriverCondition[] {
    const edges = [...this.relayed.values()].map(({ alarm }) => this.edge(alarm, false, `${alarm.text} (ALARM bit ${alarm.bitText}) no longer known: ${reason}`));
    this.relayed.clear();
    return edges;
  }

  /** The named conditions are one alarm each; an unconfirmed bit is a member of its family. */
  private edge(alarm: DeviceAlarm, active: boolean, detail: string): DriverCondition {
    return {
      interfaceId: this.interfaceId,
      condition: alarm.condition,
      ...(alarm.condition === 'device-alarm-unconfirmed' ? { qualifier: alarm.bitText } : {}),
      active,
      detail,
    };
  }
}
