/**
 * Seeded pseudo-random numbers for every random choice in hw-sim (scenario noise, fault
 * injection payloads), so that a run is reproduced exactly from its seed.
 *
 * mulberry32: a 32-bit state generator with a full 2^32 period, good enough for simulated
 * noise and fuzz inputs (not for anything secret).
 */

export interface Rng {
  /** The seed this generator started from (printed by tests on failure). */
  readonly seed: number;
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number;
  /** Normal with the given mean and standard deviation (Box-Muller). */
  normal(mean: number, sd: number): number;
}

export function createRng(seed: number): Rng {
  if (!Number.isInteger(seed)) throw new RangeError('seed must be an integer');
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed,
    next,
    int(min: number, max: number): number {
      return min + Math.floor(next() * (max - min + 1));
    },
    normal(mean: number, sd: number): number {
      // 1 - next() is in (0, 1], so the logarithm is finite.
      const u = 1 - next();
      const v = next();
      return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
  };
}
