/**
 * The device identities the drivers learned (HAZ-011: the serial number of the device bound
 * to this bed), kept across a restart of the agent or of the gateway, so that a device
 * swapped while the agent was down is held back until a nurse confirms the change, as it
 * would have been while running. Saved as the `identities` state record in the queue's
 * LevelDB (io/durable-queue.ts) whenever a learned identity changes (first seen, or a change
 * confirmed at the station).
 *
 * An identity does not age, so it is kept across a reboot too. A configured `serialNumber`
 * always wins; an identity saved for an interface that no longer exists is dropped. A record
 * that cannot be read is reported and ignored: the drivers learn again from the first frame,
 * as on a first start.
 */
import { z } from 'zod';
import type { StateStore } from '../io/durable-queue';
import { decodeJsonRecord, encodeJsonRecord } from '../model/json-record';
import { StateRecordWriter } from '../io/durable-queue';
import type { DeviceDriver } from './driver';

/** The state record's name in the store. */
export const IDENTITY_STATE_RECORD = 'identities';
const FORMAT_VERSION = 1;

const recordSchema = z.strictObject({
  version: z.literal(FORMAT_VERSION),
  /** interface id -> learned identity */
  identities: z.record(z.string().max(64), z.string().min(1).max(64)),
});

export function encodeIdentities(identities: Readonly<Record<string, string>>): Uint8Array {
  return encodeJsonRecord({ version: FORMAT_VERSION, identities });
}

export type DecodedIdentities = { ok: true; identities: Record<string, string> } | { ok: false; reason: string };

export function decodeIdentities(bytes: Uint8Array): DecodedIdentities {
  const decoded = decodeJsonRecord(bytes, recordSchema);
  return decoded.ok ? { ok: true, identities: decoded.value.identities } : decoded;
}

export interface IdentityRestoreReport {
  outcome: 'none' | 'restored' | 'unreadable';
  reason?: string;
  /** interface id -> identity bound again */
  restored: Record<string, string>;
  /** Saved for an interface that is gone or has a configured identity: not used. */
  ignored: string[];
}

/** Keeps the learned identities of the drivers in the store. */
export class IdentityKeeper {
  private readonly writer: StateRecordWriter;
  /** What the store holds (or will, once the save under way completes), as JSON. */
  private savedJson: string;

  constructor(
    store: StateStore,
    private readonly drivers: readonly DeviceDriver[],
  ) {
    this.writer = new StateRecordWriter(store, IDENTITY_STATE_RECORD);
    this.savedJson = JSON.stringify(this.current());
  }

  /** The learned identities now, by interface id. */
  current(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const d of this.drivers) {
      const identity = d.learnedIdentity();
      if (identity !== null) out[d.interfaceId] = identity;
    }
    return out;
  }

  /** At start-up, before the drivers start: binds what the record holds. */
  restore(saved: Uint8Array | undefined): IdentityRestoreReport {
    const report: IdentityRestoreReport = { outcome: 'none', restored: {}, ignored: [] };
    if (saved === undefined) return report;
    const decoded = decodeIdentities(saved);
    if (!decoded.ok) return { ...report, outcome: 'unreadable', reason: decoded.reason };
    for (const [interfaceId, identity] of Object.entries(decoded.identities)) {
      const driver = this.drivers.find((d) => d.interfaceId === interfaceId);
      if (driver?.restoreIdentity(identity)) report.restored[interfaceId] = identity;
      else report.ignored.push(interfaceId);
    }
    report.outcome = 'restored';
    this.savedJson = JSON.stringify(this.current());
    return report;
  }

  /** Whether a learned identity changed since the last save that succeeded or is under way. */
  get changed(): boolean {
    return JSON.stringify(this.current()) !== this.savedJson;
  }

  /** Saves the identities as they are now; resolves with null once on disk or the error's message. */
  save(): Promise<string | null> {
    const identities = this.current();
    const json = JSON.stringify(identities);
    this.savedJson = json;
    return this.writer.write(encodeIdentities(identities)).then((error) => {
      if (error !== null && this.savedJson === json) this.savedJson = ''; // still to save: retried
      return error;
    });
  }
}
