/**
 * What `vigil eval ppg` (eval-ppg.ts) prints: the report it computed, as one JSON line with
 * `--json` or as the text table. Formatting only: every figure arrives computed in a
 * `PpgReport`, so that the text and the JSON cannot disagree.
 */
import type { RespFigures } from './eval-ppg';

/** One record's figures (or, as the table's `overall` line, those pooled over every record). */
export interface PpgRecordRow {
  record: string;
  pulseMaePerMin: number | null;
  pulseCoveragePercent: number | null;
  respMaePerMin: number | null;
  respCoveragePercent: number | null;
  respImpedanceFreeMaePerMin: number | null;
  respImpedanceFreeCoveragePercent: number | null;
  respDirectMaePerMin: number | null;
  respEcgMaePerMin: number | null;
  respPpgMaePerMin: number | null;
  respPpgCoveragePercent: number | null;
}

/** The pooled respiration figures per source, and the impedance-free ones on parts of the records. */
export interface PpgRespSummary {
  fused: RespFigures;
  impedanceFree: RespFigures;
  impedance: RespFigures;
  ecg: RespFigures;
  ppg: RespFigures;
  /** Leave-out check: the first and the second half of the records. */
  impedanceFreeFirstHalf: RespFigures;
  impedanceFreeSecondHalf: RespFigures;
  /** Interleaved: records 1, 3, 5... and 2, 4, 6... */
  impedanceFreeOddRecords: RespFigures;
  impedanceFreeEvenRecords: RespFigures;
}

/** The figures pooled over every record. */
export interface PpgOverall {
  pulseMaePerMin: number | null;
  respMaePerMin: number | null;
  respCoverage: number | null;
  pulseCoveragePercent: number | null;
  respCoveragePercent: number | null;
  respMedianRecordMaePerMin: number | null;
  respImpedanceFreeMaePerMin: number | null;
  respImpedanceFreeCoverage: number | null;
  respDirectMaePerMin: number | null;
  respDirectCoveragePercent: number | null;
  respPpgMaePerMin: number | null;
  respPpgCoveragePercent: number | null;
  resp: PpgRespSummary;
}

/** Everything `vigil eval ppg` reports; `--json` prints it as is, keys in this order. */
export interface PpgReport {
  records: PpgRecordRow[];
  overall: PpgOverall;
  /** How the estimates and the references are aligned in time. */
  alignment: string;
}

function fmt(value: number | null, digits = 2): string {
  return value === null ? '-' : value.toFixed(digits);
}

function pct(share: number | null): string {
  return share === null ? '-' : (100 * share).toFixed(1);
}

function rowLine(r: PpgRecordRow): string {
  return `${r.record.padEnd(10)} ${fmt(r.pulseMaePerMin).padStart(9)} ${fmt(r.pulseCoveragePercent, 0).padStart(6)} ${fmt(r.respMaePerMin).padStart(9)} ${fmt(r.respCoveragePercent, 0).padStart(6)} ${fmt(r.respImpedanceFreeMaePerMin).padStart(9)} ${fmt(r.respImpedanceFreeCoveragePercent, 0).padStart(6)} ${fmt(r.respDirectMaePerMin).padStart(11)} ${fmt(r.respEcgMaePerMin).padStart(8)} ${fmt(r.respPpgMaePerMin).padStart(8)} ${fmt(r.respPpgCoveragePercent, 0).padStart(6)}`;
}

function respLine(label: string, f: RespFigures): string {
  const withdrawn = Object.entries(f.withdrawn)
    .map(([reason, n]) => `${reason} ${pct(f.referenceSeconds > 0 ? n / f.referenceSeconds : null)} %`)
    .join(', ');
  return `${label.padEnd(34)} ${fmt(f.maePerMin).padStart(6)} ${pct(f.coverage).padStart(6)} ${pct(f.withinTwoShare).padStart(7)} ${fmt(f.medianRecordMaePerMin).padStart(10)}   ${withdrawn || '-'}`;
}

/** The pooled respiration table: per source, and the impedance-free fusion on parts of the records. */
function respTableLines(report: PpgReport): string[] {
  const resp = report.overall.resp;
  const count = report.records.length;
  const half = Math.ceil(count / 2);
  // The pooled impedance figures have reference seconds exactly when some record has an impedance channel.
  const hasImpedance = resp.impedance.referenceSeconds > 0;
  return [
    `${'respiration (pooled)'.padEnd(34)} ${'MAE'.padStart(6)} ${'cover%'.padStart(6)} ${'within2%'.padStart(7)} ${'median rec'.padStart(10)}   withdrawn (share of reference seconds, by reason)`,
    respLine(hasImpedance ? 'fused, impedance first' : 'fused (no impedance in the records)', resp.fused),
    respLine('fused, impedance excluded', resp.impedanceFree),
    respLine(`  first ${half} records`, resp.impedanceFreeFirstHalf),
    respLine(`  last ${count - half} records`, resp.impedanceFreeSecondHalf),
    respLine(`  records 1, 3, 5... (${half})`, resp.impedanceFreeOddRecords),
    respLine(`  records 2, 4, 6... (${count - half})`, resp.impedanceFreeEvenRecords),
    ...(hasImpedance ? [respLine('impedance only', resp.impedance)] : []),
    respLine('ECG lead II modulations only', resp.ecg),
    respLine('PPG modulations only', resp.ppg),
  ];
}

function targetsLine(overall: PpgOverall): string {
  const free = overall.resp.impedanceFree;
  return (
    `targets: pulse MAE <= 2 /min: ${overall.pulseMaePerMin !== null && overall.pulseMaePerMin <= 2 ? 'met' : 'NOT met'}; ` +
    `resp MAE <= 2 /min: ${overall.respMaePerMin !== null && overall.respMaePerMin <= 2 ? 'met' : 'NOT met'}; ` +
    `impedance-free resp MAE <= 2 /min with coverage >= 90 %: ${free.maePerMin !== null && free.maePerMin <= 2 && (free.coverage ?? 0) >= 0.9 ? 'met' : 'NOT met'}`
  );
}

/**
 * The text report of `vigil eval ppg` on `dir`, ending with a newline; `overallRow` is the
 * table's `overall` line: the record figures of the tallies pooled over every record.
 */
export function formatPpgText(dir: string, report: PpgReport, overallRow: PpgRecordRow): string {
  const lines = [
    `Pulse and respiration rate on ${dir} (${report.records.length} records).`,
    `Alignment: ${report.alignment}. MAE in /min over published values; cover = share of reference seconds with a published value;`,
    'overall pools every scored second. resp = fused from what the records contain (impedance first when present, else ECG and PPG modulations);',
    'free = fused without the impedance channel (ECG lead II and PPG); direct = impedance only; ecg, ppg = that source\'s modulations only.',
    '',
    'record     pulse MAE cover%  resp MAE cover%  free MAE cover%  direct MAE  ecg MAE  ppg MAE cover%',
    ...report.records.map(rowLine),
    rowLine(overallRow),
    '',
    ...respTableLines(report),
    '',
    targetsLine(report.overall),
  ];
  return `${lines.join('\n')}\n`;
}
