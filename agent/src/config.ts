/**
 * The agent's configuration file (JSON), parsed once at start-up with zod strict
 * objects. Every problem is reported at once as `path: message`; an unknown key is
 * an error (a misspelt safety setting must not be silently ignored).
 *
 * Interface specification: docs/interfaces/config.md.
 */
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { CONFORMANCE_LEVELS } from './drivers/hl7-pcd01/conformance';
import { hl7ProfileNames } from './drivers/hl7-pcd01/profile';
import { ConfigError } from './errors';
import { PARAMETER_CODES } from './model/parameters';
import type { ParameterCode } from './model/parameters';
import { NEWS2_DEFAULT_PRIORITIES } from './safety/conditions';

const id = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be 1-64 letters, digits, "-" or "_", starting with a letter or digit');

const utcOffset = z
  .string()
  .regex(/^[+-](0\d|1[0-4]):[0-5]\d$/, 'must be a UTC offset like "+00:00" or "-05:30"');

const masimoInterface = z.strictObject({
  id,
  driver: z.literal('masimo-ascii'),
  /** The serial device node, e.g. /dev/ttyUSB0 or a udev link /dev/vigil-spo2. */
  path: z.string().startsWith('/', 'must be an absolute device path'),
  baudRate: z.literal([9600, 19200, 38400]).default(9600),
  /** The device's own clock is local time without a zone: this says which. */
  deviceUtcOffset: utcOffset.default('+00:00'),
  /** With no valid frame for this long the link is stale and its values are withdrawn. */
  quietTimeMs: z.number().int().min(1500).max(60000).default(3000),
  /** Delay before reopening a port that closed or failed to open. */
  reopenDelayMs: z.number().int().min(100).max(60000).default(1000),
  /**
   * The device's serial number (SN=). When set, frames from another device are rejected;
   * when absent, the first serial seen is learned and a change is rejected until confirmed.
   */
  serialNumber: z.string().regex(/^[0-9A-Za-z]{1,16}$/, 'must be 1-16 letters or digits').optional(),
  /** Let unverified device values (status R) feed the score. Masimo sends final values. */
  scoreUnverified: z.boolean().default(false),
});

/**
 * A multi-parameter monitor sending HL7 v2 ORU^R01 (IHE PCD-01), MLLP framed, on a serial
 * line or to a TCP listener the gateway opens (docs/interfaces/hl7-pcd01.md). Monitors send
 * episodically (periodic vitals every 5-60 s): set quietTimeMs to at least twice the period.
 */
const hl7Common = {
  id,
  driver: z.literal('hl7-pcd01'),
  /** Offset applied to HL7 times sent without a zone (OBX-14, OBR-7). */
  deviceUtcOffset: utcOffset.default('+00:00'),
  /** With no valid message for this long the link is stale and its values are withdrawn. */
  quietTimeMs: z.number().int().min(1500).max(600_000).default(30_000),
  /**
   * The monitor's equipment id (OBX-18, an EUI-64). When set, messages from another device are
   * rejected; when absent, the first id seen is learned and a change is held back until confirmed.
   */
  equipmentId: z.string().regex(/^[0-9A-Za-z._:-]{1,64}$/, 'must be 1-64 letters, digits, ".", "_", ":" or "-"').optional(),
  /** Let unverified device values (OBX-11 "R", how live monitor values arrive) feed the score. */
  scoreUnverified: z.boolean().default(false),
  /**
   * A relayed PCD-04 alert the monitor has not updated (no `continue`) for this long stays shown,
   * with a text saying its end may have been lost (docs/interfaces/hl7-pcd01.md, "Alerts").
   */
  alertUpdateTimeoutMs: z.number().int().min(5000).max(3_600_000).default(60_000),
  /**
   * How far a message may deviate from IHE PCD-01 (drivers/hl7-pcd01/conformance.ts): tolerant
   * (HL7 2.3-2.9, no MSH-21, ... each deviation counted) or pcd01-strict (any deviation rejects).
   */
  conformance: z.enum(CONFORMANCE_LEVELS).default('tolerant'),
  /** The monitor's device profile (agent/profiles/hl7/<name>.json), or "auto" to select it by MSH-3/MSH-4. */
  profile: z
    .string()
    .refine((p) => p === 'auto' || hl7ProfileNames().includes(p), { message: `must be "auto" or the name of a profile in agent/profiles/hl7 (${hl7ProfileNames().join(', ')})` })
    .optional(),
};

