/**
 * `vigil detect qrs <record>`: runs the native QRS detector over the first signal of a WFDB
 * record (`<record>.hea` and its format-212 `.dat`; the argument is the path without
 * extension) and prints the sample index of each detected beat, one per line.
 *
 * The record is fed to the streaming detector in 10 s batches, as a device would feed it;
 * the detector gives the same beats for any batch size (docs/signal-processing.md).
 */
import type { Writable } from 'node:stream';
import { readRecord, WfdbError } from '../io/wfdb';
import type { NativeApi } from '../native/addon';
import { loadNative, NativeError } from '../native/addon';

/** Seconds of signal per native call. */
export const BATCH_SECONDS = 10;

/** Beat sample indexes of `samples` (mV) at `sampleRateHz`, by the native detector in batches. */
export function detectBeats(native: NativeApi, samples: Float32Array, sampleRateHz: number): number[] {
  const detector = native.createQrsDetector(sampleRateHz);
  const batch = Math.max(1, Math.round(BATCH_SECONDS * sampleRateHz));
  const beats: number[] = [];
  for (let at = 0; at < samples.length; at += batch) {
    const result = detector.process(samples.subarray(at, at + batch));
    if (!result.ok) {
      throw new NativeError('NATIVE_CALL', `QRS detector rejected samples ${at + result.error.index}: ${result.error.field} ${result.error.rule}`);
    }
    for (const b of result.beatSampleIndexes) beats.push(b);
  }
  return beats;
}

/** Runs the command; returns the exit code. */
export async function runDetectQrs(recordPath: string, out: Writable): Promise<number> {
  const native = loadNative();
  const record = readRecord(recordPath);
  const first = record.signals[0];
  if (!first) throw new WfdbError(`${recordPath}.hea: the record has no signal`);
  const beats = detectBeats(native, first, record.header.sampleRateHz);
  out.write(beats.length > 0 ? `${beats.join('\n')}\n` : '');
  return 0;
}
