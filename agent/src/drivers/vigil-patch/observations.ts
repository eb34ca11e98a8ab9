/**
 * One device second of the patch as observations (pure): heartRate from the ECG, pulseRate,
 * spo2 and perfusionIndex from the PPG, respRate fused from the accelerometer and the ECG and
 * PPG modulations,
 * and skinTemperature from STATUS. A value that cannot be obtained is published unavailable
 * with its reason (leads-off, probe-off, signal-processing-failed, ...); what the patch flags
 * (motion, a sensor fault, an unknown status bit) and samples bridged across a gap become
 * quality flags, which keep the value out of the score downstream (HAZ-009, CTRL-204). The
 * skin temperature is its own parameter, never NEWS2's temperature (HAZ-005, CTRL-207).
 */
import type { FrameStamp } from '../../io/serial';
import type { Observation, QualityFlag, SourceDevice } from '../../model/observation';
import { PARAMETERS } from '../../model/parameters';
import type { ParameterCode } from '../../model/parameters';
import type { FusedRespSources, PpgBatch } from '../../native/addon';
import type { PatchCondition } from './frame-layout';
import type { BatchOutcome, SecondBatches } from './signal-batches';

/** What the last STATUS frame said. */
export interface LastStatus {
  conditions: Set<PatchCondition>;
  unknownFlagBits: number;
  skinTempCelsius: number | null;
  tickMs: number;
}

/** Where and when the second was measured. */
export interface SecondContext {
  stamp: FrameStamp;
  /** The device tick that closed the second. */
  tickMs: number;
  /** That tick on the gateway's wall clock, or null before the anchor. */
  deviceTimeMs: number | null;
  source: SourceDevice;
  status: LastStatus | null;
}

type Make = (parameter: ParameterCode, value: number | null, quality: QualityFlag[], unavailableReason: string) => Observation;

function round(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}

function notFrom(out: BatchOutcome<unknown>): string {
  return out.kind === 'failed' ? 'signal-processing-failed' : out.kind === 'rejected' ? 'batch-rejected' : 'no-signal';
}

/**
 * ECG -> heart rate. Leads off (the patch's flag, or a flat signal found by the detector):
 * unavailable and flagged sensor-off, which raises the technical alarm downstream.
 */
function heartRate(make: Make, conditions: ReadonlySet<PatchCondition>, second: SecondBatches): Observation {
  const ecg = second.ecg;
  if (conditions.has('lead-off') || (ecg.kind === 'result' && ecg.result.status === 'leads-off')) {
    return make('heartRate', null, ['sensor-off'], 'leads-off');
  }
  if (ecg.kind !== 'result') return make('heartRate', null, [], notFrom(ecg));
  const r = ecg.result;
  const flags: QualityFlag[] = [];
  if (r.status === 'noisy') flags.push('low-signal-quality');
  if (conditions.has('motion')) flags.push('motion');
  if (second.gap.ecg) flags.push('low-signal-quality');
  return make('heartRate', r.heartRateBpm === null ? null : round(r.heartRateBpm, 0), flags, `ecg-${r.status}`);
}

/** PPG -> pulse rate, SpO2, perfusion index. */
function optical(make: Make, conditions: ReadonlySet<PatchCondition>, second: SecondBatches): Observation[] {
  const ppgParams: Array<[ParameterCode, (r: PpgBatch) => number | null, number]> = [
    ['pulseRate', (r) => r.pulseRateBpm, 0],
    ['spo2', (r) => r.spo2Percent, 0],
    ['perfusionIndex', (r) => r.perfusionIndexPercent, 2],
  ];
  const ppg = second.ppg;
  return ppgParams.map(([parameter, pick, decimals]) => {
    if (conditions.has('probe-off')) return make(parameter, null, ['sensor-off'], 'probe-off');
    if (ppg.kind !== 'result') return make(parameter, null, [], notFrom(ppg));
    const r = ppg.result;
    const flags: QualityFlag[] = [];
    if (r.motion || conditions.has('motion')) flags.push('motion');
    if (r.lowPerfusion) flags.push('low-perfusion');
    if (second.gap.ppg) flags.push('low-signal-quality');
    const v = pick(r);
    const reason = r.lowPerfusion ? 'low-perfusion' : r.motion ? 'motion' : 'ppg-no-value';
    return make(parameter, v === null ? null : round(v, decimals), flags, reason);
  });
}

/**
 * Accelerometer (direct), ECG and PPG modulations -> respiration rate, fused once per second.
 * A rate the fusion withdraws is unavailable with the fusion's reason (`resp-learning`,
 * `resp-low-quality`, `resp-no-signal`, `resp-no-source`); samples bridged across a gap in a
 * channel the rate came from flag it.
 */
function respiration(make: Make, conditions: ReadonlySet<PatchCondition>, second: SecondBatches, fused: FusedRespSources | null): Observation {
  if (conditions.has('lead-off') && conditions.has('probe-off')) return make('respRate', null, ['sensor-off'], 'patch-off');
  if (fused === null) return make('respRate', null, [], 'signal-processing-failed');
  const flags: QualityFlag[] = [];
  if (conditions.has('motion')) flags.push('motion');
  const from = fused.source === 'ecg+ppg' ? ['ecg', 'ppg'] : [fused.source];
  if (from.includes('direct') && second.gap.accel) flags.push('low-signal-quality');
  if (from.includes('ecg') && second.gap.ecg) flags.push('low-signal-quality');
  if (from.includes('ppg') && second.gap.ppg) flags.push('low-signal-quality');
  return make('respRate', fused.respRatePerMin === null ? null : round(fused.respRatePerMin, 0), flags, `resp-${fused.status}`);
}

/** Skin temperature (never NEWS2's temperature: a parameter of its own). */
function skinTemperature(make: Make, conditions: ReadonlySet<PatchCondition>, status: LastStatus | null): Observation {
  const skin = status?.skinTempCelsius ?? null;
  if (conditions.has('lead-off')) return make('skinTemperature', null, ['sensor-off'], 'leads-off');
  return make('skinTemperature', skin === null ? null : round(skin, 2), [], 'not-measured');
}

/** The observations of one device second, in the order heartRate, pulseRate, spo2, perfusionIndex, respRate, skinTemperature. */
export function secondObservations(ctx: SecondContext, second: SecondBatches, fused: FusedRespSources | null): Observation[] {
  const conditions = ctx.status?.conditions ?? new Set<PatchCondition>();
  const deviceFlags: QualityFlag[] = [];
  if ((ctx.status?.unknownFlagBits ?? 0) !== 0) deviceFlags.push('unknown-device-condition');
  if (conditions.has('sensor-fault')) deviceFlags.push('device-fault');
  const make: Make = (parameter, value, quality, unavailableReason) => ({
    parameter,
    value,
    unitUcum: PARAMETERS[parameter].unitUcum,
    status: value === null ? 'cannot-obtain' : 'final',
    quality: [...new Set([...deviceFlags, ...quality])].sort(),
    source: ctx.source,
    deviceTimeMs: ctx.deviceTimeMs,
    deviceTimeText: `tick=${ctx.tickMs}`,
    receiveWallMs: ctx.stamp.wallMs,
    receiveMonoNs: ctx.stamp.monoNs,
    unavailableReason: value === null ? unavailableReason : '',
  });
  return [
    heartRate(make, conditions, second),
    ...optical(make, conditions, second),
    respiration(make, conditions, second, fused),
    skinTemperature(make, conditions, ctx.status),
  ];
}