const hl7SerialInterface = z.strictObject({
  ...hl7Common,
  transport: z.literal('serial'),
  /** The serial device node, e.g. /dev/serial/by-id/... or a udev link. */
  path: z.string().startsWith('/', 'must be an absolute device path'),
  baudRate: z.literal([9600, 19200, 38400, 57600, 115200]).default(115200),
  /** Delay before reopening a port that closed or failed to open. */
  reopenDelayMs: z.number().int().min(100).max(60000).default(1000),
});

const hl7TcpInterface = z
  .strictObject({
    ...hl7Common,
    transport: z.literal('tcp'),
    /** Address the listener binds to; the default accepts local connections only. */
    host: z.string().min(1).default('127.0.0.1'),
    /** 2575 is the port IANA registered for HL7 over MLLP. */
    port: z.number().int().min(1).max(65535).default(2575),
    /** TLS server certificate and key; with caFile, monitors must present a certificate from that CA. */
    tls: z.strictObject({ certFile: z.string(), keyFile: z.string(), caFile: z.string().optional() }).optional(),
    /** A listener without TLS must be asked for explicitly, and it warns at every start. */
    insecure: z.boolean().default(false),
    /** Delay before listening again after the listener failed. */
    reopenDelayMs: z.number().int().min(100).max(60000).default(1000),
  })
  .superRefine((t, ctx) => {
    if (t.tls === undefined && !t.insecure) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'is required: configure TLS or set "insecure": true explicitly' });
    }
    if (t.tls !== undefined && t.insecure) {
      ctx.addIssue({ code: 'custom', path: ['insecure'], message: 'contradicts tls: remove one of them' });
    }
  });

/**
 * The Vigil sensor patch (docs/interfaces/vigil-patch.md): COBS-framed binary frames with a
 * CRC-32C on a USB serial port; ECG, PPG and accelerometer waveforms become heart rate, SpO2,
 * pulse and respiration rate in the native addon.
 */
const vigilPatchInterface = z.strictObject({
  id,
  driver: z.literal('vigil-patch'),
  /** The serial device node, e.g. /dev/serial/by-id/usb-Vigil_Patch_Dongle_... or a udev link. */
  path: z.string().startsWith('/', 'must be an absolute device path'),
  /** USB CDC-ACM ignores it; the UART variant of the dongle runs at 921600 (or 115200). */
  baudRate: z.literal([115200, 230400, 460800, 921600]).default(921600),
  /**
   * The patch's serial number (8 hex digits). When set, frames from another patch are
   * rejected; when absent, the first serial seen is learned and a change is held back until confirmed.
   */
  serialNumber: z.string().regex(/^[0-9A-F]{8}$/, 'must be 8 upper-case hex digits').optional(),
  /** With no valid waveform frame for this long (the patch sends 15 a second) the link is stale. */
  quietTimeMs: z.number().int().min(500).max(60000).default(1000),
  /** Delay before reopening a port that closed or failed to open. */
  reopenDelayMs: z.number().int().min(100).max(60000).default(1000),
  /** Period of the keep-alive; the patch stops streaming after 5 s without any host frame. */
  keepAliveIntervalMs: z.number().int().min(200).max(2500).default(1000),
  /** Sample rates asked of the patch (SET_RATE); absent: the patch's defaults (ECG 250, PPG 100 Hz). */
  ecgSampleRateHz: z.literal([125, 250, 500]).optional(),
  ppgSampleRateHz: z.literal([50, 100, 200]).optional(),
  /**
   * The sensor's SpO2 calibration curve `SpO2 = a + b R + c R^2` (measured for the patch's LEDs
   * against arterial blood gases); absent: the documented default 110 - 25 R.
   */
  spo2Calibration: z.strictObject({ a: z.number().finite(), b: z.number().finite(), c: z.number().finite() }).optional(),
  /** The patch's values are derived by the gateway and final; kept for uniformity with the other drivers. */
  scoreUnverified: z.boolean().default(false),
});

const interfaceSchema = z.discriminatedUnion('driver', [
  masimoInterface,
  z.discriminatedUnion('transport', [hl7SerialInterface, hl7TcpInterface]),
  vigilPatchInterface,
]);

