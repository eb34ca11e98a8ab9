/**
 * The link policy: what each event a driver reports about its link raises, clears and
 * withdraws. One table a reviewer can read next to the link-state machine
 * (drivers/link-state.ts):
 *
 *   link -> streaming         clear link-stale, link-lost
 *   link -> stale | lost      raise link-<state> (medium); withdraw every value of the
 *                             interface (score once); flag the next values `recovered`
 *   any link change           the gateway status is published at once
 *   frame rejected, identity  raise device-identity (high): values held back (HAZ-011)
 *   frame rejected, other     counted; raise frames-rejected above the configured rate,
 *                             cleared when the window holds none
 *   driver condition          raised or cleared as the driver says (low battery, ...)
 */
import type { Clock } from '../clock';
import type { DriverCondition, FrameRejection, LinkChange } from '../drivers/driver';
import { isIdentityRejection } from '../drivers/driver';
import type { Counters } from '../counters';
import type { Logger } from '../log';
import type { AlarmStage } from './alarm-stage';
import { RateWindow } from './alarms';

/** What the policy needs of the observation flow (pipeline/observation-flow.ts). */
export interface LinkPolicyFlow {
  withdrawInterface(interfaceId: string, reason: 'link-stale' | 'link-lost'): void;
  markRecovering(interfaceId: string): void;
}

export interface LinkPolicyDeps {
  clock: Clock;
  logger: Logger;
  counters: Counters;
  alarms: AlarmStage;
  flow: LinkPolicyFlow;
  interfaceIds: readonly string[];
  /** `rejectAlarm` of the config: this many rejected frames within the window raise frames-rejected. */
  rejectAlarm: { count: number; windowMs: number };
  /** Counts an event in the interface's health record (validation/stage.ts). */
  countHealth(interfaceId: string, name: string): void;
  /** The interface health changed: publish the gateway status now (not only with the heartbeat). */
  statusChanged(reason: string): void;
}

export class LinkPolicy {
  private readonly rejectWindows: Map<string, RateWindow>;

  constructor(private readonly d: LinkPolicyDeps) {
    this.rejectWindows = new Map(d.interfaceIds.map((id) => [id, new RateWindow(d.clock, d.rejectAlarm.windowMs)]));
  }

  onLink(change: LinkChange): void {
    const id = change.interfaceId;
    if (change.to === 'streaming') {
      this.d.alarms.clear('link-stale', id);
      this.d.alarms.clear('link-lost', id);
    } else if (change.to === 'stale' || change.to === 'lost') {
      const condition = change.to === 'stale' ? 'link-stale' : 'link-lost';
      this.d.flow.markRecovering(id);
      this.d.countHealth(id, condition);
      // IEC 60601-1-8: loss of a monitored parameter is a technical alarm (catalogue: medium).
      this.d.alarms.raise(condition, id, change.reason);
      this.d.flow.withdrawInterface(id, condition);
    }
    this.d.statusChanged(`link-${change.to}`);
  }

  onRejected(r: FrameRejection): void {
    this.d.counters.count(`frames-rejected.${r.reason}`);
    this.d.logger.warn('frame-rejected', { interfaceId: r.interfaceId, reason: r.reason, detail: r.detail });
    if (isIdentityRejection(r.reason)) {
      this.d.alarms.raise('device-identity', r.interfaceId, r.detail);
      return;
    }
    const n = this.rejectWindows.get(r.interfaceId)?.add() ?? 1;
    if (n >= this.d.rejectAlarm.count) {
      this.d.alarms.raise('frames-rejected', r.interfaceId, `${n} frames rejected within ${this.d.rejectAlarm.windowMs} ms (last: ${r.reason})`);
    }
  }

  onCondition(c: DriverCondition): void {
    this.d.alarms.set(c.active, c.condition, c.interfaceId, c.detail, c.qualifier);
  }

  /** Every safety tick: frames-rejected clears once its window holds no rejection. */
  tick(): void {
    for (const [id, window] of this.rejectWindows) {
      if (window.count() === 0) this.d.alarms.clear('frames-rejected', id);
    }
  }
}
