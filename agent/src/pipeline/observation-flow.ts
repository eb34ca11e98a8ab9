/**
 * The observation flow, one reading's way from a driver to the publisher:
 *
 *   emitted by a driver -> frozen check -> validation (interface risk controls)
 *     -> accepted: store + publish | rejected: counted, alarmed, the source's last value withdrawn
 *     -> device-reported sensor state -> one NEWS2 score for the whole emission
 *
 * Values are withdrawn, never frozen: a withdrawn value is published as unavailable with its
 * reason and leaves the score. The score is computed once per change (an emission, a
 * withdrawal of a whole interface, an expiry), never once per value.
 */
import type { Clock } from '../clock';
import type { ManualObservations, ManualParameter } from '../commands-in/manual';
import type { Counters } from '../counters';
import type { Logger } from '../log';
import type { Observation } from '../model/observation';
import type { ParameterCode } from '../model/parameters';
import { PARAMETERS } from '../model/parameters';
import type { EarlyWarningScoreMsg, ObservationMsg } from '../proto/codec';
import type { AlarmStage } from '../safety/alarm-stage';
import { RateWindow } from '../safety/alarms';
import type { News2Stage } from '../scoring/news2-stage';
import type { VitalsStore } from '../scoring/vitals';
import type { ValidationStage } from '../validation/stage';

/** Where the flow's results go (publish/publisher.ts in the agent; a list in unit tests). */
export interface FlowOutput {
  observation(obs: Observation, maxAgeMs: number): void;
  observationMsg(msg: ObservationMsg): void;
  score(score: EarlyWarningScoreMsg): void;
}

export interface ObservationFlowDeps {
  clock: Clock;
  logger: Logger;
  counters: Counters;
  validation: ValidationStage;
  store: VitalsStore;
  manual: ManualObservations;
  news2: News2Stage;
  alarms: AlarmStage;
  output: FlowOutput;
  maxAgeMs(parameter: ParameterCode): number;
}

/** Native NEWS2 failures within this window that raise `native-failure` (HAZ-017). */
export const NATIVE_FAILURE_WINDOW_MS = 60_000;
export const NATIVE_FAILURE_ALARM_COUNT = 3;

/** Why a value was withdrawn (counted as `values-withdrawn.<reason>` in the interface's health). */
export type WithdrawReason = 'max-age-exceeded' | 'link-stale' | 'link-lost' | `rejected-${string}`;

export class ObservationFlow {
  private readonly nativeFailures: RateWindow;
  /** Interfaces whose next values follow a stale or lost link (flagged `recovered`). */
  private readonly recovering = new Set<string>();
  /** `<interface> <rule>` -> the parameters whose last value that rule rejected (value-rejected.<rule>). */
  private readonly rejected = new Map<string, Set<ParameterCode>>();

  constructor(private readonly d: ObservationFlowDeps) {
    this.nativeFailures = new RateWindow(d.clock, NATIVE_FAILURE_WINDOW_MS);
  }

  /** One emission of a driver (the observations of one frame or one second): validated, published, scored once. */
  accept(interfaceId: string, emitted: readonly Observation[]): void {
    const observations = this.flagged(interfaceId, emitted);
    for (const raw of observations) this.acceptOne(interfaceId, raw);
    // The device's own sensor state (HAZ-009): a technical alarm while any value says so.
    const flags = new Set(observations.flatMap((o) => o.quality));
    this.d.alarms.set(flags.has('sensor-off') || flags.has('no-sensor'), 'sensor-off', interfaceId, 'device reports sensor off or no sensor');
    this.rescore();
  }

  /** The next values of this interface follow a gap: they are flagged `recovered`. */
  markRecovering(interfaceId: string): void {
    this.recovering.add(interfaceId);
  }

  /** Withdraws every value of an interface (its link went stale or was lost), then scores once. */
  withdrawInterface(interfaceId: string, reason: WithdrawReason): void {
    for (const parameter of this.d.store.parametersFrom(interfaceId)) {
      const last = this.d.store.get(parameter, interfaceId);
      if (last) this.withdraw(last, reason);
    }
    this.rescore();
  }

  /** Withdraws a value: subscribers get "unavailable" with the reason; the score loses it. */
  withdraw(last: Observation, reason: WithdrawReason): void {
    this.d.store.withdraw(last.parameter, last.source.interfaceId);
    this.d.counters.count('values-withdrawn');
    this.d.validation.count(last.source.interfaceId, `values-withdrawn.${reason}`);
    this.d.output.observation(
      {
        parameter: last.parameter,
        value: null,
        unitUcum: PARAMETERS[last.parameter].unitUcum,
        status: 'unavailable',
        quality: ['stale'],
        source: last.source,
        deviceTimeMs: null,
        deviceTimeText: '',
        receiveWallMs: this.d.clock.wallMs(),
        receiveMonoNs: this.d.clock.monoNs(),
        unavailableReason: reason,
      },
      this.d.maxAgeMs(last.parameter),
    );
  }

  /**
   * Values and manual inputs past their maximum age are withdrawn, and the score follows
   * (called every safety tick). Returns whether anything expired.
   */
  expire(): boolean {
    const expired = this.d.store.expire();
    const manualExpired = this.d.manual.expire();
    for (const p of manualExpired) this.d.output.observationMsg(this.d.manual.withdrawnMsg(p));
    if (expired.length === 0 && manualExpired.length === 0) return false;
    for (const obs of expired) this.withdraw(obs, 'max-age-exceeded');
    this.rescore();
    return true;
  }

