/**
 * Interface risk controls applied to every observation from every driver, before it
 * can be published as a value or feed a score. Pure: no I/O, no clock.
 *
 * Checks, in order: the parameter is in the table; the unit is the parameter's
 * canonical UCUM unit; a value is a finite number; it lies in the parameter's
 * physiological plausibility range. A rejection names the field and the rule, never
 * the value.
 */
import type { Observation } from '../model/observation';
import { PARAMETERS } from '../model/parameters';
import type { ParameterCode } from '../model/parameters';

export type ValidationRule = 'unknown-parameter' | 'unit-mismatch' | 'not-finite' | 'implausible';

export type ValidationResult =
  | { ok: true; observation: Observation }
  | { ok: false; field: string; rule: ValidationRule; detail: string };

export function validateObservation(obs: Observation): ValidationResult {
  const spec = Object.hasOwn(PARAMETERS, obs.parameter) ? PARAMETERS[obs.parameter as ParameterCode] : undefined;
  if (!spec) {
    return { ok: false, field: 'parameter', rule: 'unknown-parameter', detail: 'parameter is not in the parameter table' };
  }
  if (obs.unitUcum !== spec.unitUcum) {
    return {
      ok: false,
      field: spec.code,
      rule: 'unit-mismatch',
      detail: `${spec.code}: unit must be "${spec.unitUcum}"`,
    };
  }
  if (obs.value === null) return { ok: true, observation: obs };
  if (!Number.isFinite(obs.value)) {
    return { ok: false, field: spec.code, rule: 'not-finite', detail: `${spec.code}: value must be a finite number` };
  }
  if (obs.value < spec.plausibleMin || obs.value > spec.plausibleMax) {
    return {
      ok: false,
      field: spec.code,
      rule: 'implausible',
      detail: `${spec.code}: value must be between ${spec.plausibleMin} and ${spec.plausibleMax} ${spec.unitUcum}`,
    };
  }
  return { ok: true, observation: obs };
}
