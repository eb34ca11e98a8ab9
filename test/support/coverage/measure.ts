/**
 * The coverage `make test` measured, read back per product file: the TypeScript of agent/src
 * (V8, through tap and c8) and the Rust of native/core (cargo llvm-cov), both as LCOV in
 * build/test/coverage/. Every product file is listed, measured or not: a file no test loaded is
 * shown as such, never left out.
 *
 *   build/test/coverage/ts/lcov.info     agent/src, mapped from dist/ by the source maps
 *   build/test/coverage/rust.lcov        native/core, from its cargo tests
 *   build/test/coverage/summary.json     the totals `make test` printed (written by report.ts)
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import ts from 'typescript';
import { readText, rel, walkFiles } from '../evidence/util';
import type { FileCoverage, Figures, LineRange, Ratio } from './lcov';
import { addRatio, figures, parseLcov } from './lcov';
import { rustTestRanges } from './rust-items';

export type Area = 'typescript' | 'rust';

/** What each measurement covers, and where its tracefile is (relative to the coverage folder). */
export const AREAS: Record<Area, { scope: string; ext: RegExp; tracefile: string; tool: string }> = {
  typescript: { scope: 'agent/src', ext: /\.ts$/, tracefile: join('ts', 'lcov.info'), tool: 'V8 coverage recorded by tap (@tapjs/processinfo), mapped to the .ts sources by c8' },
  rust: { scope: 'native/core', ext: /\.rs$/, tracefile: 'rust.lcov', tool: 'cargo llvm-cov (LLVM source-based coverage)' },
};

export interface FileRow {
  /** Repository-relative path. */
  path: string;
  /** Null when the file has no figures: see `note`. */
  figures: Figures | null;
  /** Why a file has no figures, or why they are not in the totals. */
  note?: string;
}

export interface AreaCoverage {
  area: Area;
  scope: string;
  /** False when the tracefile is missing: nothing was measured. */
  measured: boolean;
  /** False when the tracefile has no branch record at all (Rust on a stable toolchain). */
  branchesMeasured: boolean;
  rows: FileRow[];
  lines: Ratio;
  branches: Ratio;
  /** Tracefile entries by repository-relative path (for the figures of a line range). */
  files: Map<string, FileCoverage>;
  /** Lines that are not product code, per file (Rust test modules). */
  leaveOut: Map<string, LineRange[]>;
}

/** A tracefile path made repository-relative (tracefiles written in another checkout keep their tail). */
export function repoPath(root: string, path: string, scope: string): string {
  if (!isAbsolute(path)) return path.split('\\').join('/');
  const r = rel(root, path);
  if (!r.startsWith('..')) return r;
  const at = path.split('\\').join('/').lastIndexOf(`/${scope}/`);
  return at >= 0 ? path.slice(at + 1) : r;
}

export function readArea(root: string, coverageDir: string, area: Area): AreaCoverage {
  const spec = AREAS[area];
  const text = readText(join(coverageDir, spec.tracefile));
  const files = new Map<string, FileCoverage>();
  for (const f of text === null ? [] : parseLcov(text)) {
    const p = repoPath(root, f.path, spec.scope);
    if (p.startsWith(`${spec.scope}/`)) files.set(p, f);
  }
  const leaveOut = new Map<string, LineRange[]>();
  const rows: FileRow[] = [];
  let lines: Ratio = { hit: 0, total: 0 };
  let branches: Ratio = { hit: 0, total: 0 };
  const sources = walkFiles(join(root, spec.scope), spec.ext);
  const testOnly = area === 'rust' ? rustTestOnlyFiles(root, sources) : new Map<string, string>();
  for (const abs of sources) {
    const path = rel(root, abs);
    if (area === 'rust') leaveOut.set(path, rustTestRanges(readFileSync(abs, 'utf8')));
    const f = files.get(path);
    const fig = f ? figures(f, null, leaveOut.get(path) ?? []) : null;
    if (area === 'typescript' && typesOnly(readFileSync(abs, 'utf8'))) {
      rows.push({ path, figures: null, note: 'types only: no executable code' });
      continue;
    }
    const declaredIn = testOnly.get(path);
    if (declaredIn) {
      rows.push({ path, figures: fig, note: `test code (\`#[cfg(test)]\` in ${declaredIn}): not in the totals` });
      continue;
    }
    if (!fig) {
      const why = text === null ? 'not measured' : area === 'rust' ? 'no executable code' : 'not in the coverage report';
      rows.push({ path, figures: null, note: why });
      continue;
    }
    rows.push({ path, figures: fig });
    lines = addRatio(lines, fig.lines);
    branches = addRatio(branches, fig.branches);
  }
  return {
    area,
    scope: spec.scope,
    measured: text !== null,
    branchesMeasured: [...files.values()].some((f) => f.branches.length > 0),
    rows,
    lines,
    branches,
    files,
    leaveOut,
  };
}

