import type { ParameterCode } from './parameters';

/** Result status, after HL7 v2 OBX-11; mirrors vigil.v1.ResultStatus. */
export type ResultStatus =
  | 'final'
  | 'corrected'
  | 'preliminary'
  | 'unverified'
  | 'cannot-obtain'
  | 'deleted'
  | 'unavailable';

/** Mirrors vigil.v1.QualityFlag. */
export type QualityFlag =
  | 'low-perfusion'
  | 'sensor-off'
  | 'no-sensor'
  | 'pulse-search'
  | 'interference'
  | 'low-signal-quality'
  | 'device-fault'
  | 'stale'
  | 'device-clock-untrusted'
  | 'unit-converted'
  | 'demo'
  | 'backfill'
  | 'recovered'
  | 'ambient-light'
  | 'unknown-device-condition'
  | 'frozen'
  | 'motion';

export interface SourceDevice {
  driver: string;
  interfaceId: string;
  serialNumber: string;
  port: string;
}

/** A reading as the agent carries it, with both clocks. */
export interface Observation {
  parameter: ParameterCode;
  /** null when the device could not give a value (dash-filled, sensor off). */
  value: number | null;
  unitUcum: string;
  status: ResultStatus;
  quality: QualityFlag[];
  source: SourceDevice;
  /** Device clock converted with the interface's configured zone; null when the device sent none. */
  deviceTimeMs: number | null;
  deviceTimeText: string;
  receiveWallMs: number;
  receiveMonoNs: bigint;
  /** Why `value` is null, e.g. "sensor-off", "unavailable-field". */
  unavailableReason: string;
  /** The value and unit as the device sent them, when a unit conversion was applied. */
  original?: { value: number; unit: string };
  /** The device's own code for the parameter (e.g. "MDC:150456"), when it sent one. */
  deviceCode?: string;
}
