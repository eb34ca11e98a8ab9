/**
 * What `vigil eval qrs` (eval-qrs.ts) prints: the report it computed, as one JSON line with
 * `--json` or as the text table. Formatting only: every figure arrives computed in a
 * `QrsReport`, so that the text and the JSON cannot disagree.
 */
import type { BeatCounts, GrossResult, NoiseLevelResult, NoiseResult, QrsRecordResult } from './eval-qrs';
import { NOISE_SNR_DB } from './eval-qrs-noise';
import { WFDB_PY_VERSION } from './eval-qrs-peer';

/** The published heart rate against the same rule on the reference beats, over all records. */
export interface HeartRateReport {
  /** Mean absolute difference over the seconds with a published rate and a reference rate, /min. */
  maeBpm: number | null;
  /** Share of the scored seconds with a published rate, %. */
  coveragePercent: number | null;
  seconds: number;
  withdrawnSeconds: number;
  withdrawnPercent: number | null;
  /** Seconds with the rate withdrawn, by the detector's status. */
  withdrawnByReason: { noisy: number; leadsOff: number; noRate: number; learning: number };
}

/** The gqrs peer's results through the same scorer. */
export interface QrsPeerReport {
  name: 'gqrs';
  wfdbVersion: string;
  records: QrsRecordResult[];
  gross: GrossResult;
}

/** Everything `vigil eval qrs` reports; `--json` prints it as is, keys in this order. */
export interface QrsReport {
  records: QrsRecordResult[];
  gross: GrossResult;
  heartRate: HeartRateReport;
  target: { percent: number; met: boolean };
  peer?: QrsPeerReport;
  noise?: NoiseResult;
  method: { matchWindowS: number; scoringStartS: number; batchSeconds: number; endOfRecordFlush: boolean };
}

/** Whether gross Se and +P both reach `targetPercent`. */
export function targetMet(g: GrossResult, targetPercent: number): boolean {
  return g.sensitivityPercent !== null && g.positivePredictivityPercent !== null && g.sensitivityPercent >= targetPercent && g.positivePredictivityPercent >= targetPercent;
}

function fmt(value: number | null, digits = 2): string {
  return value === null ? '-' : value.toFixed(digits);
}

function countsColumns(r: BeatCounts & { sensitivityPercent: number | null; positivePredictivityPercent: number | null }): string {
  return `${String(r.truePositives).padStart(5)} ${String(r.falseNegatives).padStart(5)} ${String(r.falsePositives).padStart(5)} ${fmt(r.sensitivityPercent).padStart(6)} ${fmt(r.positivePredictivityPercent).padStart(7)}`;
}

/** The beat-by-beat table: one line per record and the gross line, the peer's beside Vigil's. */
function beatTableLines(report: QrsReport): string[] {
  const peer = report.peer;
  if (!peer) {
    return ['record     TP    FN    FP   Se %    +P %', ...report.records.map((r) => `${r.record.padEnd(7)} ${countsColumns(r)}`), `gross   ${countsColumns(report.gross)}`];
  }
  return [
    `                  Vigil                        |  gqrs (wfdb ${WFDB_PY_VERSION}, defaults)`,
    'record     TP    FN    FP   Se %    +P %  |     TP    FN    FP   Se %    +P %',
    ...report.records.map((r, k) => {
      const p = peer.records[k];
      return `${r.record.padEnd(7)} ${countsColumns(r)}  |  ${p ? countsColumns(p) : ''}`;
    }),
    `gross   ${countsColumns(report.gross)}  |  ${countsColumns(peer.gross)}`,
  ];
}

/** The heart-rate agreement, its withdrawals by reason, and whether the target is met. */
function heartRateAndTargetLines(report: QrsReport): string[] {
  const rate = report.heartRate;
  const reasons = rate.withdrawnByReason;
  const { percent } = report.target;
  const peer = report.peer ? ` (gqrs: ${targetMet(report.peer.gross, percent) ? 'met' : 'not met'})` : '';
  return [
    `heart rate (every 1 s from 5 min) vs the same rule on the reference beats: MAE ${fmt(rate.maeBpm)} /min over the published seconds, rate available ${fmt(rate.coveragePercent, 1)} % of seconds`,
    `rate withdrawn ${fmt(rate.withdrawnPercent, 1)} % of seconds (${rate.withdrawnSeconds} s): noisy (ECG quality below the limit) ${reasons.noisy} s, leads off ${reasons.leadsOff} s, too few beats ${reasons.noRate} s, learning ${reasons.learning} s`,
    `target: gross Se >= ${percent} % and +P >= ${percent} %: ${report.target.met ? 'met' : 'NOT met'}${peer}`,
  ];
}

/** The noise stress test's table: Se, +P and the heart rate per SNR level and noise kind. */
function noiseLines(noise: NoiseResult, noiseFloorPercent: number): string[] {
  const cells = (l: NoiseLevelResult | undefined): string =>
    `${fmt(l?.sensitivityPercent ?? null).padStart(7)}  ${fmt(l?.positivePredictivityPercent ?? null).padStart(7)}  ${fmt(l?.rateWithdrawnNoisyPercent ?? null, 1).padStart(11)}  ${fmt(l?.rateMaeNoisyBpm ?? null, 1).padStart(4)}`;
  const first = (db: number | null): string => (db === null ? 'none' : `${db} dB`);
  return [
    `noise stress test (NSTDB protocol: noise from 5:00, 2 min on / 2 min off; SNR on the QRS peak-to-peak amplitude as nst; generated noise, seed ${noise.seed}; ${noise.records} records${noise.skipped.length > 0 ? `, ${noise.skipped.join(' ')} left out: no normal beat` : ''}):`,
    'heart rate in the seconds with noise: the share withdrawn, and the MAE (/min) over those published',
    'SNR dB    em Se %  em +P %  withdrawn %  MAE    ma Se %  ma +P %  withdrawn %  MAE',
    ...NOISE_SNR_DB.map((snr, level) => `${String(snr).padStart(6)}    ${cells(noise.levels.em[level])}    ${cells(noise.levels.ma[level])}`),
    `first SNR with Se or +P below ${noiseFloorPercent} %: em ${first(noise.firstBelowFloorDb.em)}, ma ${first(noise.firstBelowFloorDb.ma)}`,
  ];
}

/** The text report of `vigil eval qrs` on `dir`, ending with a newline. */
export function formatQrsText(dir: string, report: QrsReport, noiseFloorPercent: number): string {
  const lines = [
    `QRS detection on ${dir} (${report.records.length} records): EC57 beat-by-beat, 150 ms match window, scored from 5 min,`,
    'beat annotations only, VF episodes excluded; the detector runs streaming, first signal, 1 s batches, flushed at the record\'s end.',
    '',
    ...beatTableLines(report),
    '',
    ...heartRateAndTargetLines(report),
    ...(report.noise ? ['', ...noiseLines(report.noise, noiseFloorPercent)] : []),
  ];
  return `${lines.join('\n')}\n`;
}
