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

export class ValidationStage {
  private readonly memory = new Map<string, SourceMemory>();
  private readonly counters = new Map<string, Record<string, number>>();

  constructor(
    private readonly settings: {
      maxAgeMs(spec: ParameterSpec): number;
      clockOffsetBoundMs: number;
    },
  ) {}

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
