/**
 * Vigil sensor patch, binary protocol v1: the frame layout and the vocabulary of the wire
 * format (frame types, streams and their rates, scales, STATUS bits, ACK results) and the
 * typed frames they decode to. Constants and types only; the codecs are in framing.ts (COBS,
 * CRC-32C), payload-decode.ts, payload-encode.ts and protocol.ts (whole frames).
 *
 * Source of truth: docs/interfaces/vigil-patch.md (Vigil is the manufacturer of both sides).
 *
 *   decoded frame (before COBS), little-endian:
 *   0  u8   protocol version (1)
 *   1  u8   frame type
 *   2  u32  device serial number (shown as 8 upper-case hex digits)
 *   6  u16  sequence number (wraps 65535 -> 0)
 *   8  u32  device tick, ms since power-on (wraps after 2^32 ms)
 *   12 u16  payload length n
 *   14 n    payload
 *   14+n u32 CRC-32C (Castagnoli) of bytes 0 .. 13+n
 */

export const PATCH_PROTOCOL_VERSION = 1;
export const HEADER_BYTES = 14;
export const CRC_BYTES = 4;
/** Largest payload a frame may carry (the largest the device sends is 322 bytes: PPG at 200 Hz). */
export const MAX_PAYLOAD_BYTES = 1024;
/** Largest decoded frame. */
export const MAX_DECODED_FRAME_BYTES = HEADER_BYTES + MAX_PAYLOAD_BYTES + CRC_BYTES;
/**
 * Largest COBS-encoded frame (without its 0x00 delimiter): one overhead byte per started
 * 254 bytes. The driver's bounded delimiter parser discards anything longer (overflow).
 */
export const MAX_ENCODED_FRAME_BYTES = MAX_DECODED_FRAME_BYTES + Math.ceil(MAX_DECODED_FRAME_BYTES / 254);
/** Host commands are sent to this serial number: whichever patch is on the port answers. */
export const BROADCAST_SERIAL = 'FFFFFFFF';

/** Why a frame is rejected: counted as `frames-rejected.<reason>` (docs/interfaces/vigil-patch.md). */
export type PatchRejectReason = 'framing' | 'checksum' | 'overflow' | 'version' | 'unknown-type' | 'length' | 'malformed';

/** Frame type codes; device -> host below 0x80, host -> device from 0x80. */
export const FRAME_TYPES = {
  ecg: 0x01,
  ppg: 0x02,
  accel: 0x03,
  status: 0x04,
  ack: 0x05,
  identity: 0x06,
  start: 0x81,
  stop: 0x82,
  identify: 0x83,
  'set-rate': 0x84,
  'keep-alive': 0x85,
} as const;
export type FrameTypeName = keyof typeof FRAME_TYPES;
export type CommandTypeName = 'start' | 'stop' | 'identify' | 'set-rate' | 'keep-alive';

const TYPE_BY_CODE = new Map<number, FrameTypeName>(
  (Object.entries(FRAME_TYPES) as [FrameTypeName, number][]).map(([name, code]) => [code, name]),
);

export function frameTypeName(code: number): FrameTypeName | undefined {
  return TYPE_BY_CODE.get(code);
}

/** The waveform streams and their allowed sample rates (SET_RATE may choose among them). */
export type StreamName = 'ecg' | 'ppg' | 'accel';
export const STREAM_CODES: Readonly<Record<StreamName, number>> = { ecg: 1, ppg: 2, accel: 3 };
export const ALLOWED_RATES_HZ: Readonly<Record<StreamName, readonly number[]>> = {
  ecg: [125, 250, 500],
  ppg: [50, 100, 200],
  accel: [25, 50],
};
export const DEFAULT_RATES_HZ: Readonly<Record<StreamName, number>> = { ecg: 250, ppg: 100, accel: 25 };

/** ECG scale: one LSB is 2.5 µV (full scale +-81.9 mV after the front end's DC removal). */
export const ECG_MICROVOLTS_PER_LSB = 2.5;
/** Accelerometer scale: one LSB is 0.25 mg (full scale +-8.19 g). */
export const ACCEL_MILLI_G_PER_LSB = 0.25;
/** PPG samples: unsigned 22-bit photodiode ADC counts of received light (a pulse makes them fall). */
export const PPG_MAX_COUNT = 0x3fffff;
/** Skin temperature: 0.01 °C per LSB; this value means "not measured". */
export const SKIN_TEMP_CENTI_CELSIUS_UNAVAILABLE = 0x7fff;
export const BATTERY_PERCENT_UNKNOWN = 0xff;

/** STATUS flag bits (docs/interfaces/vigil-patch.md, "Status"). Bits 8-15 are reserved (0). */
export const STATUS_BITS = {
  'lead-off': 0x0001,
  'probe-off': 0x0002,
  motion: 0x0004,
  'low-battery': 0x0008,
  charging: 0x0010,
  streaming: 0x0020,
  'sensor-fault': 0x0040,
  'host-timeout': 0x0080,
} as const;
export type PatchCondition = keyof typeof STATUS_BITS;
export const KNOWN_STATUS_MASK = Object.values(STATUS_BITS).reduce((m, b) => m | b, 0);

export const ACK_RESULTS = ['ok', 'unknown-command', 'bad-argument', 'not-allowed'] as const;
export type AckResult = (typeof ACK_RESULTS)[number];

export const MODEL_BYTES = 12;

export type PatchPayload =
  | { type: 'ecg'; sampleRateHz: number; /** ADC units, ECG_MICROVOLTS_PER_LSB each. */ samples: Int16Array }
  | { type: 'ppg'; sampleRateHz: number; red: Uint32Array; ir: Uint32Array }
  | { type: 'accel'; sampleRateHz: number; /** ACCEL_MILLI_G_PER_LSB each. */ x: Int16Array; y: Int16Array; z: Int16Array }
  | {
      type: 'status';
      flags: number;
      conditions: PatchCondition[];
      /** Reserved bits found set: kept raw, reported as an unknown device condition. */
      unknownFlagBits: number;
      skinTempCelsius: number | null;
      batteryPercent: number | null;
      batteryMv: number;
    }
  | { type: 'ack'; ackedSequence: number; ackedType: number; result: AckResult }
  | { type: 'identity'; firmware: { major: number; minor: number; patch: number }; hardwareRevision: number; model: string }
  | { type: 'start' }
  | { type: 'stop' }
  | { type: 'identify' }
  | { type: 'set-rate'; stream: StreamName; sampleRateHz: number }
  | { type: 'keep-alive' };

export interface PatchFrame {
  version: number;
  /** 8 upper-case hex digits. */
  serial: string;
  sequence: number;
  /** Device tick in ms since power-on (u32; for a waveform, the tick of its first sample). */
  tickMs: number;
  payload: PatchPayload;
}

const SERIAL_SHAPE = /^[0-9A-F]{8}$/;

/** A serial number as the frames carry it: 8 upper-case hex digits. */
export function isPatchSerial(text: string): boolean {
  return SERIAL_SHAPE.test(text);
}
