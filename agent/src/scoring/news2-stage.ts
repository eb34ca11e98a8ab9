/**
 * Feeds the current usable vitals to the native NEWS2 score and turns the result
 * into a vigil.v1 EarlyWarningScore. Inputs the devices cannot supply (respiration
 * rate, oxygen, blood pressure, consciousness, temperature for a pulse oximeter
 * alone) are absent, never zero: the score is then published as incomplete, naming
 * what is missing, with the lowest risk the known parameters already imply.
 */
import type { Clock } from '../clock';
import type { News2Input, News2Outcome } from '../native/addon';
import type { News2Field, ParameterCode } from '../model/parameters';
import { PARAMETERS } from '../model/parameters';
import type { EarlyWarningScoreMsg } from '../proto/codec';
import type { VitalsStore } from './vitals';

export type News2Scorer = (input: News2Input) => News2Outcome;

const RISK_ENUM: Record<string, string> = {
  low: 'RISK_LEVEL_LOW',
  'low-medium': 'RISK_LEVEL_LOW_MEDIUM',
  medium: 'RISK_LEVEL_MEDIUM',
  high: 'RISK_LEVEL_HIGH',
};

export type ScoreResult =
  | { ok: true; message: EarlyWarningScoreMsg; riskLevel: string; complete: boolean }
  | { ok: false; field: string; rule: string };

export class News2Stage {
  constructor(
    private readonly scorer: News2Scorer,
    private readonly store: VitalsStore,
    private readonly clock: Clock,
    private readonly spo2Scale: 1 | 2,
  ) {}

  compute(): ScoreResult {
    const input: News2Input = { spo2Scale: this.spo2Scale };
    let oldest = Number.POSITIVE_INFINITY;
    for (const code of Object.keys(PARAMETERS) as ParameterCode[]) {
      const field: News2Field | null = PARAMETERS[code].news2Field;
      const obs = this.store.get(code);
      if (!field || !obs || obs.value === null) continue;
      if (field === 'onOxygen' || field === 'consciousness') continue; // no device supplies these yet
      (input as Record<string, unknown>)[field] = obs.value;
      oldest = Math.min(oldest, obs.receiveWallMs);
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
        spo2Scale: this.spo2Scale,
        computedWallMs: this.clock.wallMs(),
        computedMonoNs: this.clock.monoNs().toString(),
        oldestInputWallMs: Number.isFinite(oldest) ? oldest : 0,
      },
    };
  }
}
