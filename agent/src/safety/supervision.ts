/**
 * Supervision of the gateway itself (HAZ-012, HAZ-013): the progress gate behind the
 * systemd watchdog, event-loop stalls, the durable queue's health and load shedding.
 *
 *   every safety tick      gate: tick progressed; a driver not streaming declares why;
 *                          the publisher progressed, or declares the broker unreachable
 *                          queue-evicting / queue-disk-failing while the queue says so
 *                          unconfirmed alarm changes sent again; alarm-undelivered while
 *                          one is queued past its delivery bound (publish/delivery.ts)
 *                          load-shedding while the shedder sheds (publish/shedding.ts)
 *                          event-loop-stall clears 60 s after the last stall
 *   every half watchdog    the watchdog is petted only while the gate passes; otherwise
 *                          gateway-stalled (high) is raised first, then systemd restarts us
 */
import type { Clock } from '../clock';
import { elapsedMs } from '../clock';
import type { Counters } from '../counters';
import type { InterfaceSnapshot } from '../drivers/driver';
import type { Supervisor } from '../io/systemd';
import type { Logger } from '../log';
import type { UndeliveredAlarms } from '../publish/delivery';
import type { LoadShedder } from '../publish/shedding';
import type { AlarmStage } from './alarm-stage';
import { LoopDelayWindow, LoopUtilization } from './loop-delay';
import { LoopMonitor, ProgressGate } from './watchdog';

/** An event-loop stall alarm clears this long after the last stall. */
export const STALL_CLEAR_MS = 60_000;

/** What supervision reads of the rest of the agent (all getters: values of this instant). */
export interface Supervised {
  /** Each driver's link snapshot. */
  interfaces(): InterfaceSnapshot[];
  /** Messages published so far (publisher counter). */
  published(): number;
  /** The broker link: false while disconnected; undefined before a link exists. */
  connected(): boolean | undefined;
  /** Messages waiting in the durable queue. */
  backlog(): number;
  /** The durable queue's conditions (publish/delivery.ts), when there is one. */
  queueConditions(): { evicting: string | null; diskFailing: string | null } | null;
  /**
   * The delivery's alarm supervision, run once per tick (publish/delivery.ts
   * Delivery.superviseAlarms): re-sends unconfirmed alarm changes, returns those past the
   * delivery bound. Null without a delivery.
   */
  superviseAlarmDelivery(): UndeliveredAlarms | null;
}

export interface SupervisionDeps {
  clock: Clock;
  logger: Logger;
  counters: Counters;
  alarms: AlarmStage;
  shedder: LoadShedder;
  supervised: Supervised;
  eventLoopStallMs: number;
  heartbeatIntervalMs: number;
  /** Quiet time per interface: a driver gets twice that (at least 10 s) to show progress. */
  quietTimeMs(interfaceId: string): number;
  supervisor?: Supervisor | undefined;
  /** The event loop's utilization since the last reading (0..1); default: Node's own measure. */
  loopUtilization?: () => number;
}

export class Supervision {
  readonly gate: ProgressGate;
  private readonly loopMonitor: LoopMonitor;
  private readonly loopDelay = new LoopDelayWindow();
  private readonly loopUtilization: () => number;
  private lastPublished = 0;
  private lastStallMono: bigint | null = null;
  private lastUndelivered: string | null = null;
  private watchdogTimer: NodeJS.Timeout | null = null;

  constructor(private readonly d: SupervisionDeps) {
    this.gate = new ProgressGate(d.clock);
    this.gate.register('tick', 5_000);
    this.gate.register('publisher', Math.max(30_000, 3 * d.heartbeatIntervalMs));
    for (const s of d.supervised.interfaces()) {
      this.gate.register(`driver:${s.interfaceId}`, Math.max(10_000, 2 * d.quietTimeMs(s.interfaceId)));
    }
    const utilization = new LoopUtilization();
    this.loopUtilization = d.loopUtilization ?? (() => utilization.sinceLast());
    this.loopMonitor = new LoopMonitor(d.clock, 100, d.eventLoopStallMs, (lagMs) => this.stalled(lagMs));
  }

  /** A driver delivered observations: its stage progressed. */
  driverProgressed(interfaceId: string): void {
    this.gate.progress(`driver:${interfaceId}`);
  }

