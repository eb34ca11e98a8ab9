/**
 * What the station's accepted commands leave behind, kept across a restart of the agent
 * (a crash, SIGKILL, the watchdog, an update): the manual NEWS2 inputs, and the ids of the
 * commands remembered for replay refusal. Saved in the durable queue's LevelDB (a state
 * record, io/durable-queue.ts) with a synchronous write after every command that changed
 * them, before the command is answered (main.ts).
 *
 * Ages are the gateway's monotonic clock, which is the system's CLOCK_MONOTONIC: shared by
 * every process of one boot, restarted by a reboot. The record carries the kernel's boot id,
 * so at start-up:
 *   same boot    manual inputs come back with their true age (while within their maximum
 *                age), and remembered ids keep their arrival time;
 *   other boot   (a power cut, a reboot) nothing measures how long the gateway was off: a
 *                Raspberry Pi has no real-time clock and may start with an old wall time.
 *                Manual inputs are NOT restored (the score lists them missing until a nurse
 *                enters them again: never an old input used as current); remembered ids are
 *                kept for a whole replay window from now (refusing too much, never too little).
 *
 * A record that cannot be read (corrupt, another version) is reported and ignored: the agent
 * starts with no manual inputs and no remembered ids, the safe side for inputs, and the
 * command time check still refuses old replays.
 */
import { z } from 'zod';
import type { Clock } from '../clock';
import type { StateStore } from '../io/durable-queue';
import { StateRecordWriter } from '../io/durable-queue';
import { decodeJsonRecord, encodeJsonRecord } from '../model/json-record';
import type { ObservationMsg } from '../proto/codec';
import type { Entry, ManualObservations, ManualParameter, ManualSnapshot } from './manual';
import { CONSCIOUSNESS_CODE } from './schema';
import type { CommandStage } from './stage';
import { MAX_REMEMBERED_IDS } from './stage';

/** The state record's name in the store. */
export const COMMAND_STATE_RECORD = 'commands';
const FORMAT_VERSION = 1;

export interface CommandState {
  /** The kernel's boot id when saved (/proc/sys/kernel/random/boot_id); '' when unknown. */
  bootId: string;
  savedWallMs: number;
  remembered: Array<[commandId: string, monoNs: bigint]>;
  manual: ManualSnapshot;
}

const monoNs = z
  .string()
  .regex(/^[0-9]{1,20}$/, 'must be a monotonic time in ns')
  .transform((v) => BigInt(v));
const text = z.string().max(128);
function entry<T extends z.ZodType>(value: T) {
  return z.strictObject({
    value,
    provenance: z.strictObject({ enteredBy: text, commandId: text, stationId: text, enteredWallMs: z.number().finite() }),
    receiveWallMs: z.number().finite(),
    receiveMonoNs: monoNs,
  });
}
const recordSchema = z.strictObject({
  version: z.literal(FORMAT_VERSION),
  bootId: z.string().max(64),
  savedWallMs: z.number().finite(),
  remembered: z.array(z.tuple([z.string().max(64), monoNs])).max(MAX_REMEMBERED_IDS),
  manual: z.strictObject({
    consciousness: entry(z.enum(Object.values(CONSCIOUSNESS_CODE) as [string, ...string[]])).optional(),
    onOxygen: entry(z.boolean()).optional(),
    spo2Scale: entry(z.union([z.literal(1), z.literal(2)])).optional(),
  }),
});

const jsonEntry = (e: Entry<unknown> | undefined) => (e ? { ...e, receiveMonoNs: e.receiveMonoNs.toString() } : undefined);

export function encodeCommandState(state: CommandState): Uint8Array {
  const record = {
    version: FORMAT_VERSION,
    bootId: state.bootId,
    savedWallMs: state.savedWallMs,
    remembered: state.remembered.map(([id, at]) => [id, at.toString()]),
    manual: {
      consciousness: jsonEntry(state.manual.consciousness),
      onOxygen: jsonEntry(state.manual.onOxygen),
      spo2Scale: jsonEntry(state.manual.spo2Scale),
    },
  };
  return encodeJsonRecord(record);
}

