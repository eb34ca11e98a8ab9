/**
 * The NEWS2 scoring API of the native addon (`scoreNews2`, `scoreNews2Batch`; native/core
 * news2, docs/news2.md), as the rest of the agent sees it. The addon returns these shapes
 * as they are (names from the binding crate, vigil-native).
 */
import type { News2Field } from '../model/parameters';

/** SpO2 scale of the patient (RCP NEWS2 2017, Chart 1): 1 by default, 2 only when prescribed. */
export type Spo2Scale = 1 | 2;

/** Level of consciousness, ACVPU: Alert, new Confusion, Voice, Pain, Unresponsive. */
export type Consciousness = 'A' | 'C' | 'V' | 'P' | 'U';

/** The NEWS2 parameters, by their JSON names, in the order of Chart 1 (one list: the model's). */
export type News2Parameter = News2Field;

/** Risk level (RCP NEWS2 2017, Chart 3: NEWS thresholds and triggers). */
export type RiskLevel = 'low' | 'low-medium' | 'medium' | 'high';

/** One observation set. An absent field means "not measured", never zero. */
export interface News2Input {
  respRatePerMin?: number;
  spo2Percent?: number;
  /** Patient configuration; default 1. */
  spo2Scale?: Spo2Scale;
  /** `true` on supplemental oxygen, `false` on air. */
  onOxygen?: boolean;
  systolicMmHg?: number;
  pulseBpm?: number;
  consciousness?: Consciousness;
  tempCelsius?: number;
}

/** Points per parameter; a parameter that was not given is absent. */
export type News2Points = Partial<Record<News2Parameter, number>>;

/** A NEWS2 score. When `complete` is false, `riskLevel` is the lowest level the known points imply. */
export interface News2Score {
  total: number;
  points: News2Points;
  riskLevel: RiskLevel;
  complete: boolean;
  /** Parameters not given, in chart order. */
  missing: News2Parameter[];
}

/** Why an input was rejected: the field and a stable rule string, never the value. */
export interface News2InputError {
  field: string;
  rule: string;
}

/** Result union of one scoring call: a rejected input is data, not an exception. */
export type News2Outcome = { ok: true; score: News2Score } | { ok: false; error: News2InputError };