/**
 * Whether a TypeScript file declares only types (interfaces, type aliases, type imports and
 * exports, ambient declarations): tsc emits nothing of it that runs, and no test can load it
 * (imports of it are erased), so c8 would count its every line as never run.
 */
export function typesOnly(source: string): boolean {
  const sf = ts.createSourceFile('file.ts', source, ts.ScriptTarget.ES2022, false);
  const declared = (s: ts.Statement): boolean => ts.canHaveModifiers(s) && (ts.getModifiers(s) ?? []).some((m) => m.kind === ts.SyntaxKind.DeclareKeyword);
  return sf.statements.every(
    (s) =>
      ts.isInterfaceDeclaration(s) ||
      ts.isTypeAliasDeclaration(s) ||
      (ts.isImportDeclaration(s) && s.importClause !== undefined) ||
      (ts.isExportDeclaration(s) && s.isTypeOnly) ||
      ts.isEmptyStatement(s) ||
      declared(s),
  );
}

/**
 * Rust modules compiled only for tests (`#[cfg(test)] mod testsig;` in lib.rs): test code, whole
 * files of it. Keyed by the module file, valued by the file that declares it.
 */
function rustTestOnlyFiles(root: string, sources: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const abs of sources) {
    const text = readFileSync(abs, 'utf8');
    const dir = /(^|\/)(lib|main|mod)\.rs$/.test(abs) ? dirname(abs) : abs.replace(/\.rs$/, '');
    for (const m of text.matchAll(/^[ \t]*#\[cfg\(test\)\]\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+(\w+)\s*;/gm)) {
      for (const candidate of [join(dir, `${m[1]}.rs`), join(dir, m[1]!, 'mod.rs')]) out.set(rel(root, candidate), rel(root, abs));
    }
  }
  return out;
}

/** The facts `make test` wrote beside the tracefiles (tool versions), or an empty object. */
export function readSummary(coverageDir: string): CoverageSummary | null {
  const file = join(coverageDir, 'summary.json');
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as CoverageSummary;
  } catch {
    return null;
  }
}

export interface AreaSummary {
  scope: string;
  tool: string;
  measured: boolean;
  branchesMeasured: boolean;
  /** Files in the totals. */
  files: number;
  /** Files listed without being in the totals, and why (test code, no executable code). */
  notCounted: Array<{ path: string; note: string }>;
  lines: Ratio;
  branches: Ratio;
}

export interface CoverageSummary {
  /** What ran the Rust coverage: `rustc 1.97.0-nightly (...)`, or why it did not. */
  rustToolchain: string;
  typescript: AreaSummary;
  rust: AreaSummary;
}

export function summarizeArea(c: AreaCoverage, tool: string): AreaSummary {
  return {
    scope: c.scope,
    tool,
    measured: c.measured,
    branchesMeasured: c.branchesMeasured,
    files: c.rows.filter((r) => r.note === undefined).length,
    notCounted: c.rows.filter((r) => r.note !== undefined).map((r) => ({ path: r.path, note: r.note! })),
    lines: c.lines,
    branches: c.branches,
  };
}
