/**
 * Seeded synthetic signals with known events, for the signal-processing tests and the
 * benchmark (the real recordings are never needed by `make test`). The model itself lives in
 * hw-sim/src/signals.ts (hw-sim's sensor patch draws from the same model); this file
 * re-exports it and adds the beat-matching helper. A failing test prints its seed.
 */
export { rng, normal, syntheticEcg, syntheticPpg } from '../../../hw-sim/src/signals';
export type { EcgSpec, SyntheticEcg } from '../../../hw-sim/src/signals';

/** Greedy in-order matching within `tolerance` samples: [true positives, missed, extra]. */
export function scoreBeats(truth: readonly number[], detected: readonly number[], tolerance: number): [number, number, number] {
  let i = 0;
  let j = 0;
  let tp = 0;
  while (i < truth.length && j < detected.length) {
    const a = truth[i] ?? 0;
    const b = detected[j] ?? 0;
    if (Math.abs(a - b) <= tolerance) {
      tp += 1;
      i += 1;
      j += 1;
    } else if (a < b) i += 1;
    else j += 1;
  }
  return [tp, truth.length - tp, detected.length - tp];
}
