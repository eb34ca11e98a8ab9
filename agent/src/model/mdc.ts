/**
 * The IEEE 11073-10101 (MDC) nomenclature as Vigil reads it: how a code is built, which codes
 * Vigil maps to its parameters (model/parameters.ts), which standard codes it knowingly does not
 * use, and the reference id the nomenclature gives each of them.
 *
 * Source of truth: the NIST RTMMS Rosetta terminology table (IEEE 11073-10101 and its
 * amendments as published through RTMMS). A code is 65536 * partition + term code
 * (terminology.hl7.org, "Using MDC with HL7 Standards": upper 16 bits the partition, lower 16
 * the term code). The rows Vigil names are committed with their provenance in
 * test/fixtures/nomenclature/ and every (code, reference id) pair here and in parameters.ts is
 * checked against them by test/unit/hl7-pcd01-nomenclature.test.ts (REQ-HL7-024).
 *
 * Pure data and lookups: no I/O.
 */
import type { MdcCode, ParameterSpec } from './parameters';
import { PARAMETER_CODES, PARAMETERS } from './parameters';

/** Term codes per partition: a code is PARTITION_SIZE * partition + term code. */
export const MDC_PARTITION_SIZE = 65_536;

/**
 * Partitions whose codes, sent as OBX-3 with a value, are measurements Vigil could be missing:
 * 2 (SCADA: physiological measurements, the vital signs) and 4 (dimensions: units, which are
 * never an observation identifier, so a device sending one there is mis-mapped).
 */
export const MDC_VITAL_PARTITIONS: readonly number[] = [2, 4];

export function mdcPartition(code: number): number {
  return Math.floor(code / MDC_PARTITION_SIZE);
}

/** A standard code Vigil reads and deliberately does not use, and why. */
export interface MdcNotUsed extends MdcCode {
  why: string;
}

/** ECG ST amplitudes per lead: ischaemia analysis, not a NEWS2 vital sign. */
function stLeads(rows: ReadonlyArray<readonly [number, string]>): MdcNotUsed[] {
  return rows.map(([code, refId]) => ({ code, refId, why: 'ECG ST amplitude: ischaemia analysis, not a NEWS2 vital sign' }));
}

/**
 * Partition-2 codes monitors send beside the vital signs that are not a Vigil parameter:
 * counted and ignored (obx-ignored.unknown-code), never alarmed as a missing mapping.
 * Anything else of partition 2 or 4 that Vigil cannot map raises device-mapping-incomplete.
 */
export const MDC_NOT_USED: readonly MdcNotUsed[] = [
  ...stLeads([
    [131840, 'MDC_ECG_AMPL_ST'],
    [131841, 'MDC_ECG_AMPL_ST_I'],
    [131842, 'MDC_ECG_AMPL_ST_II'],
    [131843, 'MDC_ECG_AMPL_ST_V1'],
    [131844, 'MDC_ECG_AMPL_ST_V2'],
    [131845, 'MDC_ECG_AMPL_ST_V3'],
    [131846, 'MDC_ECG_AMPL_ST_V4'],
    [131847, 'MDC_ECG_AMPL_ST_V5'],
    [131848, 'MDC_ECG_AMPL_ST_V6'],
    [131873, 'MDC_ECG_AMPL_ST_dV1'],
    [131874, 'MDC_ECG_AMPL_ST_dV2'],
    [131875, 'MDC_ECG_AMPL_ST_dV3'],
    [131876, 'MDC_ECG_AMPL_ST_dV4'],
    [131877, 'MDC_ECG_AMPL_ST_dV5'],
    [131878, 'MDC_ECG_AMPL_ST_dV6'],
    [131901, 'MDC_ECG_AMPL_ST_III'],
    [131902, 'MDC_ECG_AMPL_ST_AVR'],
    [131903, 'MDC_ECG_AMPL_ST_AVL'],
    [131904, 'MDC_ECG_AMPL_ST_AVF'],
    [131927, 'MDC_ECG_AMPL_ST_V'],
    [131931, 'MDC_ECG_AMPL_ST_MCL'],
    [131932, 'MDC_ECG_AMPL_ST_MCL1'],
    [131937, 'MDC_ECG_AMPL_ST_MCL6'],
    [131971, 'MDC_ECG_AMPL_ST_ES'],
    [131972, 'MDC_ECG_AMPL_ST_AS'],
    [131973, 'MDC_ECG_AMPL_ST_AI'],
  ]),
  { code: 147232, refId: 'MDC_ECG_TIME_PD_QT_GL', why: 'ECG interval' },
  { code: 147236, refId: 'MDC_ECG_TIME_PD_QTc', why: 'ECG interval' },
  { code: 147240, refId: 'MDC_ECG_TIME_PD_RR_GL', why: 'ECG interval' },
  { code: 147626, refId: 'MDC_ECG_PACED_BEAT_RATE', why: 'paced beats: arrhythmia analysis (the heart rate is the vital sign)' },
  { code: 147850, refId: 'MDC_ECG_CARD_BEAT_RATE_BTB', why: 'beat-to-beat rate: the averaged heart rate is the vital sign' },
  { code: 148065, refId: 'MDC_ECG_V_P_C_CNT', why: 'premature ventricular beats: arrhythmia analysis' },
  { code: 148066, refId: 'MDC_ECG_V_P_C_RATE', why: 'premature ventricular beats: arrhythmia analysis' },
  { code: 148496, refId: 'MDC_ECG_ARRHY', why: 'arrhythmia analysis' },
  { code: 184326, refId: 'MDC_ECG_STAT_ECT', why: 'ectopic status: arrhythmia analysis' },
  { code: 184327, refId: 'MDC_ECG_STAT_RHY', why: 'rhythm status: arrhythmia analysis' },
  { code: 150300, refId: 'MDC_PRESS_CUFF', why: 'the cuff pressure during a measurement, not a blood pressure' },
  { code: 150324, refId: 'MDC_SAT_O2_ART', why: 'arterial saturation of a blood sample, not pulse oximetry' },
  { code: 150448, refId: 'MDC_PULS_OXIM_PERF_REL', why: 'relative perfusion: another scale than the perfusion index' },
  { code: 150452, refId: 'MDC_PULS_OXIM_PLETH', why: 'the plethysmogram waveform' },
  { code: 150468, refId: 'MDC_PULS_OXIM_SAT_O2_DIFF', why: 'a difference between two SpO2 values, not an SpO2' },
  { code: 160304, refId: 'MDC_PULS_OXIM_SAT_O2_ART_PRE_POST_DIFF', why: 'a difference between two SpO2 values, not an SpO2' },
  { code: 160324, refId: 'MDC_SPO2_SIGNAL_QUALITY_INDEX', why: 'signal quality of the oximeter, not a measurement of the patient' },
  { code: 151586, refId: 'MDC_VENT_RESP_RATE', why: "the ventilator's rate, not the patient's respiration" },
  { code: 151708, refId: 'MDC_CONC_AWAY_CO2_ET', why: 'capnography: not a Vigil parameter' },
  { code: 151716, refId: 'MDC_CONC_AWAY_CO2_INSP', why: 'capnography: not a Vigil parameter' },
  { code: 150356, refId: 'MDC_TEMP_AWAY', why: 'airway gas temperature, not the patient' },
  { code: 150376, refId: 'MDC_TEMP_INJ', why: 'injectate temperature (cardiac output), not the patient' },
  { code: 188432, refId: 'MDC_TEMP_FINGER', why: 'a peripheral surface temperature, not body temperature' },
  { code: 188440, refId: 'MDC_TEMP_DIFF', why: 'a difference between two temperatures' },
  { code: 188448, refId: 'MDC_TEMP_TOE', why: 'a peripheral surface temperature, not body temperature' },
  { code: 188492, refId: 'MDC_TEMP_TCUT', why: 'the temperature of a transcutaneous sensor' },
  { code: 188508, refId: 'MDC_TEMP_ROOM', why: 'room temperature' },
  { code: 184296, refId: 'MDC_TEMP_MICROENV', why: 'incubator air temperature' },
];

