/**
 * Feeds the current usable vitals to the native NEWS2 score and turns the result into
 * a vigil.v1 EarlyWarningScore that lists the inputs it used (with their ages) and the
 * values it kept out (with the reason). Inputs nobody supplies are absent, never zero:
 * the score is then incomplete, names what is missing, and gives the lowest risk the
 * known parameters already imply.
 *
 * When several parameters or interfaces can feed one NEWS2 input (ECG heart rate and
 * oximeter pulse both feed pulseBpm), the configured priority decides, never arrival order.
 */
import type { Clock } from '../clock';
import type { News2Input, News2Outcome } from '../native/addon';
import type { News2Field, ParameterCode } from '../model/parameters';
import { PARAMETER_CODES, PARAMETERS } from '../model/parameters';
import type { EarlyWarningScoreMsg, ExcludedInputMsg, ScoreInputMsg } from '../proto/codec';
import type { Candidate, VitalsStore } from './vitals';

export type News2Scorer = (input: News2Input) => News2Outcome;

/** Manual inputs (from the station) that no device supplies. */
export interface ManualInputs {
  onOxygen?: { value: boolean; wallMs: number; enteredBy?: string; ageMs?: number } | undefined;
  consciousness?: { value: 'A' | 'C' | 'V' | 'P' | 'U'; wallMs: number; enteredBy?: string; ageMs?: number } | undefined;
}

const RISK_ENUM: Record<string, string> = {
  low: 'RISK_LEVEL_LOW',
  'low-medium': 'RISK_LEVEL_LOW_MEDIUM',
  medium: 'RISK_LEVEL_MEDIUM',
  high: 'RISK_LEVEL_HIGH',
};

export type ScoreResult =
  | { ok: true; message: EarlyWarningScoreMsg; riskLevel: string; complete: boolean }
  | { ok: false; field: string; rule: string };

/** Default source priority per NEWS2 input: ECG heart rate before oximeter pulse. */
export const DEFAULT_PRIORITY: Readonly<Partial<Record<News2Field, readonly ParameterCode[]>>> = {
  pulseBpm: ['heartRate', 'pulseRate'],
};

/** The candidates for each numeric NEWS2 input: parameters in priority order x interfaces in config order. */
export function candidatesFor(
  interfaceIds: readonly string[],
  priority: Readonly<Partial<Record<News2Field, readonly ParameterCode[]>>> = DEFAULT_PRIORITY,
): Map<News2Field, Candidate[]> {
  const out = new Map<News2Field, Candidate[]>();
  for (const code of PARAMETER_CODES) {
    const field = PARAMETERS[code].news2Field;
    if (!field) continue;
    if (!out.has(field)) {
      const params = priority[field] ?? PARAMETER_CODES.filter((c) => PARAMETERS[c].news2Field === field);
      out.set(field, params.flatMap((parameter) => interfaceIds.map((interfaceId) => ({ parameter, interfaceId }))));
    }
  }
  return out;
}

export class News2Stage {
  private readonly candidates: Map<News2Field, Candidate[]>;

  constructor(
    private readonly scorer: News2Scorer,
    private readonly store: VitalsStore,
    private readonly clock: Clock,
    private readonly spo2Scale: () => 1 | 2,
    interfaceIds: readonly string[],
    private readonly manual: () => ManualInputs = () => ({}),
    priority?: Readonly<Partial<Record<News2Field, readonly ParameterCode[]>>>,
  ) {
    this.candidates = candidatesFor(interfaceIds, priority);
  }

  compute(): ScoreResult {
    const spo2Scale = this.spo2Scale();
    const input: News2Input = { spo2Scale };
    const inputs: ScoreInputMsg[] = [];
    const excluded: ExcludedInputMsg[] = [];
    let oldest = Number.POSITIVE_INFINITY;
    for (const [field, candidates] of this.candidates) {
      const sel = this.store.select(candidates);
      for (const e of sel.excluded) excluded.push({ field, parameter: e.parameter, interfaceId: e.interfaceId, reason: e.reason });
      if (!sel.used || sel.used.value === null) continue;
      (input as Record<string, unknown>)[field] = sel.used.value;
      inputs.push({
        field,
        parameter: sel.used.parameter,
        interfaceId: sel.used.source.interfaceId,
        value: sel.used.value,
        ageMs: Math.round(sel.ageMs),
      });
      oldest = Math.min(oldest, sel.used.receiveWallMs);
    }
    const manual = this.manual();
    if (manual.onOxygen) input.onOxygen = manual.onOxygen.value;
    if (manual.consciousness) input.consciousness = manual.consciousness.value;
    // Manual inputs are listed as used, with who entered them (commands-in/manual.ts).
    if (manual.onOxygen) {
      const m = manual.onOxygen;
      inputs.push({ field: 'onOxygen', parameter: 'onOxygen', interfaceId: 'manual', value: m.value ? 1 : 0, ageMs: Math.round(m.ageMs ?? 0), valueCode: m.value ? 'supplemental' : 'air', enteredBy: m.enteredBy ?? '' });
      oldest = Math.min(oldest, m.wallMs);
    }
    if (manual.consciousness) {
      const m = manual.consciousness;
      inputs.push({ field: 'consciousness', parameter: 'consciousness', interfaceId: 'manual', value: 0, ageMs: Math.round(m.ageMs ?? 0), valueCode: m.value, enteredBy: m.enteredBy ?? '' });
      oldest = Math.min(oldest, m.wallMs);
    }
    const outcome = this.scorer(input);
    if (!outcome.ok) return { ok: false, field: outcome.error.field, rule: outcome.error.rule };
    const s = outcome.score;
    const points = Object.entries(s.points)
      .filter((e): e is [string, number] => typeof e[1] === 'number')
      .map(([parameter, p]) => ({ parameter, points: p }));
    return {
      ok: true,
      riskLevel: s.riskLevel,
      complete: s.complete,
      message: {
        scheme: 'NEWS2',
        total: s.total,
        points,
        riskLevel: RISK_ENUM[s.riskLevel] ?? 'RISK_LEVEL_UNSPECIFIED',
        complete: s.complete,
        missing: s.missing,
        spo2Scale,
        computedWallMs: this.clock.wallMs(),
        computedMonoNs: this.clock.monoNs().toString(),
        oldestInputWallMs: Number.isFinite(oldest) ? oldest : 0,
        inputs,
        excluded,
      },
    };
  }
}