const mqtt = z
  .strictObject({
    url: z.string().regex(/^(mqtt|mqtts|tcp|ssl):\/\/[^\s]+$/, 'must be an mqtt://, mqtts:// URL with host and port'),
    protocolVersion: z.literal([5, 4]).default(5),
    /** Plain TCP (no TLS) must be asked for explicitly, and it warns at every start. */
    insecure: z.boolean().default(false),
    caFile: z.string().optional(),
    certFile: z.string().optional(),
    keyFile: z.string().optional(),
    usernameFile: z.string().optional(),
    passwordFile: z.string().optional(),
    keepaliveSec: z.number().int().min(2).max(300).default(10),
    heartbeatIntervalMs: z.number().int().min(500).max(60000).default(5000),
    reconnectPeriodMs: z.number().int().min(100).max(60000).default(1000),
  })
  .superRefine((m, ctx) => {
    const tls = m.url.startsWith('mqtts:') || m.url.startsWith('ssl:');
    if (!tls && !m.insecure) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: 'is plain TCP: use mqtts:// or set "insecure": true explicitly',
      });
    }
    if ((m.certFile === undefined) !== (m.keyFile === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['certFile'], message: 'certFile and keyFile go together' });
    }
  });

export const configSchema = z.strictObject({
  /** The JSON Schema the file follows (for editors, e.g. /usr/share/vigil/vigil-config.schema.json); not used otherwise. */
  $schema: z.string().optional(),
  gateway: z.strictObject({
    gatewayId: id,
    siteId: id,
    wardId: id,
    bedId: id,
  }),
  mqtt,
  interfaces: z
    .array(interfaceSchema)
    .min(1, 'must list at least one interface')
    .superRefine((list, ctx) => {
      const seen = new Set<string>();
      list.forEach((itf, i) => {
        if (seen.has(itf.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: 'is used twice' });
        seen.add(itf.id);
      });
    }),
  patient: z
    .strictObject({
      /** NEWS2 SpO2 scale 2 is a clinical decision for a patient; default scale 1. */
      spo2Scale: z.literal([1, 2]).default(1),
      /**
       * The bed's patient identifier: an HL7 monitor's PID-3 must carry it, or the message is
       * rejected with a technical alarm (docs/interfaces/hl7-pcd01.md). Absent: not checked.
       */
      patientId: z.string().min(1).max(64).optional(),
      /** With patientId: the PID-3 assigning authority (CX-4) that must come with it. */
      patientIdAuthority: z.string().min(1).max(64).optional(),
    })
    .superRefine((p, ctx) => {
      if (p.patientIdAuthority !== undefined && p.patientId === undefined) {
        ctx.addIssue({ code: 'custom', path: ['patientIdAuthority'], message: 'needs patientId' });
      }
    })
    .default({ spo2Scale: 1 }),
  /** Maximum age of a value before it is withdrawn, per parameter (defaults in model/parameters.ts). */
  maxAgeMs: z
    .partialRecord(z.enum(PARAMETER_CODES as [ParameterCode, ...ParameterCode[]]), z.number().int().min(1000).max(7_200_000))
    .default({}),
  /** Beyond this device-minus-gateway clock offset, device time is untrusted (flagged, not used for age). */
  clockOffsetBoundMs: z.number().int().min(1000).max(86_400_000).default(120_000),
  /** Which parameters feed a NEWS2 input, in priority order (default: ECG heart rate, then pulse). */
  news2Priority: z
    .strictObject({
      pulseBpm: z.array(z.enum(['heartRate', 'pulseRate'])).min(1).optional(),
    })
    .default({}),
  /** Single-fault supervision (docs/single-fault.md). */
  safety: z
    .strictObject({
      /** An event loop blocked longer than this is a fault: counted and alarmed. */
      eventLoopStallMs: z.number().int().min(100).max(60_000).default(1000),
      /** Identical values from an interface for this long: frozen (flagged, kept out of the score, alarmed). */
      frozenWindowMs: z.number().int().min(5000).max(600_000).default(30_000),
    })
    .default({ eventLoopStallMs: 1000, frozenWindowMs: 30_000 }),
  /** Alarm policy a site may set (docs/alarms.md lists every condition and its default priority). */
  alarms: z
    .strictObject({
      /**
       * IEC 60601-1-8 priority of each NEWS2 trigger-level alarm (news2-low-medium, news2-medium,
       * news2-high); defaults from the catalogue (safety/conditions.ts, RCP NEWS2 2017 charts 3-4).
       * Not the top-level news2Priority, which chooses the source of a NEWS2 input.
       */
      news2TriggerPriority: z
        .strictObject({
          lowMedium: z.enum(['low', 'medium', 'high']).default(NEWS2_DEFAULT_PRIORITIES.lowMedium),
          medium: z.enum(['low', 'medium', 'high']).default(NEWS2_DEFAULT_PRIORITIES.medium),
          high: z.enum(['low', 'medium', 'high']).default(NEWS2_DEFAULT_PRIORITIES.high),
        })
        .default({ ...NEWS2_DEFAULT_PRIORITIES }),
    })
    .default({ news2TriggerPriority: { ...NEWS2_DEFAULT_PRIORITIES } }),
  /** Rejected frames within the window above which a technical alarm is raised. */
  rejectAlarm: z
    .strictObject({
      count: z.number().int().min(1).max(1000).default(3),
      windowMs: z.number().int().min(1000).max(600000).default(10000),
    })
    .default({ count: 3, windowMs: 10000 }),
  /** The durable store-and-forward queue (docs/interfaces/durable-queue.md). */
  queue: z
    .strictObject({
      /** LevelDB directory; one agent per directory (LevelDB locks it). */
      dir: z.string().startsWith('/', 'must be an absolute directory path').default('/var/lib/vigil/queue'),
      /** Size bound (key + value bytes); beyond it observations go first, then scores, then alarms. */
      maxBytes: z.number().int().min(16_384).max(4_294_967_296).default(67_108_864),
      /** Age bound: older messages are dropped whatever their class. */
      maxAgeMs: z.number().int().min(60_000).max(604_800_000).default(86_400_000),
      /**
       * End-to-end delivery (HAZ-013, CTRL-025): the stations (certificate names) whose delivery
       * receipts a queued message waits for before it leaves the queue. Empty: the broker's
       * PUBACK deletes it, and a broker crash can lose what it acknowledged (logged at start).
       */
      confirmBy: z.array(id).max(8).default([]),
      /**
       * A message a station's receipt passed over is sent again once it was sent this long ago;
       * an alarm change not confirmed this long after it was sent is sent again, receipt or not.
       */
      resendUnconfirmedAfterMs: z.number().int().min(1000).max(600_000).default(10_000),
      /**
       * Distributed alarm system (HAZ-013, CTRL-028): an alarm change still queued this long
       * after it was accepted (not confirmed by the stations of confirmBy; without them not
       * acknowledged by the broker) raises gateway.alarm-undelivered. 15 s: a station receipts
       * what it received at most every second, so a delivered alarm is confirmed within about
       * 2 s; one lost on the way is sent again at resendUnconfirmedAfterMs (10 s) and confirmed
       * about 2 s later; 3 s more for a loaded broker. The same 15 s in which a station
       * declares a silent gateway lost (three missed 5 s heartbeats, docs/interfaces/mqtt.md).
       */
      alarmDeliveryBoundMs: z.number().int().min(2000).max(300_000).default(15_000),
    })
    .superRefine((q, ctx) => {
      if (q.confirmBy.length > 0 && q.alarmDeliveryBoundMs <= q.resendUnconfirmedAfterMs) {
        ctx.addIssue({
          code: 'custom',
          path: ['alarmDeliveryBoundMs'],
          message: 'must be greater than resendUnconfirmedAfterMs: an unconfirmed alarm is sent again at least once before it is declared undelivered',
        });
      }
    })
    .default({ dir: '/var/lib/vigil/queue', maxBytes: 67_108_864, maxAgeMs: 86_400_000, confirmBy: [], resendUnconfirmedAfterMs: 10_000, alarmDeliveryBoundMs: 15_000 }),
  /** Commands from the station (docs/interfaces/commands.md). */
  commands: z
    .strictObject({
      /** A command issued longer ago than this is stale and refused; its id is remembered this long against replays. */
      maxAgeMs: z.number().int().min(5_000).max(600_000).default(60_000),
      /** Station clock ahead of the gateway's by more than this: refused as from the future. */
      maxClockSkewMs: z.number().int().min(0).max(60_000).default(5_000),
      /** How long a manual observation stays a current NEWS2 input. */
      manualMaxAgeMs: z
        .strictObject({
          consciousness: z.number().int().min(60_000).max(86_400_000).default(14_400_000),
          onOxygen: z.number().int().min(60_000).max(86_400_000).default(14_400_000),
          spo2Scale: z.number().int().min(60_000).max(604_800_000).default(86_400_000),
        })
        .default({ consciousness: 14_400_000, onOxygen: 14_400_000, spo2Scale: 86_400_000 }),
    })
    .default({
      maxAgeMs: 60_000,
      maxClockSkewMs: 5_000,
      manualMaxAgeMs: { consciousness: 14_400_000, onOxygen: 14_400_000, spo2Scale: 86_400_000 },
    }),
  log: z.strictObject({ level: z.enum(['debug', 'info', 'warn', 'error']).default('info') }).default({ level: 'info' }),
});

