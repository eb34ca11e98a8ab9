/**
 * The host side of the patch's command protocol (docs/interfaces/vigil-patch.md, "Host
 * commands"): what the driver sends (IDENTIFY, SET_RATE, START, KEEP_ALIVE, STOP), the
 * acknowledgements it waits for (bounded, timed out on the monotonic clock, counted by
 * command and result), the keep-alive that keeps the patch streaming, and START again when
 * STATUS says the patch is idle.
 */
import type { Clock } from '../../clock';
import { elapsedMs } from '../../clock';
import type { Logger } from '../../log';
import { TICK_WRAP } from './device-time';
import type { CommandTypeName, PatchCondition, PatchPayload, StreamName } from './frame-layout';
import { FRAME_TYPES } from './frame-layout';
import { encodeCommand } from './protocol';

/** A host command not acknowledged within this time is counted as unacknowledged. */
export const COMMAND_TIMEOUT_MS = 1000;
/** START is re-sent at most this often when STATUS says the patch is not streaming. */
export const RESTART_MIN_INTERVAL_MS = 2000;
/** Commands awaiting their ACK, at most: a patch that never answers cannot grow the map. */
export const MAX_PENDING_COMMANDS = 64;

export type HostCommand = Extract<PatchPayload, { type: CommandTypeName }>;

/** Where the commands go: the driver's open port. */
export interface CommandPort {
  write(bytes: Buffer): Promise<void>;
}

export interface HostCommandsOptions {
  interfaceId: string;
  clock: Clock;
  logger: Logger;
  keepAliveIntervalMs: number;
  /** The interface's health counters. */
  count(name: string): void;
  /** The driver's open port, or null. */
  port(): CommandPort | null;
}

export class HostCommands {
  private hostSequence = 0;
  private readonly pending = new Map<number, { type: CommandTypeName; sentMonoNs: bigint }>();
  private keepAliveTimer: NodeJS.Timeout | null = null;
  private lastStartMonoNs: bigint | null = null;

  constructor(private readonly o: HostCommandsOptions) {}

  /** Sends a command on `port` (by default the open one); a failed write is counted, never thrown. */
  send(command: HostCommand, port: CommandPort | null = this.o.port()): Promise<void> {
    if (port === null) return Promise.resolve();
    const sequence = this.hostSequence;
    this.hostSequence = (this.hostSequence + 1) & 0xffff;
    const now = this.o.clock.monoNs();
    this.pending.set(sequence, { type: command.type, sentMonoNs: now });
    if (this.pending.size > MAX_PENDING_COMMANDS) {
      const oldest = this.pending.keys().next().value;
      if (oldest !== undefined) this.pending.delete(oldest);
    }
    this.o.count(`commands-sent.${command.type}`);
    const bytes = encodeCommand(command, sequence, Number(now / 1_000_000n) % TICK_WRAP);
    return port.write(bytes).catch((err: unknown) => {
      this.o.count('write-failed');
      this.o.logger.warn('write-failed', { interfaceId: this.o.interfaceId, error: err instanceof Error ? err.message : String(err) });
    });
  }

  /** Asks the patch to stream (again). */
  sendStart(reason: string): void {
    this.lastStartMonoNs = this.o.clock.monoNs();
    this.o.logger.info('start-streaming', { interfaceId: this.o.interfaceId, reason });
    void this.send({ type: 'start' });
  }

  /** A port just opened: who is there, the configured rates, START, then the keep-alive. */
  greet(rates: ReadonlyArray<readonly [StreamName, number | undefined]>): void {
    void this.send({ type: 'identify' });
    for (const [stream, rate] of rates) {
      if (rate !== undefined) void this.send({ type: 'set-rate', stream, sampleRateHz: rate });
    }
    this.sendStart('port opened');
    this.startKeepAlive();
  }

  /** STATUS says the patch is not streaming (host timeout, a restart, a missed START): ask again, not too often. */
  restartIfIdle(conditions: readonly PatchCondition[]): void {
    if (conditions.includes('streaming') || this.o.port() === null) return;
    const now = this.o.clock.monoNs();
    if (this.lastStartMonoNs === null || elapsedMs(this.lastStartMonoNs, now) > RESTART_MIN_INTERVAL_MS) {
      this.o.count('restart-idle');
      this.sendStart(conditions.includes('host-timeout') ? 'the patch stopped after its host timeout' : 'the patch is not streaming');
    }
  }

  /** Counts the commands not acknowledged within COMMAND_TIMEOUT_MS and forgets them. */
  expire(): void {
    const now = this.o.clock.monoNs();
    for (const [seq, p] of this.pending) {
      if (elapsedMs(p.sentMonoNs, now) > COMMAND_TIMEOUT_MS) {
        this.pending.delete(seq);
        this.o.count(`commands-unacknowledged.${p.type}`);
      }
    }
  }

  /** An ACK from the patch: matched to its command by sequence and type, counted by result. */
  onAck(p: Extract<PatchPayload, { type: 'ack' }>): void {
    const pending = this.pending.get(p.ackedSequence);
    if (!pending || FRAME_TYPES[pending.type] !== p.ackedType) {
      this.o.count('acks-unexpected');
      return;
    }
    this.pending.delete(p.ackedSequence);
    if (p.result === 'ok') this.o.count(`commands-acknowledged.${pending.type}`);
    else {
      this.o.count(`commands-refused.${pending.type}.${p.result}`);
      this.o.logger.warn('command-refused', { interfaceId: this.o.interfaceId, command: pending.type, result: p.result });
    }
  }

  startKeepAlive(): void {
    this.stopKeepAlive();
    this.keepAliveTimer = setInterval(() => void this.send({ type: 'keep-alive' }), this.o.keepAliveIntervalMs);
  }

  stopKeepAlive(): void {
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = null;
  }
}
