/**
 * Seeded patient scenarios for the simulated pulse oximeter.
 *
 * Time is simulated: `elapsedSeconds` counts device seconds since the start of the run (the
 * real device sends one line per second, so frame n is at n seconds). The playback speed
 * (--period-ms) does not change what a scenario produces, only how fast it is sent.
 *
 * A scenario must be sampled in increasing time order: its noise comes from one seeded
 * generator, so the same seed gives the same sequence of samples.
 */
import { createRng, type Rng } from './rng';

export const SCENARIO_NAMES = ['stable', 'desaturation', 'sensor-off', 'alarm-cycles'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export function isScenarioName(name: string): name is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(name);
}

/** What the device measures at one instant, already at the device's resolution. */
export interface VitalsSample {
  spo2Percent: number | null;
  pulseBpm: number | null;
  perfusionIndexPercent: number | null;
  pviPercent: number | null;
  alarmBits: number;
  exceptionBits: number;
}

export interface Scenario {
  readonly name: ScenarioName;
  readonly seed: number;
  sampleAt(elapsedSeconds: number): VitalsSample;
}

// EXC bits used by the scenarios (Masimo Radical-7 serial output description; see
// docs/interfaces/masimo-ascii.md). 0x800 "Masimo SET" is the normal-operation status flag.
const EXC_MASIMO_SET = 0x000800;
const EXC_SENSOR_OFF = 0x000020;

// ALARM bits (docs/interfaces/masimo-ascii.md, "ALARM bits": S1, and S8 by experiment on a
// Rad-8 for 0x0001-0x0020): the limit alarms, and "alarm active" while any of them is on.
const ALARM_SPO2_HIGH = 0x0001;
const ALARM_SPO2_LOW = 0x0002;
const ALARM_PULSE_HIGH = 0x0004;
const ALARM_PULSE_LOW = 0x0008;
const ALARM_ACTIVE = 0x0010;

/**
 * The device's alarm limits: a limit alarm is on while the value is beyond its limit (below a low
 * limit, above a high one). Vigil never sees the limits: they are the device's settings.
 */
export interface AlarmLimits {
  spo2LowPercent: number;
  /** 100: off (SpO2 cannot exceed it). */
  spo2HighPercent: number;
  pulseLowBpm: number;
  pulseHighBpm: number;
}

/** Simulated alarm limits (a plausible adult setting, not a device's factory default). */
export const DEFAULT_ALARM_LIMITS: Readonly<AlarmLimits> = { spo2LowPercent: 90, spo2HighPercent: 100, pulseLowBpm: 50, pulseHighBpm: 120 };

const BASELINE_SPO2_PERCENT = 98;
const BASELINE_PULSE_BPM = 75;
const BASELINE_PI_PERCENT = 3.5;
const BASELINE_PVI_PERCENT = 12;

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

function roundTo(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}

/** Linear interpolation of `from` -> `to` while t goes t0 -> t1 (clamped outside). */
function ramp(t: number, t0: number, t1: number, from: number, to: number): number {
  if (t <= t0) return from;
  if (t >= t1) return to;
  return from + ((to - from) * (t - t0)) / (t1 - t0);
}

/** The ALARM bits a device with these limits sets for these readings (none for a dashed value). */
export function alarmBitsFor(spo2Percent: number | null, pulseBpm: number | null, limits: Readonly<AlarmLimits> = DEFAULT_ALARM_LIMITS): number {
  let bits = 0;
  if (spo2Percent !== null && spo2Percent > limits.spo2HighPercent) bits |= ALARM_SPO2_HIGH;
  if (spo2Percent !== null && spo2Percent < limits.spo2LowPercent) bits |= ALARM_SPO2_LOW;
  if (pulseBpm !== null && pulseBpm > limits.pulseHighBpm) bits |= ALARM_PULSE_HIGH;
  if (pulseBpm !== null && pulseBpm < limits.pulseLowBpm) bits |= ALARM_PULSE_LOW;
  return bits === 0 ? 0 : bits | ALARM_ACTIVE;
}

/**
 * One reading around the given targets: SpO2 with small measurement noise, pulse with a slow
 * respiratory sinus arrhythmia (15 s period) plus noise, PI and PVI with noise.
 */
