/**
 * What the agent keeps across a restart besides its messages (HAZ-011, HAZ-013), as state
 * records in the durable queue's store:
 *
 *   commands     what accepted station commands leave (manual NEWS2 inputs, ids remembered
 *                against replays): on disk BEFORE the command is answered accepted
 *   identities   the device identities the drivers learned: a device swapped while the
 *                agent was down is held back after the restart
 *
 * A failed write is counted, said in the command's answer, alarmed (state-not-saved) and
 * retried every safety tick until it succeeds. A record that cannot be read is counted and
 * logged; its manual inputs are withdrawn at the station (never shown as current).
 * Without a store (unit tests), everything is kept in memory only.
 */
import type { Clock } from '../clock';
import type { ManualObservations, ManualParameter } from '../commands-in/manual';
import type { RestoreReport } from '../commands-in/persistence';
import { COMMAND_STATE_RECORD, CommandStateKeeper } from '../commands-in/persistence';
import type { CommandStage } from '../commands-in/stage';
import type { Counters } from '../counters';
import type { DeviceDriver } from '../drivers/driver';
import { IDENTITY_STATE_RECORD, IdentityKeeper } from '../drivers/bound-identities';
import type { StateStore } from '../io/durable-queue';
import type { Logger } from '../log';
import type { CommandResultMsg, ObservationMsg } from '../proto/codec';
import type { AlarmStage } from '../safety/alarm-stage';

/** The store and what an earlier run left in it (commands/run.ts opens and reads it). */
export interface SavedState {
  store: StateStore;
  /** The kernel's id of this boot: manual inputs come back on the same boot only. */
  bootId: string;
  /** The records an earlier run left, by name. */
  saved: ReadonlyMap<string, Uint8Array>;
}

export interface DurableStateDeps {
  clock: Clock;
  logger: Logger;
  counters: Counters;
  alarms: AlarmStage;
  commands: CommandStage;
  manual: ManualObservations;
  drivers: readonly DeviceDriver[];
  state?: SavedState | undefined;
}

/** Manual inputs of an earlier run, to publish again or withdraw (pipeline/observation-flow.ts). */
export interface ResumedManual {
  observations: ObservationMsg[];
  dropped: ManualParameter[];
  reason: 'gateway-rebooted' | 'state-unreadable' | 'max-age-exceeded';
}

export class DurableState {
  private readonly commandKeeper: CommandStateKeeper | null;
  private readonly identityKeeper: IdentityKeeper | null;
  /** record -> why it is not saved (the alarm's detail), while a save fails. */
  private readonly problems = new Map<string, string>();

  constructor(private readonly d: DurableStateDeps) {
    const s = d.state;
    this.commandKeeper = s ? new CommandStateKeeper(s.store, s.bootId, d.clock, d.commands, d.manual) : null;
    this.identityKeeper = s ? new IdentityKeeper(s.store, d.drivers) : null;
  }

  /**
   * At start-up, before the drivers start and before any command: binds the learned
   * identities and takes back the commands' state. Returns the manual inputs to resume,
   * or null when there was no record.
   */
  restore(): ResumedManual | null {
    const saved = this.d.state?.saved;
    const identities = this.identityKeeper?.restore(saved?.get(IDENTITY_STATE_RECORD));
    if (identities) this.reportRestore(IDENTITY_STATE_RECORD, identities, { restored: identities.restored, ignored: identities.ignored });
    const commands = this.commandKeeper?.restore(saved?.get(COMMAND_STATE_RECORD));
    if (!commands || commands.outcome === 'none') return null;
    const { observations: _published, ...report } = commands;
    this.reportRestore(COMMAND_STATE_RECORD, commands, report);
    return resumedManual(commands);
  }

  /**
   * Answers a station command once what it changed is on disk (or says in the answer that
   * it is not). `publish` sends the answer; the result is returned at once for the caller.
   */
  answer(result: CommandResultMsg, publish: (result: CommandResultMsg) => void): void {
    if (!this.commandKeeper?.changed) {
      publish(result);
      return;
    }
    void this.saveCommands().then((error) => {
      if (error !== null && result.outcome === 'COMMAND_OUTCOME_ACCEPTED') result.detail = `${result.detail ? `${result.detail}; ` : ''}not saved: lost on a restart`;
      publish(result);
    });
  }

  /** Every safety tick: alarm while a record is not saved, and retry what changed. */
  tick(): void {
    this.d.alarms.set(this.problems.size > 0, 'state-not-saved', 'gateway', [...this.problems.values()].join('; '));
    if (this.commandKeeper?.changed) void this.saveCommands();
    if (this.identityKeeper?.changed) void this.save(IDENTITY_STATE_RECORD, () => this.identityKeeper!.save(), 'a device swapped during a restart would not be held back');
  }

  private saveCommands(): Promise<string | null> {
    return this.save(COMMAND_STATE_RECORD, () => this.commandKeeper!.save(), 'accepted manual inputs would be lost on a restart');
  }

  private async save(record: string, write: () => Promise<string | null>, loss: string): Promise<string | null> {
    const error = await write();
    if (error === null) {
      this.problems.delete(record);
      return null;
    }
    this.d.counters.count(`state-save-failed.${record}`);
    if (!this.problems.has(record)) this.d.logger.error('state-save-failed', { record, error, retry: 'every safety tick until saved' });
    this.problems.set(record, `${record} not saved (${error}): ${loss}`);
    return error;
  }

  private reportRestore(record: string, report: { outcome: string; reason?: string }, detail: Record<string, unknown>): void {
    if (report.outcome === 'none') return;
    if (report.outcome === 'unreadable') {
      this.d.counters.count(`state-unreadable.${record}`);
      this.d.logger.error('state-unreadable', { record, reason: report.reason });
    } else {
      this.d.logger.info('state-restored', { record, outcome: report.outcome, ...detail });
    }
  }
}

/**
 * What becomes of an earlier run's manual inputs: taken back with their true age on the same
 * boot; otherwise withdrawn with the reason (after a reboot nothing tells how long the
 * gateway was off: a Pi has no real-time clock).
 */
export function resumedManual(report: RestoreReport): ResumedManual {
  const reason = report.outcome === 'other-boot' ? 'gateway-rebooted' : report.outcome === 'unreadable' ? 'state-unreadable' : 'max-age-exceeded';
  const dropped: ManualParameter[] = report.outcome === 'unreadable' ? ['consciousness', 'onOxygen', 'spo2Scale'] : report.notRestored;
  return { observations: report.observations, dropped, reason };
}
