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
let commandType: protobuf.Type | null = null;
let receiptType: protobuf.Type | null = null;

function envelope(): protobuf.Type {
  if (!envelopeType) {
    const root = protobuf.loadSync(PROTO_FILE);
    root.resolveAll();
    envelopeType = root.lookupType('vigil.v1.Envelope');
    commandType = root.lookupType('vigil.v1.Command');
    receiptType = root.lookupType('vigil.v1.DeliveryReceipt');
  }
  return envelopeType;
}

function command(): protobuf.Type {
  envelope();
  return commandType as protobuf.Type;
}

function receipt(): protobuf.Type {
  envelope();
  return receiptType as protobuf.Type;
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
  /** Coded value (e.g. ACVPU "A") of a manual observation. */
  valueCode?: string;
  /** Who entered a manual observation; absent (null when decoded) for device values. */
  manual?: ManualEntryMsg | null;
}
export interface ManualEntryMsg {
  enteredBy: string;
  commandId: string;
  stationId: string;
  enteredWallMs: Int64;
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
  valueCode?: string;
  enteredBy?: string;
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
  acknowledgedBy?: string;
  acknowledgedWallMs?: Int64;
  silencedUntilWallMs?: Int64;
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
  /** Delivered late from the durable queue (docs/interfaces/durable-queue.md). */
  backfill?: boolean;
  observation?: ObservationMsg;
  score?: EarlyWarningScoreMsg;
  alarm?: AlarmMsg;
  status?: GatewayStatusMsg;
  commandResult?: CommandResultMsg;
}

export type PayloadKind = 'observation' | 'score' | 'alarm' | 'status' | 'commandResult';

/** Station -> gateway (docs/interfaces/commands.md). Enums as their full names. */
export interface CommandMsg {
  schemaVersion: number;
  commandId: string;
  issuedWallMs: Int64;
  gatewayId: string;
  siteId: string;
  wardId: string;
  bedId: string;
  user: string;
  stationId: string;
  manualObservation?: { consciousness?: string; oxygen?: string; spo2Scale?: number } | null;
  alarmAcknowledge?: { alarmId: string } | null;
  alarmSilence?: { alarmId: string; durationSec: number } | null;
  deviceConfirm?: { interfaceId: string; serialNumber: string } | null;
}

export interface CommandResultMsg {
  commandId: string;
  outcome: string;
  reason: string;
  field: string;
  detail: string;
  handledWallMs: Int64;
}

/** Encodes an envelope; throws if a field does not fit the schema. */
export function encodeEnvelope(msg: EnvelopeMsg): Uint8Array {
  const type = envelope();
  const message = type.fromObject(msg);
  const problem = type.verify(message);
  if (problem) throw new TypeError(`envelope does not fit vigil.v1: ${problem}`);
  return type.encode(message).finish();
}

/** Decodes an envelope; throws on bytes that are not a vigil.v1 Envelope. Unknown enum values: see decodeEnvelopeChecked. */
export function decodeEnvelope(bytes: Uint8Array): EnvelopeMsg {
  return decodeEnvelopeChecked(bytes).msg;
}

/**
 * Decodes an envelope (64-bit integers as decimal strings, or as numbers with `longs`
 * 'number'), and names every enum value this build does not know (a newer gateway,
 * or a forged message). protobufjs gives such a value as a number even with `enums: String`;
 * here it becomes `<ENUM>_UNKNOWN` (e.g. RESULT_STATUS_UNKNOWN), so every reader sees a string
 * of the enum's own form and can show it as "unknown" (HAZ-012: a station must survive anything
 * a gateway can publish). Throws on bytes that are not a vigil.v1 Envelope.
 */
export function decodeEnvelopeChecked(bytes: Uint8Array, longs: 'string' | 'number' = 'string'): { msg: EnvelopeMsg; unknownEnums: string[] } {
  const type = envelope();
  const decoded = type.decode(bytes);
  const msg = type.toObject(decoded, {
    // `number` for a reader that does arithmetic on times and sequence numbers (the station):
    // exact up to 2^53 (milliseconds until the year 287396; nanoseconds of a monotonic clock for 104 days).
    longs: longs === 'number' ? Number : String,
    enums: String,
    defaults: true,
    arrays: true,
    oneofs: false,
  }) as Record<string, unknown>;
  const unknownEnums: string[] = [];
  nameUnknownEnums(type, msg, '', unknownEnums);
  return { msg: msg as unknown as EnvelopeMsg, unknownEnums };
}

/** `<PREFIX>_UNKNOWN` for an enum whose zero value is `<PREFIX>_UNSPECIFIED` (vigil.v1 style). */
function unknownName(e: protobuf.Enum): string {
  const zero = Object.entries(e.values).find(([, v]) => v === 0)?.[0] ?? `${e.name.toUpperCase()}_UNSPECIFIED`;
  return zero.endsWith('_UNSPECIFIED') ? `${zero.slice(0, -'UNSPECIFIED'.length)}UNKNOWN` : `${zero}_UNKNOWN`;
}