function reading(
  rng: Rng,
  t: number,
  spo2TargetPercent: number,
  pulseTargetBpm: number,
  limits: { spo2: [number, number]; pulse: [number, number] },
): VitalsSample {
  const spo2Percent = clamp(Math.round(rng.normal(spo2TargetPercent, 0.5)), limits.spo2[0], limits.spo2[1]);
  const sinus = 2 * Math.sin((2 * Math.PI * t) / 15);
  const pulseBpm = clamp(Math.round(rng.normal(pulseTargetBpm + sinus, 1)), limits.pulse[0], limits.pulse[1]);
  const perfusionIndexPercent = roundTo(clamp(rng.normal(BASELINE_PI_PERCENT, 0.2), 0.3, 20), 2);
  const pviPercent = clamp(Math.round(rng.normal(BASELINE_PVI_PERCENT, 1)), 0, 100);
  return {
    spo2Percent,
    pulseBpm,
    perfusionIndexPercent,
    pviPercent,
    alarmBits: alarmBitsFor(spo2Percent, pulseBpm),
    exceptionBits: EXC_MASIMO_SET,
  };
}

const STABLE_LIMITS = { spo2: [97, 99] as [number, number], pulse: [70, 80] as [number, number] };
const WIDE_LIMITS = { spo2: [0, 100] as [number, number], pulse: [30, 240] as [number, number] };

/** Desaturation timeline, in device seconds. */
export const DESATURATION_TIMELINE = {
  fallStartSeconds: 10,
  fallEndSeconds: 40,
  recoverStartSeconds: 70,
  recoverEndSeconds: 100,
  nadirSpo2Percent: 85,
  peakPulseBpm: 105,
} as const;

/**
 * Alarm cycles, for the alarm onset benchmark (docs/benchmarks.md): SpO2 is at the baseline on even
 * device seconds and at `lowSpo2Percent` on odd ones, so a device with the default low limit (90 %)
 * raises its SpO2-low alarm on every odd second and ends it on every even one: one onset every
 * `periodSeconds`. 86 % is 4 points under the limit (a reading of 90 would take 7 standard deviations
 * of the noise): no dip is missed. Not a physiological course (SpO2 does not fall 12 points in a second).
 */
export const ALARM_CYCLES = { periodSeconds: 2, lowSpo2Percent: 86 } as const;

/** Sensor-off: valid readings for this many seconds, then the sensor comes off. */
export const SENSOR_OFF_AFTER_SECONDS = 5;

export function createScenario(name: ScenarioName, seed: number): Scenario {
  const rng = createRng(seed);
  switch (name) {
    case 'stable':
      return { name, seed, sampleAt: (t) => reading(rng, t, BASELINE_SPO2_PERCENT, BASELINE_PULSE_BPM, STABLE_LIMITS) };
    case 'desaturation': {
      const d = DESATURATION_TIMELINE;
      return {
        name,
        seed,
        sampleAt(t) {
          if (t < d.fallStartSeconds || t >= d.recoverEndSeconds) {
            return reading(rng, t, BASELINE_SPO2_PERCENT, BASELINE_PULSE_BPM, STABLE_LIMITS);
          }
          const falling = t < d.recoverStartSeconds;
          const spo2Target = falling
            ? ramp(t, d.fallStartSeconds, d.fallEndSeconds, BASELINE_SPO2_PERCENT, d.nadirSpo2Percent)
            : ramp(t, d.recoverStartSeconds, d.recoverEndSeconds, d.nadirSpo2Percent, BASELINE_SPO2_PERCENT);
          const pulseTarget = falling
            ? ramp(t, d.fallStartSeconds, d.fallEndSeconds, BASELINE_PULSE_BPM, d.peakPulseBpm)
            : ramp(t, d.recoverStartSeconds, d.recoverEndSeconds, d.peakPulseBpm, BASELINE_PULSE_BPM);
          return reading(rng, t, spo2Target, pulseTarget, WIDE_LIMITS);
        },
      };
    }
    case 'alarm-cycles':
      return {
        name,
        seed,
        sampleAt(t) {
          const low = t % ALARM_CYCLES.periodSeconds === ALARM_CYCLES.periodSeconds - 1;
          return low
            ? reading(rng, t, ALARM_CYCLES.lowSpo2Percent, BASELINE_PULSE_BPM, WIDE_LIMITS)
            : reading(rng, t, BASELINE_SPO2_PERCENT, BASELINE_PULSE_BPM, STABLE_LIMITS);
        },
      };
    case 'sensor-off':
      return {
        name,
        seed,
        sampleAt(t) {
          const valid = reading(rng, t, BASELINE_SPO2_PERCENT, BASELINE_PULSE_BPM, STABLE_LIMITS);
          if (t < SENSOR_OFF_AFTER_SECONDS) return valid;
          // Off the patient the device dashes every reading and sets "Sensor Off" (the Rad-8
          // trend example shows it together with the SET status flag: EXC=820).
          return {
            spo2Percent: null,
            pulseBpm: null,
            perfusionIndexPercent: null,
            pviPercent: null,
            alarmBits: 0,
            exceptionBits: EXC_MASIMO_SET | EXC_SENSOR_OFF,
          };
        },
      };
  }
}