const NOT_USED_BY_CODE = new Map<number, MdcNotUsed>(MDC_NOT_USED.map((m) => [m.code, m]));

/** Every reference id Vigil knows (parameters, synonyms, not used) -> its code. */
const CODE_OF_REFID: ReadonlyMap<string, number> = new Map<string, number>([
  ...PARAMETER_CODES.flatMap((p) => PARAMETERS[p].mdc.flatMap((m) => [m.refId, ...(m.synonyms ?? [])].map((r): [string, number] => [r, m.code]))),
  ...MDC_NOT_USED.map((m): [string, number] => [m.refId, m.code]),
]);

/** The code the nomenclature gives a reference id Vigil knows; undefined for any other text. */
export function mdcCodeOfRefId(refId: string): number | undefined {
  return CODE_OF_REFID.get(refId);
}

/** What an MDC code is to Vigil. */
export type MdcCodeClass =
  | { kind: 'parameter'; spec: ParameterSpec; mdc: MdcCode }
  /** A standard code Vigil reads and does not use (MDC_NOT_USED), or outside the vital-sign partitions. */
  | { kind: 'not-used'; why: string }
  /** A code of a vital-sign partition that Vigil cannot map: a measurement might be missing. */
  | { kind: 'unmapped'; partition: number };

/**
 * Classifies an MDC code: a parameter of the table, a code Vigil knowingly does not use, or a
 * code of a vital-sign partition it cannot map (never guessed: reported as missing).
 */
export function classifyMdcCode(code: number): MdcCodeClass {
  for (const p of PARAMETER_CODES) {
    const mdc = PARAMETERS[p].mdc.find((m) => m.code === code);
    if (mdc) return { kind: 'parameter', spec: PARAMETERS[p], mdc };
  }
  const notUsed = NOT_USED_BY_CODE.get(code);
  if (notUsed) return { kind: 'not-used', why: notUsed.why };
  const partition = mdcPartition(code);
  if (MDC_VITAL_PARTITIONS.includes(partition)) return { kind: 'unmapped', partition };
  return { kind: 'not-used', why: `partition ${partition} holds no vital sign` };
}

/**
 * Whether OBX-3's text (component 2) contradicts its code: the text is a reference id Vigil
 * knows, and the nomenclature gives it another code (e.g. 150031^MDC_PRESS_CUFF_SYS, whose
 * number is an aortic pressure). A text Vigil does not know is not checked (vendors write
 * their own labels there); neither is an empty one.
 */
export function refIdContradicts(code: number, text: string): boolean {
  const expected = CODE_OF_REFID.get(text);
  return expected !== undefined && expected !== code;
}
