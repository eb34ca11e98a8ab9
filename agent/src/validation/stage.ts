/**
 * The validation stage between the drivers and everything downstream: runs the
 * interface risk controls (controls.ts) on every observation, keeps the per-source
 * memory they need, and counts per interface what happened (accepted, rejected by
 * rule, unit conversions, clock offset) for the gateway status: the interface health
 * record used for post-market surveillance.
 */
import type { Observation } from '../model/observation';
import type { ParameterSpec } from '../model/parameters';
import type { Notice, Rejection, SourceMemory } from './controls';
import { clockOffsetMs, newSourceMemory, runControls } from './controls';

export type StageResult = { ok: true; obs: Observation; notices: Notice[] } | (Rejection & { interfaceId: string });

export interface InterfaceHealth {
  counters: Record<string, number>;
  clockOffsetMs: number | null;
  clockTrusted: boolean;
}

/**
 * Frozen-value detection (a stuck device or firmware repeating its last frame): an
 * interface whose values are all identical to the previous emission, continuously for the
 * window, is frozen; its values are flagged `frozen` (kept out of the score) until one changes.
 * Real physiological signals at the devices' resolution (pulse rate, perfusion index to 0.01)
 * do not stay bit-identical for that long.
 */
export interface FrozenVerdict {
  frozen: boolean;
  /** True on the emission that changed the frozen state (to raise or clear the alarm once). */
  changed: boolean;
}

interface FrozenState {
  signature: string;
  sinceMonoNs: bigint;
  frozen: boolean;
}

export class ValidationStage {
  private readonly memory = new Map<string, SourceMemory>();
  private readonly frozen = new Map<string, FrozenState>();
  private readonly counters = new Map<string, Record<string, number>>();

  constructor(
    private readonly settings: {
      maxAgeMs(spec: ParameterSpec): number;
      clockOffsetBoundMs: number;
      /** Identical values for this long make an interface frozen (default 30 s). */
      frozenWindowMs?: number;
    },
  ) {}

  /**
   * Checks one emission of an interface (all the observations of one frame) for frozen
   * values, on the frame's monotonic receive time. Observations without a value do not count.
   */
  checkFrozen(interfaceId: string, observations: readonly Observation[]): FrozenVerdict {
    const withValues = observations.filter((o) => o.value !== null);
    const first = withValues[0];
    if (!first) return { frozen: false, changed: false };
    const signature = withValues.map((o) => `${o.parameter}=${o.value}`).join(';');
    const now = first.receiveMonoNs;
    const state = this.frozen.get(interfaceId);
    if (!state || state.signature !== signature) {
      const wasFrozen = state?.frozen ?? false;
      this.frozen.set(interfaceId, { signature, sinceMonoNs: now, frozen: false });
      return { frozen: false, changed: wasFrozen };
    }
    const windowMs = this.settings.frozenWindowMs ?? 30_000;
    const nowFrozen = Number(now - state.sinceMonoNs) / 1e6 >= windowMs;
    const changed = nowFrozen !== state.frozen;
    state.frozen = nowFrozen;
    if (changed && nowFrozen) this.count(interfaceId, 'frozen-events');
    return { frozen: nowFrozen, changed };
  }

  check(obs: Observation): StageResult {
    const interfaceId = obs.source.interfaceId;
    let memory = this.memory.get(interfaceId);
    if (!memory) {
      memory = newSourceMemory();
      this.memory.set(interfaceId, memory);
    }
    const verdict = runControls(obs, memory, this.settings);
    if (!verdict.ok) {
      this.count(interfaceId, `values-rejected.${verdict.rule}`);
      return { ...verdict, interfaceId };
    }
    this.count(interfaceId, 'values-accepted');
    if (verdict.obs.original) this.count(interfaceId, 'unit-conversions');
    for (const n of verdict.notices) this.count(interfaceId, `notices.${n.condition}`);
    return verdict;
  }

  /** Counts an event of an interface (e.g. stale events) in its health record. */
  count(interfaceId: string, name: string): void {
    let c = this.counters.get(interfaceId);
    if (!c) {
      c = {};
      this.counters.set(interfaceId, c);
    }
    c[name] = (c[name] ?? 0) + 1;
  }

  health(interfaceId: string): InterfaceHealth {
    const memory = this.memory.get(interfaceId);
    return {
      counters: { ...(this.counters.get(interfaceId) ?? {}) },
      clockOffsetMs: memory ? clockOffsetMs(memory) : null,
      clockTrusted: memory?.clockTrusted ?? true,
    };
  }
}