export type Config = z.infer<typeof configSchema>;
export type InterfaceConfig = Config['interfaces'][number];
export type MasimoInterfaceConfig = Extract<InterfaceConfig, { driver: 'masimo-ascii' }>;
export type Hl7Pcd01InterfaceConfig = Extract<InterfaceConfig, { driver: 'hl7-pcd01' }>;
export type VigilPatchInterfaceConfig = Extract<InterfaceConfig, { driver: 'vigil-patch' }>;
export type PatientConfig = Config['patient'];

/** Formats zod issues as `path: message`, one per problem. */
function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
    return `${path}: ${issue.message}`;
  });
}

/** Validates an already-parsed value against the schema (not the files it names: see loadConfig); throws ConfigError listing every problem. */
export function parseConfig(raw: unknown): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(formatIssues(result.error));
  return result.data;
}

/**
 * The files the configuration names that the agent reads at start (TLS material and broker
 * credentials), with their config paths. Read from the raw value, so that they are checked even
 * when other parts of the file are invalid: every problem is reported at once.
 */
function namedFiles(raw: unknown): Array<{ path: string; file: string }> {
  const found: Array<{ path: string; file: string }> = [];
  const collect = (obj: unknown, prefix: string, keys: readonly string[]): void => {
    if (typeof obj !== 'object' || obj === null) return;
    for (const key of keys) {
      const file = (obj as Record<string, unknown>)[key];
      if (typeof file === 'string') found.push({ path: `${prefix}.${key}`, file });
    }
  };
  if (typeof raw !== 'object' || raw === null) return found;
  const { mqtt, interfaces } = raw as { mqtt?: unknown; interfaces?: unknown };
  collect(mqtt, 'mqtt', ['caFile', 'certFile', 'keyFile', 'usernameFile', 'passwordFile']);
  if (Array.isArray(interfaces)) {
    interfaces.forEach((itf: unknown, i) => {
      if (typeof itf === 'object' && itf !== null) collect((itf as { tls?: unknown }).tls, `interfaces.${i}.tls`, ['certFile', 'keyFile', 'caFile']);
    });
  }
  return found;
}

