/**
 * The rules a decoded station command must meet before anything acts on it
 * (docs/interfaces/commands.md). Protobuf decoding only says the bytes fit the schema;
 * these rules say the values make sense: ids and names in their formats, exactly one
 * action, a manual observation that gives at least one value, bounded durations.
 *
 * Problems are reported as the field and the rule, never the value.
 */
import { z } from 'zod';
import type { CommandMsg } from '../proto/codec';

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be 1-64 letters, digits, "-" or "_"');
/** Alarm ids are `<source>.<condition>` (safety/alarms.ts), e.g. "spo2.link-lost". */
const alarmId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'must be an alarm id');
/** A person's name or login as the station shows it: letters, digits, space, . _ @ - */
const user = z
  .string()
  .min(1, 'must name who entered the command')
  .max(64, 'must be at most 64 characters')
  .regex(/^[\p{L}\p{N}][\p{L}\p{N} ._@-]*$/u, 'must be letters, digits, space, ".", "_", "@" or "-"');

export const CONSCIOUSNESS_CODE = {
  CONSCIOUSNESS_ALERT: 'A',
  CONSCIOUSNESS_CONFUSION: 'C',
  CONSCIOUSNESS_VOICE: 'V',
  CONSCIOUSNESS_PAIN: 'P',
  CONSCIOUSNESS_UNRESPONSIVE: 'U',
} as const;
export type Acvpu = (typeof CONSCIOUSNESS_CODE)[keyof typeof CONSCIOUSNESS_CODE];

const manualObservation = z
  .strictObject({
    consciousness: z.enum(['CONSCIOUSNESS_UNSPECIFIED', ...(Object.keys(CONSCIOUSNESS_CODE) as Array<keyof typeof CONSCIOUSNESS_CODE>)]),
    oxygen: z.enum(['OXYGEN_SUPPLY_UNSPECIFIED', 'OXYGEN_SUPPLY_AIR', 'OXYGEN_SUPPLY_SUPPLEMENTAL']),
    spo2Scale: z.union([z.literal(0), z.literal(1), z.literal(2)], { error: 'must be 0 (not given), 1 or 2' }),
  })
  .refine((m) => m.consciousness !== 'CONSCIOUSNESS_UNSPECIFIED' || m.oxygen !== 'OXYGEN_SUPPLY_UNSPECIFIED' || m.spo2Scale !== 0, {
    message: 'must give at least one of consciousness, oxygen, spo2Scale',
  });

export const commandSchema = z
  .strictObject({
    schemaVersion: z.literal(1, { error: 'must be 1' }),
    commandId: z.uuid({ error: 'must be a UUID' }),
    /** int64 decoded as a decimal string. */
    issuedWallMs: z
      .string()
      .regex(/^[1-9][0-9]{0,15}$/, 'must be a positive wall time in ms')
      .transform(Number),
    gatewayId: id,
    siteId: id,
    wardId: id,
    bedId: id,
    user,
    stationId: id,
    manualObservation: manualObservation.optional(),
    alarmAcknowledge: z.strictObject({ alarmId }).optional(),
    alarmSilence: z
      .strictObject({
        alarmId,
        // IEC 60601-1-8 lets the operator pause an audio signal for a bounded time; 10 min at most here.
        durationSec: z.number().int().min(1, 'must be 1-600 s').max(600, 'must be 1-600 s'),
      })
      .optional(),
    deviceConfirm: z
      .strictObject({
        interfaceId: id,
        serialNumber: z.string().regex(/^[0-9A-Za-z]{0,16}$/, 'must be 0-16 letters or digits'),
      })
      .optional(),
  })
  .superRefine((c, ctx) => {
    const actions = [c.manualObservation, c.alarmAcknowledge, c.alarmSilence, c.deviceConfirm].filter((a) => a !== undefined);
    if (actions.length !== 1) ctx.addIssue({ code: 'custom', path: ['action'], message: 'must carry exactly one action' });
  });

export type Command = z.infer<typeof commandSchema>;

export type CommandCheck = { ok: true; command: Command } | { ok: false; field: string; rule: string };

/** Validates a decoded command; on failure, the first problem as field and rule. */
export function checkCommand(decoded: CommandMsg): CommandCheck {
  const result = commandSchema.safeParse(decoded);
  if (result.success) return { ok: true, command: result.data };
  // A failed zod parse always carries at least one issue.
  const issue = result.error.issues[0] as (typeof result.error.issues)[number];
  const field = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
  return { ok: false, field, rule: issue.message };
}
