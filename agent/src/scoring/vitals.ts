/**
 * The latest usable value of each parameter, with its age on the monotonic clock.
 * A value is usable for the score only while it is younger than its maximum age and
 * its status is final or corrected; anything else (preliminary, unverified, cannot
 * obtain, withdrawn) removes the parameter, so the score becomes incomplete instead of
 * using an old number.
 */
import type { Clock } from '../clock';
import { elapsedMs } from '../clock';
import type { Observation } from '../model/observation';
import type { ParameterCode } from '../model/parameters';

export class VitalsStore {
  private readonly latest = new Map<ParameterCode, Observation>();

  constructor(
    private readonly clock: Clock,
    private readonly maxAgeMs: (parameter: ParameterCode) => number,
  ) {}

  /** Records an accepted observation: a usable value replaces, anything else withdraws. */
  update(obs: Observation): void {
    if (obs.value !== null && (obs.status === 'final' || obs.status === 'corrected')) {
      this.latest.set(obs.parameter, obs);
    } else {
      this.latest.delete(obs.parameter);
    }
  }

  withdraw(parameter: ParameterCode): boolean {
    return this.latest.delete(parameter);
  }

  /** Removes and returns the parameters whose value is past its maximum age. */
  expire(): ParameterCode[] {
    const now = this.clock.monoNs();
    const expired: ParameterCode[] = [];
    for (const [parameter, obs] of this.latest) {
      if (elapsedMs(obs.receiveMonoNs, now) > this.maxAgeMs(parameter)) expired.push(parameter);
    }
    for (const parameter of expired) this.latest.delete(parameter);
    return expired;
  }

  /** The current usable value, or undefined. Call expire() first. */
  get(parameter: ParameterCode): Observation | undefined {
    return this.latest.get(parameter);
  }

  parametersFrom(interfaceId: string): ParameterCode[] {
    return [...this.latest.values()].filter((o) => o.source.interfaceId === interfaceId).map((o) => o.parameter);
  }
}