/** Why `file` cannot be read by this process, or undefined when it can. */
function unreadable(file: string): string | undefined {
  try {
    // stat first: opening a FIFO for reading would block until a writer comes.
    if (!statSync(file).isFile()) return `not a regular file: ${file}`;
    closeSync(openSync(file, 'r')); // as this process's user: the service runs as `vigil`
    return undefined;
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'error';
    if (code === 'ENOENT' || code === 'ENOTDIR') return `file not found: ${file}`;
    if (code === 'EACCES' || code === 'EPERM') return `file not readable (permission denied): ${file}`;
    return `cannot read ${file}: ${code}`;
  }
}

/**
 * Every certificate, key, CA and credentials file the configuration names that cannot be read
 * now, as `path: message`. Checked at load so that a missing certificate stops the start with
 * the other problems, instead of failing later inside the MQTT or TLS listener setup.
 */
export function configFileIssues(raw: unknown): string[] {
  return namedFiles(raw).flatMap(({ path, file }) => {
    const problem = unreadable(file);
    return problem === undefined ? [] : [`${path}: ${problem}`];
  });
}

/**
 * Reads and validates a JSON config file, and checks that the files it names can be read;
 * throws ConfigError listing every problem.
 */
export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ConfigError([`(file): cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`], { cause });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new ConfigError([`(file): ${file} is not valid JSON: ${(cause as Error).message}`], { cause });
  }
  const result = configSchema.safeParse(raw);
  const issues = [...(result.success ? [] : formatIssues(result.error)), ...configFileIssues(raw)];
  if (!result.success || issues.length > 0) throw new ConfigError(issues);
  return result.data;
}

/**
 * The JSON Schema (draft 2020-12) of the configuration file, generated from `configSchema` for
 * editors (the file's `$schema` key) and shipped as agent/packaging/vigil-config.schema.json.
 * Input side: keys with a default are optional. Refinements (unique ids, TLS or `insecure`,
 * profile names, readable files) are not expressible there: `vigil check-config` checks them.
 */
export function configJsonSchema(): Record<string, unknown> {
  const { $schema, ...rest } = z.toJSONSchema(configSchema, {
    io: 'input',
    target: 'draft-2020-12',
    // zod marks startsWith() with a format of its own; JSON Schema has none, the pattern says it.
    override: (ctx) => {
      if (ctx.jsonSchema.format === 'starts_with') delete ctx.jsonSchema.format;
    },
  });
  return {
    $schema,
    title: 'Vigil gateway configuration',
    description: 'The configuration file of the Vigil bedside gateway agent (docs/interfaces/config.md). Generated by `vigil config-schema`.',
    ...rest,
  };
}
