/**
 * Encoding and decoding of vigil.v1 messages. The schema is loaded at run time from
 * proto/vigil/v1/vigil.proto (the single source of truth: no generated copy to drift).
 *
 * Plain objects in and out: field names in lowerCamelCase, enums as their full names
 * (e.g. "RESULT_STATUS_FINAL"), 64-bit integers as decimal strings when decoded.
 */
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { PROJECT_ROOT } from '../paths';

export const SCHEMA_VERSION = 1;
export const PROTO_FILE = join(PROJECT_ROOT, 'proto', 'vigil', 'v1', 'vigil.proto');

let envelopeType: protobuf.Type | null = null;

function envelope(): protobuf.Type {
  if (!envelopeType) {
    const root = protobuf.loadSync(PROTO_FILE);
    root.resolveAll();
    envelopeType = root.lookupType('vigil.v1.Envelope');
  }
  return envelopeType;
}

type Int64 = number | string;

export interface SourceDeviceMsg {
  driver: string;
  interfaceId: string;
  serialNumber: string;
  port: string;
}
export interface ObservationMsg {
  parameter: string;
  value: number;
  hasValue: boolean;
  unitUcum: string;
  loinc: string;
  status: string;
  quality: string[];
  source: SourceDeviceMsg;
  deviceTimeMs: Int64;
  deviceTimeText: string;
  receiveWallMs: Int64;
  receiveMonoNs: Int64;
  maxAgeMs: number;
  unavailableReason: string;
  originalValue?: number;
  originalUnit?: string;
  deviceCode?: string;
}
export interface ParameterPointsMsg {
  parameter: string;
  points: number;
}
export interface EarlyWarningScoreMsg {
  scheme: string;
  total: number;
  points: ParameterPointsMsg[];
  riskLevel: string;
  complete: boolean;
  missing: string[];
  spo2Scale: number;
  computedWallMs: Int64;
  computedMonoNs: Int64;
  oldestInputWallMs: Int64;
  inputs?: ScoreInputMsg[];
  excluded?: ExcludedInputMsg[];
}
export interface ScoreInputMsg {
  field: string;
  parameter: string;
  interfaceId: string;
  value: number;
  ageMs: number;
}
export interface ExcludedInputMsg {
  field: string;
  parameter: string;
  interfaceId: string;
  reason: string;
}
export interface AlarmMsg {
  alarmId: string;
  kind: string;
  priority: string;
  condition: string;
  state: string;
  source: string;
  detail: string;
  raisedWallMs: Int64;
  changedWallMs: Int64;
}
export interface CounterMsg {
  name: string;
  value: Int64;
}
export interface InterfaceStatusMsg {
  interfaceId: string;
  driver: string;
  state: string;
  reason: string;
  lastValidFrameWallMs: Int64;
  counters: CounterMsg[];
  clockOffsetMs?: Int64;
  clockTrusted?: boolean;
  clockMeasured?: boolean;
}
export interface GatewayStatusMsg {
  online: boolean;
  interfaces: InterfaceStatusMsg[];
  counters: CounterMsg[];
  startedWallMs: Int64;
  heartbeatIntervalMs: number;
  softwareVersion: string;
  reason: string;
}
export interface EnvelopeMsg {
  schemaVersion: number;
  gatewayId: string;
  bedId: string;
  messageId: string;
  sequence: Int64;
  bootId: string;
  sentWallMs: Int64;
  siteId: string;
  wardId: string;
  observation?: ObservationMsg;
  score?: EarlyWarningScoreMsg;
  alarm?: AlarmMsg;
  status?: GatewayStatusMsg;
}

export type PayloadKind = 'observation' | 'score' | 'alarm' | 'status';

/** Encodes an envelope; throws if a field does not fit the schema. */
export function encodeEnvelope(msg: EnvelopeMsg): Uint8Array {
  const type = envelope();
  const message = type.fromObject(msg);
  const problem = type.verify(message);
  if (problem) throw new TypeError(`envelope does not fit vigil.v1: ${problem}`);
  return type.encode(message).finish();
}

/** Decodes an envelope; throws on bytes that are not a vigil.v1 Envelope. */
export function decodeEnvelope(bytes: Uint8Array): EnvelopeMsg {
  const type = envelope();
  const decoded = type.decode(bytes);
  return type.toObject(decoded, {
    longs: String,
    enums: String,
    defaults: true,
    arrays: true,
    oneofs: false,
  }) as EnvelopeMsg;
}

/** Which payload an envelope carries, or null when it carries none. */
export function payloadKind(msg: EnvelopeMsg): PayloadKind | null {
  for (const k of ['observation', 'score', 'alarm', 'status'] as const) {
    if (msg[k] !== undefined && msg[k] !== null) return k;
  }
  return null;
}
