/**
 * The benchmark compares the addon with a TypeScript reference of the same QRS algorithm
 * (test/support/bench/qrs-reference.ts). This proves they are the same algorithm: on the
 * same signals they report the same beats, so the speed ratio compares like with like.
 */
import t from 'tap';
import { createQrsDetector } from '../../agent/src/native/addon';
import { ReferenceQrsDetector } from '../support/bench/qrs-reference';
import { runBenchmark } from '../support/bench/native-bench';
import { syntheticEcg } from '../support/bench/synthetic-signals';

t.test('REQ-SIG-013 the TypeScript reference finds exactly the beats of the addon', async (t) => {
  for (const [fs, seed] of [
    [125, 1],
    [360, 2],
    [1000, 3],
  ] as const) {
    const ecg = syntheticEcg({ sampleRateHz: fs, durationS: 60, heartRateBpm: 90, ectopicProbability: 0.1, wanderMv: 0.5, mainsMv: 0.1, noiseMv: 0.06, seed });
    const native = createQrsDetector(fs).process(ecg.samples);
    if (!native.ok) throw new Error('rejected');
    const reference = new ReferenceQrsDetector(fs).process(ecg.samples);
    t.ok(reference.length > 80, `fs ${fs}: ${reference.length} beats`);
    t.same(reference, Array.from(native.beatSampleIndexes), `fs ${fs}, seed ${seed}`);
  }
});

t.test('REQ-SIG-013 the benchmark runs and reports its figures as JSON-ready data', async (t) => {
  const result = runBenchmark({ seconds: 20, runs: 1 }) as { qrs: Record<string, unknown>; boundary: { bySize: unknown[] } };
  t.equal(result.qrs.sameBeatsAsReference, true);
  t.ok((result.qrs.nativeSamplesPerSecond as number) > 0);
  t.ok((result.qrs.typescriptSamplesPerSecond as number) > 0);
  t.ok(result.boundary.bySize.length > 5);
  t.doesNotThrow(() => JSON.stringify(result));
});
