/**
 * The latest accepted observation of each parameter from each interface, with its age
 * on the monotonic clock. Nothing here decides what the score may use: that is
 * `select()`, which applies the configured priority between sources (never arrival
 * order), the maximum age, and the exclusion rules of the validation controls.
 */
import type { Clock } from '../clock';
import { elapsedMs } from '../clock';
import type { Observation } from '../model/observation';
import type { ParameterCode } from '../model/parameters';
import { scoreExclusion } from '../validation/controls';

export interface Candidate {
  parameter: ParameterCode;
  interfaceId: string;
}

export type Selection =
  | { used: Observation; ageMs: number; excluded: Array<Candidate & { reason: string }> }
  | { used: null; excluded: Array<Candidate & { reason: string }> };

const key = (parameter: string, interfaceId: string): string => `${interfaceId}\u0000${parameter}`;

export class VitalsStore {
  private readonly latest = new Map<string, Observation>();

  constructor(
    private readonly clock: Clock,
    private readonly maxAgeMs: (parameter: ParameterCode) => number,
    private readonly scoreUnverified: (interfaceId: string) => boolean = () => false,
  ) {}

  /** Records an accepted observation (a deleted one retracts what was there). */
  update(obs: Observation): void {
    const k = key(obs.parameter, obs.source.interfaceId);
    if (obs.status === 'deleted') this.latest.delete(k);
    else this.latest.set(k, obs);
  }

  withdraw(parameter: ParameterCode, interfaceId: string): boolean {
    return this.latest.delete(key(parameter, interfaceId));
  }

  /** Removes and returns the observations that hold a value past its maximum age. */
  expire(): Observation[] {
    const now = this.clock.monoNs();
    const expired: Observation[] = [];
    for (const [k, obs] of this.latest) {
      if (elapsedMs(obs.receiveMonoNs, now) > this.maxAgeMs(obs.parameter)) {
        expired.push(obs);
        this.latest.delete(k);
      }
    }
    return expired.filter((o) => o.value !== null);
  }

  /** Parameters with a value currently held from an interface. */
  parametersFrom(interfaceId: string): ParameterCode[] {
    return [...this.latest.values()]
      .filter((o) => o.source.interfaceId === interfaceId && o.value !== null)
      .map((o) => o.parameter);
  }

  get(parameter: ParameterCode, interfaceId: string): Observation | undefined {
    return this.latest.get(key(parameter, interfaceId));
  }

  /**
   * The first usable candidate in priority order. Candidates that hold a value but
   * may not be used are listed with the reason.
   */
  select(candidates: readonly Candidate[]): Selection {
    const now = this.clock.monoNs();
    const excluded: Array<Candidate & { reason: string }> = [];
    for (const c of candidates) {
      const obs = this.get(c.parameter, c.interfaceId);
      if (!obs) continue;
      const ageMs = elapsedMs(obs.receiveMonoNs, now);
      if (ageMs > this.maxAgeMs(c.parameter)) {
        excluded.push({ ...c, reason: 'max-age-exceeded' });
        continue;
      }
      const why = scoreExclusion(obs, this.scoreUnverified(c.interfaceId));
      if (why) {
        excluded.push({ ...c, reason: why });
        continue;
      }
      return { used: obs, ageMs, excluded };
    }
    return { used: null, excluded };
  }
}
