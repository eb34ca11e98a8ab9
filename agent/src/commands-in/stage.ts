/**
 * Commands from the nurses' station (docs/interfaces/commands.md), on
 * `vigil/v1/<site>/<ward>/<bed>/cmd`. Every command is answered with a CommandResult
 * (accepted, or rejected with a stable reason) and counted by outcome; a rejected
 * command changes nothing.
 *
 * Checks, in order (the first that fails is the reason):
 *   undecodable  the bytes are not a vigil.v1 Command
 *   invalid      the values break a rule of commands-in/schema.ts (field + rule)
 *   wrong-gateway / wrong-bed   it names another gateway or another bed
 *   stale / from-the-future     issued longer ago than `maxAgeMs`, or ahead by more than `maxClockSkewMs`
 *   replayed     its id was seen within the window (ids are kept as long as a command can be fresh)
 *   too-many-commands           the window already holds the maximum of remembered ids
 * then the action itself may refuse (unknown-alarm, unknown-interface, no-pending-change).
 *
 * The broker's ACL is the first line (only the station may write a command topic); these
 * checks are the second: they hold even if a command reaches the topic some other way.
 */
import type { Clock } from '../clock';
import type { Logger } from '../log';
import type { CommandMsg, CommandResultMsg } from '../proto/codec';
import { decodeCommand } from '../proto/codec';
import type { GatewayIdentity } from '../publish/publisher';
import type { Command } from './schema';
import { checkCommand } from './schema';

export type EffectResult = { ok: true; detail?: string } | { ok: false; reason: string; field?: string; detail: string };

/** What accepted commands do; implemented over the agent's stages (commands-in/effects.ts). */
export interface CommandEffects {
  apply(command: Command): EffectResult;
}

export interface CommandWindow {
  maxAgeMs: number;
  maxClockSkewMs: number;
}

/** Remembered command ids at most (a flood of valid commands is refused, not remembered without bound). */
export const MAX_REMEMBERED_IDS = 10_000;

export class CommandStage {
  private readonly seen = new Map<string, bigint>();
  private readonly counts: Record<string, number> = {};
  private rememberedRevision = 0;

  constructor(
    private readonly identity: GatewayIdentity,
    private readonly window: CommandWindow,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly effects: CommandEffects,
  ) {}

  counters(): Record<string, number> {
    return { ...this.counts };
  }

  /** Grows each time an id is remembered: the caller saves the ids when it changed (commands-in/persistence.ts). */
  get revision(): number {
    return this.rememberedRevision;
  }

  /** The ids remembered for replay refusal, in arrival order, with their monotonic arrival time. */
  remembered(): Array<[commandId: string, monoNs: bigint]> {
    this.forgetOld();
    return [...this.seen];
  }

  /**
   * Takes back ids an earlier run remembered (at start-up, before any command). Times later
   * than now are taken as now; the ids are then forgotten as usual.
   */
  restoreRemembered(ids: ReadonlyArray<readonly [string, bigint]>): void {
    const now = this.clock.monoNs();
    const sorted = [...ids].map(([id, at]): [string, bigint] => [id, at > now ? now : at]).sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    for (const [id, at] of sorted.slice(-MAX_REMEMBERED_IDS)) this.seen.set(id, at);
    this.forgetOld();
  }

  /** Handles one command payload; always returns the result to publish. */
  handle(payload: Uint8Array): CommandResultMsg {
    let decoded: CommandMsg;
    try {
      decoded = decodeCommand(payload);
    } catch {
      return this.reject('', 'undecodable', '', 'not a vigil.v1 Command');
    }
    // decodeCommand gives every field with its default: commandId is always a string.
    const commandId = decoded.commandId.slice(0, 64);
    const checked = checkCommand(decoded);
    if (!checked.ok) return this.reject(commandId, 'invalid', checked.field, checked.rule);
    const c = checked.command;
    if (c.gatewayId !== this.identity.gatewayId) return this.reject(c.commandId, 'wrong-gateway', 'gatewayId', 'names another gateway');
    for (const f of ['siteId', 'wardId', 'bedId'] as const) {
      if (c[f] !== this.identity[f]) return this.reject(c.commandId, 'wrong-bed', f, 'names another bed');
    }
    // Wall clocks of station and gateway must agree within the skew (both run NTP).
    const ageMs = this.clock.wallMs() - c.issuedWallMs;
    if (ageMs > this.window.maxAgeMs) return this.reject(c.commandId, 'stale', 'issuedWallMs', `issued more than ${this.window.maxAgeMs} ms ago`);
    if (-ageMs > this.window.maxClockSkewMs) {
      return this.reject(c.commandId, 'from-the-future', 'issuedWallMs', `issued more than ${this.window.maxClockSkewMs} ms ahead of the gateway clock`);
    }
    this.forgetOld();
    if (this.seen.has(c.commandId)) return this.reject(c.commandId, 'replayed', 'commandId', 'this command id was already received');
    if (this.seen.size >= MAX_REMEMBERED_IDS) return this.reject(c.commandId, 'too-many-commands', '', 'too many commands within the window');
    this.seen.set(c.commandId, this.clock.monoNs());
    this.rememberedRevision += 1;
    const effect = this.effects.apply(c);
    if (!effect.ok) return this.reject(c.commandId, effect.reason, effect.field ?? '', effect.detail, c);
    this.add('commands-accepted');
    this.logger.info('command-accepted', { commandId: c.commandId, action: actionName(c), user: c.user, stationId: c.stationId });
    return this.result(c.commandId, 'COMMAND_OUTCOME_ACCEPTED', '', '', effect.detail ?? '');
  }

  /** Drops remembered ids older than any command that could still be fresh. */
  private forgetOld(): void {
    const keepNs = BigInt(Math.round((this.window.maxAgeMs + this.window.maxClockSkewMs) * 1e6));
    const cutoff = this.clock.monoNs() - keepNs;
    for (const [id, at] of this.seen) {
      if (at >= cutoff) break; // insertion order is arrival order
      this.seen.delete(id);
    }
  }

  private reject(commandId: string, reason: string, field: string, detail: string, c?: Command): CommandResultMsg {
    this.add(`commands-rejected.${reason}`);
    this.logger.warn('command-rejected', { commandId, reason, field, ...(c ? { action: actionName(c), user: c.user } : {}) });
    return this.result(commandId, 'COMMAND_OUTCOME_REJECTED', reason, field, detail);
  }

  private result(commandId: string, outcome: string, reason: string, field: string, detail: string): CommandResultMsg {
    return { commandId, outcome, reason, field, detail, handledWallMs: this.clock.wallMs() };
  }

  private add(name: string): void {
    this.counts[name] = (this.counts[name] ?? 0) + 1;
  }
}

export function actionName(c: Command): string {
  if (c.manualObservation) return 'manual-observation';
  if (c.alarmAcknowledge) return 'alarm-acknowledge';
  if (c.alarmSilence) return 'alarm-silence';
  return 'device-confirm';
}
