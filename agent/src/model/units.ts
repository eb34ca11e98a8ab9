/**
 * Units accepted for each canonical UCUM unit, and the exact UCUM conversion to it.
 * A value in an accepted unit is converted to the canonical unit (the original value
 * and unit are kept on the observation); a unit not listed here, or of another
 * dimension, is rejected. Annotations in braces ({beat}, {breath}) are UCUM's
 * dimensionless annotations: `{beat}/min` is `/min`.
 *
 * MDC unit codes (IEEE 11073-10101 partition 4) map to their UCUM unit first.
 */
export interface UnitConversion {
  /** Converts a value in this unit to the canonical unit. */
  toCanonical: (value: number) => number;
}

const identity: UnitConversion = { toCanonical: (v) => v };

/** canonical unit -> accepted unit -> conversion. */
export const ACCEPTED_UNITS: Readonly<Record<string, Readonly<Record<string, UnitConversion>>>> = {
  '%': { '%': identity },
  '/min': {
    '/min': identity,
    '{beat}/min': identity,
    '{beats}/min': identity,
    '{breath}/min': identity,
    '{breaths}/min': identity,
    '{resp}/min': identity,
  },
  'mm[Hg]': {
    'mm[Hg]': identity,
    // UCUM: m[Hg] = 133.3220 kPa, so 1 kPa = 1 / 0.1333220 mm[Hg].
    kPa: { toCanonical: (v) => v / 0.133322 },
  },
  Cel: {
    Cel: identity,
    // UCUM [degF]: 5/9 K with the offset of the Fahrenheit scale.
    '[degF]': { toCanonical: (v) => ((v - 32) * 5) / 9 },
    K: { toCanonical: (v) => v - 273.15 },
  },
  // Haemoglobin mass concentration (SpHb). UCUM: dL = 0.1 L, so 1 g/L = 0.1 g/dL. mmol/L is
  // not listed: converting it needs the molar mass of haemoglobin, a convention, not UCUM.
  'g/dL': {
    'g/dL': identity,
    'g/L': { toCanonical: (v) => v / 10 },
  },
  // Oxygen content (SpOC), volume of O2 per volume of blood.
  'mL/dL': { 'mL/dL': identity },
};

/** MDC unit reference ids and numeric codes -> UCUM. */
export const MDC_UNITS: Readonly<Record<string, string>> = {
  MDC_DIM_PERCENT: '%',
  '262688': '%',
  MDC_DIM_MMHG: 'mm[Hg]',
  '266016': 'mm[Hg]',
  MDC_DIM_KILO_PASCAL: 'kPa',
  '265987': 'kPa',
  MDC_DIM_DEGC: 'Cel',
  '268192': 'Cel',
  MDC_DIM_FAHR: '[degF]',
  '266560': '[degF]',
  MDC_DIM_BEAT_PER_MIN: '{beat}/min',
  '264864': '{beat}/min',
  MDC_DIM_RESP_PER_MIN: '{breath}/min',
  '264928': '{breath}/min',
  MDC_DIM_PER_MIN: '/min',
};

export type UnitResult =
  | { ok: true; value: number; converted: boolean }
  | { ok: false; rule: 'unknown-unit' | 'wrong-dimension' };

/** Every UCUM unit Vigil knows, of any dimension. */
const KNOWN_UNITS = new Set(Object.values(ACCEPTED_UNITS).flatMap((m) => Object.keys(m)));

/** Converts `value` in `unit` to `canonicalUnit`, or says why it cannot. */
export function toCanonicalUnit(value: number, unit: string, canonicalUnit: string): UnitResult {
  const accepted = ACCEPTED_UNITS[canonicalUnit];
  const conversion = accepted?.[unit];
  if (conversion) {
    return { ok: true, value: conversion.toCanonical(value), converted: unit !== canonicalUnit && conversion !== identity };
  }
  return { ok: false, rule: KNOWN_UNITS.has(unit) ? 'wrong-dimension' : 'unknown-unit' };
}
