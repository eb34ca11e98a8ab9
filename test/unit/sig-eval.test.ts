/**
 * The evaluation rules, as pure functions: EC57 beat matching (agent/src/commands/eval-qrs.ts)
 * and the BIDMC references (agent/src/commands/eval-ppg.ts).
 */
import t from 'tap';
import { compareBeats, referenceRate } from '../../agent/src/commands/eval-qrs';
import { parseCsv, referenceRespRate } from '../../agent/src/commands/eval-ppg';
import type { WfdbAnnotation } from '../../agent/src/io/wfdb';

const FS = 360;
const beat = (sample: number, code = 1): WfdbAnnotation => ({ sample, code, subtype: 0 });

t.test('REQ-SIG-007 EC57 matching: 150 ms window, each beat used once, scored from the start time', async (t) => {
  const start = 300 * FS;
  const refs = [start + 100, start + 400, start + 700, start + 1000].map((s) => beat(s));
  const w = Math.round(0.15 * FS); // 54 samples
  t.same(compareBeats(refs, [start + 100, start + 400, start + 700, start + 1000], FS), { truePositives: 4, falseNegatives: 0, falsePositives: 0 });
  t.same(
    compareBeats(refs, [start + 100 + w, start + 400 - w, start + 700 + w + 1, start + 1000], FS),
    { truePositives: 3, falseNegatives: 1, falsePositives: 1 },
    'at the window edge a beat matches; one sample beyond, it is a miss plus an extra',
  );
  t.same(compareBeats(refs, [start + 100, start + 110, start + 400, start + 700, start + 1000], FS), { truePositives: 4, falseNegatives: 0, falsePositives: 1 }, 'a double detection counts once');
  t.same(compareBeats(refs, [], FS), { truePositives: 0, falseNegatives: 4, falsePositives: 0 });
  // Before the start: neither reference beats nor detections are scored.
  const early = [beat(1000), beat(2000), ...refs];
  t.same(compareBeats(early, [1500, start + 100, start + 400, start + 700, start + 1000], FS), { truePositives: 4, falseNegatives: 0, falsePositives: 0 });
  // A detection just before the start may match the first reference beat after it.
  t.same(compareBeats([beat(start + 10)], [start - 20], FS), { truePositives: 1, falseNegatives: 0, falsePositives: 0 });
  // Of two detections near one beat, the nearer one is paired.
  t.same(compareBeats([beat(start + 1000)], [start + 960, start + 995], FS), { truePositives: 1, falseNegatives: 0, falsePositives: 1 });
});

t.test('REQ-SIG-007 only beat annotations are beats, and VF episodes are not scored', async (t) => {
  const start = 300 * FS;
  const annotations: WfdbAnnotation[] = [
    beat(start + 100),
    beat(start + 200, 28), // rhythm change
    beat(start + 300, 37), // non-conducted P wave: not a beat
    beat(start + 400, 5), // PVC
    beat(start + 500, 32), // VF on
    beat(start + 600, 31), // flutter wave
    beat(start + 700, 1), // a beat inside VF: not scored
    beat(start + 800, 33), // VF off
    beat(start + 900, 13), // Q, unclassifiable: a beat
  ];
  const detected = [start + 100, start + 400, start + 650, start + 720, start + 900];
  t.same(compareBeats(annotations, detected, FS), { truePositives: 3, falseNegatives: 0, falsePositives: 0 }, 'detections inside VF are neither TP nor FP');
  t.same(compareBeats(annotations, [start + 100, start + 300, start + 400, start + 900], FS), { truePositives: 3, falseNegatives: 0, falsePositives: 1 }, 'a detection on a non-beat annotation is an extra');
});

t.test('REQ-SIG-004 the reference heart-rate rule: normal intervals, or all of them for an irregular rhythm', async (t) => {
  const regular = Array.from({ length: 13 }, (_, i) => i * 0.8 * FS);
  t.equal(Math.round(referenceRate(regular, 12 * 0.8 * FS, FS) ?? 0), 75);
  const withPvc = [0, 0.8, 1.6, 2.1, 3.2, 4.0, 4.8, 5.6, 6.4, 7.2].map((s) => s * FS);
  t.equal(Math.round(referenceRate(withPvc, 7.2 * FS, FS) ?? 0), 75, 'the premature beat and its pause are left out');
  const bigeminy = [0, 0.6, 1.6, 2.2, 3.2, 3.8, 4.8, 5.4, 6.4].map((s) => s * FS);
  t.equal(Math.round(referenceRate(bigeminy, 6.4 * FS, FS) ?? 0), 75, 'alternating intervals give the mean rate');
  t.equal(referenceRate([0, 0.8 * FS, 1.6 * FS], 2 * FS, FS), null, 'too few intervals');
});

t.test('REQ-SIG-011 BIDMC references: CSV cells and the annotators\' breath rate', async (t) => {
  const table = parseCsv('Time [s], HR, PULSE\n0,94,93\n1,,NaN\n');
  t.same(table.names, ['Time [s]', 'HR', 'PULSE']);
  t.same(Array.from(table.columns[1] ?? []), [94, Number.NaN]);
  // Two annotators, a breath every 4 s (15 /min) and every 5 s (12 /min), at 125 Hz.
  const a1 = Array.from({ length: 20 }, (_, i) => i * 4 * 125);
  const a2 = Array.from({ length: 20 }, (_, i) => i * 5 * 125);
  t.equal(referenceRespRate([a1, a2], 40, 125), 13.5, 'the mean of the two annotators');
  t.equal(referenceRespRate([a1, []], 40, 125), 15, 'one annotator alone');
  t.equal(referenceRespRate([[125, 500]], 40, 125), null, 'fewer than 3 marks in the window');
});