  /** Every safety tick. */
  tick(): void {
    this.gate.progress('tick');
    for (const snap of this.d.supervised.interfaces()) {
      // A driver that is not streaming declares why, renewed every tick while it lasts (it
      // is reopening its port or waiting out its quiet time); one streaming must show frames.
      if (snap.state !== 'streaming') this.gate.declare(`driver:${snap.interfaceId}`, `link-${snap.state}: ${snap.reason}`);
    }
    const published = this.d.supervised.published();
    if (published > this.lastPublished) this.gate.progress('publisher');
    else if (!this.d.supervised.connected()) this.gate.declare('publisher', 'broker-unreachable: queueing');
    this.lastPublished = published;
    if (this.lastStallMono !== null && elapsedMs(this.lastStallMono, this.d.clock.monoNs()) > STALL_CLEAR_MS) {
      this.lastStallMono = null;
      this.d.alarms.clear('event-loop-stall', 'gateway');
    }
    this.queueHealth();
    this.alarmDelivery();
  }

  /** Starts the loop monitors and, under systemd, the watchdog petted at half its period. */
  start(): void {
    this.loopMonitor.start();
    this.loopDelay.start();
    const supervisor = this.d.supervisor;
    if (supervisor?.watchdogIntervalMs != null) {
      this.watchdogTimer = setInterval(() => this.watchdog(supervisor), supervisor.watchdogIntervalMs / 2);
    }
  }

  stop(): void {
    if (this.watchdogTimer) clearInterval(this.watchdogTimer);
    this.watchdogTimer = null;
    this.loopMonitor.stop();
    this.loopDelay.stop();
  }

  /** Pets the watchdog while every mandatory stage progresses; otherwise tells the station first. */
  watchdog(supervisor: Supervisor): void {
    const verdict = this.gate.check();
    if (verdict.ok) {
      supervisor.watchdog();
      this.d.alarms.clear('gateway-stalled', 'gateway');
      return;
    }
    this.d.counters.count('watchdog-withheld');
    const which = verdict.failing.map((f) => `${f.stage} (${f.silentMs} ms)`).join(', ');
    this.d.logger.error('watchdog-withheld', { failing: verdict.failing });
    this.d.alarms.raise('gateway-stalled', 'gateway', `no progress: ${which}; the supervisor will restart the agent`);
  }

  /** Event-loop delay percentiles of the current heartbeat window (status counters). */
  counters(): Record<string, number> {
    return this.loopDelay.counters();
  }

  /** Each heartbeat reports the event-loop delay of its own window. */
  heartbeat(): void {
    this.loopDelay.reset();
  }

  /** Samples the loop monitor once (tests drive it with a fake clock). */
  sampleLoop(): void {
    this.loopMonitor.sample();
  }

  private stalled(lagMs: number): void {
    this.d.counters.count('event-loop-stalls');
    this.lastStallMono = this.d.clock.monoNs();
    this.d.logger.error('event-loop-stall', { lagMs });
    this.d.alarms.raise('event-loop-stall', 'gateway', `event loop blocked for ${lagMs} ms`);
  }

  /**
   * Every safety tick (`tick` calls it). Distributed alarm system (HAZ-013, CTRL-028): the
   * delivery re-sends unconfirmed alarm changes, and an alarm change not confirmed within its
   * delivery bound raises gateway.alarm-undelivered (high) until none is. Logged at error on
   * each change of its text, so the gateway's journal has it even when nothing reaches the
   * broker; the alarm itself is queued like every alarm change and re-announced live to the
   * station while the link is up.
   */
  alarmDelivery(): void {
    const u = this.d.supervised.superviseAlarmDelivery();
    const detail = u?.detail ?? null;
    if (u && detail !== null && detail !== this.lastUndelivered) {
      this.d.logger.error('alarm-undelivered', { alarms: u.alarms, awaitedStations: u.awaitedStations, detail });
    }
    this.lastUndelivered = detail;
    this.d.alarms.set(detail !== null, 'alarm-undelivered', 'gateway', detail ?? '');
  }

  /** Messages dropped by the queue's bounds or a failing disk, and load shedding: technical alarms. */
  private queueHealth(): void {
    const queue = this.d.supervised.queueConditions();
    this.d.alarms.set(Boolean(queue?.evicting), 'queue-evicting', 'gateway', queue?.evicting ?? '');
    this.d.alarms.set(Boolean(queue?.diskFailing), 'queue-disk-failing', 'gateway', queue?.diskFailing ?? '');
    const level = this.d.shedder.update({
      backlog: this.d.supervised.backlog(),
      connected: this.d.supervised.connected() !== false,
      loopUtilization: this.loopUtilization(),
    });
    const detail = level === 1 ? 'overload: extras are not published' : 'overload: only alarms are published';
    this.d.alarms.set(level > 0, 'load-shedding', 'gateway', detail);
  }
}
