/**
 * The shape every benchmark writes to build/bench/<name>.json, so that each can be rerun alone
 * and report.ts rebuilds the table and docs/benchmarks.md from whatever results are there.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { RESULTS_DIR } from './bed';
import type { LoadSummary, Machine } from './measure';

export interface Target {
  op: '<=' | '>=';
  value: number;
}

export interface Figure {
  /** What is measured, as the table shows it. */
  label: string;
  value: number;
  unit: string;
  decimals?: number;
  target?: Target;
  /** Absent without a target. */
  met?: boolean;
  /** The 1-minute load average while it was measured. */
  load: LoadSummary;
}

export interface BenchResult {
  name: string;
  title: string;
  measuredAt: string;
  machine: Machine;
  /** The command that reproduces it (after `make build`). */
  command: string;
  seconds: number;
  figures: Figure[];
  /** The section of docs/benchmarks.md for it (method, runs, what gives first). */
  markdown: string;
  details: unknown;
}

export function figure(label: string, value: number, unit: string, load: LoadSummary, target?: Target, decimals = 1): Figure {
  const met = target === undefined || !Number.isFinite(value) ? undefined : target.op === '<=' ? value <= target.value : value >= target.value;
  return { label, value, unit, decimals, load, ...(target ? { target } : {}), ...(met !== undefined ? { met } : target ? { met: false } : {}) };
}

export function writeResult(result: BenchResult): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${result.name}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

export function readResult(name: string): BenchResult | null {
  const file = join(RESULTS_DIR, `${name}.json`);
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, 'utf8')) as BenchResult;
}

export function fmt(value: number, decimals = 1): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-GB', { minimumFractionDigits: decimals, maximumFractionDigits: decimals }).replace(/,/g, ' ');
}

export function loadText(l: LoadSummary): string {
  return l.min === l.max ? fmt(l.min, 2) : `${fmt(l.min, 2)}-${fmt(l.max, 2)}`;
}

export function targetText(t: Target | undefined, unit: string): string {
  return t === undefined ? '-' : `${t.op === '<=' ? '<=' : '>='} ${fmt(t.value, t.value % 1 === 0 ? 0 : 1)} ${unit}`.trim();
}

/** A Markdown table from rows of cells. */
export function table(head: string[], rows: string[][], align?: Array<'l' | 'r'>): string {
  const sep = head.map((_, i) => ((align?.[i] ?? 'l') === 'r' ? '---:' : '---'));
  return [head, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

/** Figures as a plain-text table for the terminal. */
export function printFigures(result: BenchResult): void {
  const rows = result.figures.map((f) => [
    f.label,
    `${fmt(f.value, f.decimals ?? 1)} ${f.unit}`,
    targetText(f.target, f.unit),
    f.met === undefined ? '' : f.met ? 'met' : 'NOT met',
    `load ${loadText(f.load)}`,
  ]);
  const widths = [0, 1, 2, 3, 4].map((i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  process.stdout.write(`\n${result.title}\n`);
  for (const r of rows) process.stdout.write(`  ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}\n`);
}