  /**
   * Manual inputs of an earlier run: those taken back are published again with their true
   * age; those not taken back are withdrawn (the station must stop showing its retained copy).
   */
  resumeManual(restored: { observations: ObservationMsg[]; dropped: ManualParameter[]; reason: 'gateway-rebooted' | 'state-unreadable' | 'max-age-exceeded' }): void {
    for (const p of restored.dropped) this.d.output.observationMsg(this.d.manual.withdrawnMsg(p, restored.reason));
    for (const obs of restored.observations) this.d.output.observationMsg(obs);
    if (restored.observations.length > 0) this.rescore();
  }

  /**
   * Computes and publishes the NEWS2 score from the current values, and raises or clears the
   * physiological alarms of its risk level (RCP NEWS2 chart 3: a 3 in a single parameter
   * low-medium, 5-6 medium, 7+ high). One risk level at a time, so one of the three alarms at
   * most: the others are cleared in the same step. An incomplete score's level is the lowest
   * the complete score can have, so an alarm is never raised above what the known values show.
   */
  rescore(): void {
    for (const obs of this.d.store.expire()) this.withdraw(obs, 'max-age-exceeded');
    let result: ReturnType<News2Stage['compute']>;
    try {
      result = this.d.news2.compute();
    } catch (err) {
      this.nativeFailed(err as Error);
      return;
    }
    if (this.nativeFailures.count() === 0) this.d.alarms.clear('native-failure', 'gateway');
    if (!result.ok) {
      this.d.counters.count(`score-rejected.${result.field}`);
      this.d.logger.error('score-rejected', { field: result.field, rule: result.rule });
      this.d.alarms.raise('score-input-rejected', 'gateway', `NEWS2 rejected ${result.field}: ${result.rule}`);
      return;
    }
    this.d.alarms.clear('score-input-rejected', 'gateway');
    this.d.output.score(result.message);
    this.d.alarms.set(result.riskLevel === 'high', 'news2-high', 'gateway', 'NEWS2 risk high');
    this.d.alarms.set(result.riskLevel === 'medium', 'news2-medium', 'gateway', 'NEWS2 risk medium');
    this.d.alarms.set(result.riskLevel === 'low-medium', 'news2-low-medium', 'gateway', 'NEWS2 risk low-medium: a single parameter scores 3');
  }

  /**
   * A panic or error inside the native addon loses this computation only (HAZ-017): counted,
   * alarmed on repetition, and the flow carries on (the station's score expires).
   */
  private nativeFailed(err: Error): void {
    this.d.counters.count('native-failures');
    this.d.logger.error('native-failure', { stage: 'news2', error: err.message });
    if (this.nativeFailures.add() >= NATIVE_FAILURE_ALARM_COUNT) {
      this.d.alarms.raise('native-failure', 'gateway', 'the native NEWS2 score failed repeatedly');
    }
  }

  /** Frozen values (HAZ-007/HAZ-009) and values after a gap are flagged before validation. */
  private flagged(interfaceId: string, emitted: readonly Observation[]): readonly Observation[] {
    const frozen = this.d.validation.checkFrozen(interfaceId, emitted);
    if (frozen.changed) this.d.alarms.set(frozen.frozen, 'frozen-values', interfaceId, 'the device repeats identical values: it may be stuck');
    const recovered = this.recovering.delete(interfaceId);
    const extra = [...(frozen.frozen ? (['frozen'] as const) : []), ...(recovered ? (['recovered'] as const) : [])];
    if (extra.length === 0) return emitted;
    return emitted.map((o): Observation => ({ ...o, quality: [...new Set([...o.quality, ...extra])].sort() }));
  }

  private rejectedBy(interfaceId: string, rule: string): Set<ParameterCode> {
    const key = `${interfaceId} ${rule}`;
    let set = this.rejected.get(key);
    if (!set) {
      set = new Set();
      this.rejected.set(key, set);
    }
    return set;
  }

  /**
   * A value of `parameter` passed every control: value-rejected.<rule> of this interface clears
   * once no parameter's last value is still rejected by that rule (the condition has ended).
   */
  private acceptedAgain(interfaceId: string, parameter: ParameterCode): void {
    for (const [key, parameters] of this.rejected) {
      if (!key.startsWith(`${interfaceId} `) || !parameters.delete(parameter) || parameters.size > 0) continue;
      this.rejected.delete(key);
      this.d.alarms.clear('value-rejected', interfaceId, key.slice(interfaceId.length + 1));
    }
  }

  private acceptOne(interfaceId: string, raw: Observation): void {
    const verdict = this.d.validation.check(raw);
    if (!verdict.ok) {
      this.d.counters.count(`observations-rejected.${verdict.rule}`);
      this.d.logger.warn('observation-rejected', { interfaceId, hazard: verdict.hazard, field: verdict.field, rule: verdict.rule });
      this.d.alarms.raise('value-rejected', interfaceId, verdict.detail, verdict.rule);
      this.rejectedBy(interfaceId, verdict.rule).add(raw.parameter);
      // A rejected value also withdraws what the same source said before: the station
      // must not go on showing an older value as if nothing happened.
      const previous = this.d.store.get(raw.parameter, interfaceId);
      if (previous && previous.value !== null) this.withdraw(previous, `rejected-${verdict.rule}`);
      return;
    }
    for (const n of verdict.notices) {
      if (n.condition === 'device-clock-trusted') this.d.alarms.clear('device-clock-untrusted', interfaceId);
      else if (n.condition === 'device-clock-untrusted') this.d.alarms.raise('device-clock-untrusted', interfaceId, n.detail);
      else this.d.alarms.raise('unit-changed', interfaceId, n.detail, n.condition.slice('unit-changed.'.length));
    }
    this.d.counters.count('observations-accepted');
    this.acceptedAgain(interfaceId, raw.parameter);
    this.d.store.update(verdict.obs);
    this.d.output.observation(verdict.obs, this.d.maxAgeMs(verdict.obs.parameter));
  }
}