export type DecodedCommandState = { ok: true; state: CommandState } | { ok: false; reason: string };

/** Reads a saved record; a record that is not one (bytes, JSON, any rule) is refused with the reason. */
export function decodeCommandState(bytes: Uint8Array): DecodedCommandState {
  const decoded = decodeJsonRecord(bytes, recordSchema);
  if (!decoded.ok) return decoded;
  const { bootId, savedWallMs, remembered, manual } = decoded.value;
  return { ok: true, state: { bootId, savedWallMs, remembered, manual: manual as ManualSnapshot } };
}

export interface RestoreReport {
  outcome: 'none' | 'same-boot' | 'other-boot' | 'unreadable';
  /** Why the record could not be read (outcome `unreadable`). */
  reason?: string;
  rememberedIds: number;
  /** Inputs taken back (same boot, within their maximum age). */
  restored: ManualParameter[];
  /** Inputs saved but not taken back (another boot, or past their maximum age). */
  notRestored: ManualParameter[];
  /** The restored inputs' observations, to publish again. */
  observations: ObservationMsg[];
}

/** Keeps the commands' state in the store: restores it once at start-up, saves it after changes. */
export class CommandStateKeeper {
  private readonly writer: StateRecordWriter;
  private savedRevision: number;

  constructor(
    store: StateStore,
    private readonly bootId: string,
    private readonly clock: Clock,
    private readonly stage: CommandStage,
    private readonly manual: ManualObservations,
  ) {
    this.savedRevision = stage.revision;
    this.writer = new StateRecordWriter(store, COMMAND_STATE_RECORD);
  }

  /** At start-up, before any command: takes back what the record holds. */
  restore(saved: Uint8Array | undefined): RestoreReport {
    const report: RestoreReport = { outcome: 'none', rememberedIds: 0, restored: [], notRestored: [], observations: [] };
    if (saved === undefined) return report;
    const decoded = decodeCommandState(saved);
    if (!decoded.ok) return { ...report, outcome: 'unreadable', reason: decoded.reason };
    const { state } = decoded;
    const saw = (Object.keys(state.manual) as ManualParameter[]).filter((p) => state.manual[p] !== undefined);
    const sameBoot = state.bootId !== '' && state.bootId === this.bootId;
    if (sameBoot) {
      this.stage.restoreRemembered(state.remembered);
      report.observations = this.manual.restore(state.manual);
      report.restored = report.observations.map((o) => o.parameter as ManualParameter);
    } else {
      const now = this.clock.monoNs();
      this.stage.restoreRemembered(state.remembered.map(([id]) => [id, now]));
    }
    report.outcome = sameBoot ? 'same-boot' : 'other-boot';
    report.rememberedIds = this.stage.remembered().length;
    report.notRestored = saw.filter((p) => !report.restored.includes(p));
    return report;
  }

  /** Whether a command changed what is kept since the last save that succeeded or is under way. */
  get changed(): boolean {
    return this.stage.revision !== this.savedRevision;
  }

  /**
   * Saves the state as it is now, after the saves already under way (the last one wins).
   * Resolves with null once on disk, or with the error's message (the state then counts as
   * changed again, so that the caller retries); never rejects.
   */
  save(): Promise<string | null> {
    const revision = this.stage.revision;
    this.savedRevision = revision;
    const bytes = encodeCommandState({ bootId: this.bootId, savedWallMs: this.clock.wallMs(), remembered: this.stage.remembered(), manual: this.manual.snapshot() });
    return this.writer.write(bytes).then((error) => {
      if (error !== null && this.savedRevision === revision) this.savedRevision = -1; // still to save: retried
      return error;
    });
  }
}