/** A message type's fields that can hold an unknown enum value, directly or below: worked out once per type. */
interface EnumWalk {
  enums: Array<{ name: string; unknown: string }>;
  messages: Array<{ name: string; type: protobuf.Type }>;
}
const enumWalks = new Map<protobuf.Type, EnumWalk>();

function enumWalk(type: protobuf.Type): EnumWalk {
  let walk = enumWalks.get(type);
  if (walk) return walk;
  walk = { enums: [], messages: [] };
  enumWalks.set(type, walk);
  for (const field of type.fieldsArray) {
    const resolved = field.resolve().resolvedType;
    if (resolved instanceof protobuf.Enum) walk.enums.push({ name: field.name, unknown: unknownName(resolved) });
    else if (resolved instanceof protobuf.Type) walk.messages.push({ name: field.name, type: resolved });
  }
  return walk;
}

function nameUnknownEnums(type: protobuf.Type, obj: Record<string, unknown>, path: string, out: string[]): void {
  const walk = enumWalk(type);
  for (const { name, unknown } of walk.enums) {
    const value = obj[name];
    if (value === undefined || value === null) continue;
    const fix = (v: unknown): unknown => {
      if (typeof v === 'string') return v;
      out.push(`${path ? `${path}.${name}` : name}=${String(v)}`);
      return unknown;
    };
    if (Array.isArray(value)) {
      if (value.some((v) => typeof v !== 'string')) obj[name] = value.map(fix);
    } else if (typeof value !== 'string') obj[name] = fix(value);
  }
  for (const { name, type: inner } of walk.messages) {
    const value = obj[name];
    if (value === undefined || value === null) continue;
    const at = path ? `${path}.${name}` : name;
    if (Array.isArray(value)) {
      for (const item of value) if (item !== null && typeof item === 'object') nameUnknownEnums(inner, item as Record<string, unknown>, at, out);
    } else if (typeof value === 'object') nameUnknownEnums(inner, value as Record<string, unknown>, at, out);
  }
}

/** Which payload an envelope carries, or null when it carries none. */
export function payloadKind(msg: EnvelopeMsg): PayloadKind | null {
  for (const k of ['observation', 'score', 'alarm', 'status', 'commandResult'] as const) {
    if (msg[k] !== undefined && msg[k] !== null) return k;
  }
  return null;
}

/**
 * The same envelope marked as backfill (delivered late from the durable queue): the
 * envelope flag, and QUALITY_FLAG_BACKFILL on an observation. Everything else, the
 * message id included, is unchanged, so the station still drops duplicates by id.
 */
export function markBackfill(bytes: Uint8Array): Uint8Array {
  const msg = decodeEnvelope(bytes);
  if (msg.backfill === true && (!msg.observation || msg.observation.quality.includes('QUALITY_FLAG_BACKFILL'))) return bytes;
  msg.backfill = true;
  if (msg.observation && !msg.observation.quality.includes('QUALITY_FLAG_BACKFILL')) {
    msg.observation.quality = [...msg.observation.quality, 'QUALITY_FLAG_BACKFILL'];
  }
  return encodeEnvelope(stripNulls(msg) as EnvelopeMsg);
}

/** Decoded objects carry null for unset message fields; fromObject wants them absent. */
function stripNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripNulls);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = stripNulls(v);
    return out;
  }
  return value;
}

/** Encodes a station command; throws if a field does not fit the schema. */
export function encodeCommand(msg: CommandMsg): Uint8Array {
  const type = command();
  const message = type.fromObject(stripNulls(msg) as Record<string, unknown>);
  const problem = type.verify(message);
  if (problem) throw new TypeError(`command does not fit vigil.v1: ${problem}`);
  return type.encode(message).finish();
}

/** Decodes a station command; throws on bytes that are not a vigil.v1 Command. */
export function decodeCommand(bytes: Uint8Array): CommandMsg {
  const type = command();
  return type.toObject(type.decode(bytes), {
    longs: String,
    enums: String,
    defaults: true,
    arrays: true,
    oneofs: false,
  }) as CommandMsg;
}

/** Station -> gateway delivery receipt (docs/interfaces/mqtt.md, Delivery receipts). */
export interface DeliveryReceiptMsg {
  schemaVersion: number;
  stationId: string;
  gatewayId: string;
  bootId: string;
  received: Array<{ first: Int64; last: Int64 }>;
  sentWallMs: Int64;
}

/** Encodes a delivery receipt; throws if a field does not fit the schema. */
export function encodeReceipt(msg: DeliveryReceiptMsg): Uint8Array {
  const type = receipt();
  const message = type.fromObject(msg as unknown as Record<string, unknown>);
  const problem = type.verify(message);
  if (problem) throw new TypeError(`receipt does not fit vigil.v1: ${problem}`);
  return type.encode(message).finish();
}

/** Decodes a delivery receipt; throws on bytes that are not a vigil.v1 DeliveryReceipt. */
export function decodeReceipt(bytes: Uint8Array): DeliveryReceiptMsg {
  const type = receipt();
  return type.toObject(type.decode(bytes), { longs: String, defaults: true, arrays: true }) as DeliveryReceiptMsg;
}
