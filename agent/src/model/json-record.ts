/**
 * The state records kept across a restart (commands-in/persistence.ts,
 * drivers/bound-identities.ts) are UTF-8 JSON checked against a zod schema when read back.
 * A record that is not one is refused with the first problem as `path: rule`, never used in part.
 */
import type { z } from 'zod';

export type DecodedRecord<T> = { ok: true; value: T } | { ok: false; reason: string };

export function encodeJsonRecord(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

export function decodeJsonRecord<S extends z.ZodType>(bytes: Uint8Array, schema: S): DecodedRecord<z.output<S>> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `${issue?.path.join('.') || 'record'}: ${issue?.message ?? 'invalid'}` };
  }
  return { ok: true, value: parsed.data };
}
