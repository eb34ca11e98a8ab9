/**
 * docs/evidence/coverage.md: the line and branch coverage `make test` measured, per product file
 * (agent/src and native/core, none left out), and for each risk-control unit that
 * docs/risk/hazards.yaml anchors (`code: path#Name`): the figures of its own lines, found as the
 * anchor check finds the unit (test/support/code-anchors.ts), and the lines it leaves uncovered.
 *
 * The target (issue 14) is 100 % of the branches of every risk-control unit. A unit below it is
 * listed with its uncovered lines; it is not a gap while the code as a whole has not reached the
 * target (a gap would fail every run until then). Missing coverage data is a gap: `make test`
 * always measures it.
 */
import { checkAnchor } from '../code-anchors';
import type { Figures, Ratio } from '../coverage/lcov';
import { figures, lineList, percent } from '../coverage/lcov';
import type { Area, AreaCoverage, CoverageSummary, FileRow } from '../coverage/measure';
import { AREAS } from '../coverage/measure';
import type { Hazard } from './data';
import type { Gap } from './gaps';
import { gap } from './gaps';
import type { RunSummary } from './trace';
import { cell, code } from './util';

export interface AnchorCoverage {
  anchor: string;
  /** The controls that name it (CTRL-NNN of HAZ-NNN). */
  controls: string[];
  /** function, method, class, table, fn, struct...; null when the anchor does not resolve. */
  kind: string | null;
  range: { start: number; end: number } | null;
  /** Null when not measured: see `why`. */
  figures: Figures | null;
  why?: string;
}

/**
 * Whether a measured unit reaches the target: every branch taken, and every line run. Lines too,
 * because V8 has no block data for a function that never ran (it is compiled only when first
 * called): a method never called in a class whose other methods took every branch shows only in
 * its lines.
 */
export function atTarget(f: Figures): boolean {
  return f.branches.hit === f.branches.total && f.lines.hit === f.lines.total;
}

function areaOf(path: string): Area | null {
  for (const [area, spec] of Object.entries(AREAS) as Array<[Area, (typeof AREAS)[Area]]>) if (path.startsWith(`${spec.scope}/`)) return area;
  return null;
}

/** Each distinct anchor of the risk file, with the controls that name it, in the file's order. */
export function riskAnchors(hazards: Hazard[]): Array<{ anchor: string; controls: string[] }> {
  const out = new Map<string, string[]>();
  for (const h of hazards) {
    for (const c of h.controls) {
      for (const a of c.code.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
        out.set(a, [...(out.get(a) ?? []), `${c.id} (${h.id})`]);
      }
    }
  }
  return [...out].map(([anchor, controls]) => ({ anchor, controls: [...new Set(controls)] }));
}

/** The coverage of each risk-control anchor, from the measured areas. */
export function anchorCoverage(root: string, hazards: Hazard[], areas: Record<Area, AreaCoverage>): AnchorCoverage[] {
  return riskAnchors(hazards).map(({ anchor, controls }) => {
    const [path = ''] = anchor.split('#');
    const check = checkAnchor(root, anchor);
    if (!check.ok) return { anchor, controls, kind: null, range: null, figures: null, why: `does not resolve: ${check.problem}` };
    const base = { anchor, controls, kind: check.kind, range: check.range };
    const area = areaOf(path);
    if (!area) return { ...base, figures: null, why: `${path.split('/').slice(0, 2).join('/')} is not measured (only agent/src and native/core are)` };
    const measured = areas[area];
    if (!measured.measured) return { ...base, figures: null, why: 'no coverage data from the last run' };
    const file = measured.files.get(path);
    if (!file) return { ...base, figures: null, why: 'its file is not in the coverage report' };
    return { ...base, figures: figures(file, check.range, measured.leaveOut.get(path) ?? []) };
  });
}

/** A gap for each measurement missing from the last run. */
export function coverageGaps(areas: Record<Area, AreaCoverage>): Gap[] {
  const gaps: Gap[] = [];
  for (const a of Object.values(areas)) {
    if (!a.measured) gaps.push(gap('results-missing', `coverage of ${a.scope}`, `build/test/coverage/${AREAS[a.area].tracefile} is missing: run make test`));
  }
  return gaps;
}

function ratio(r: Ratio): string {
  return r.total === 0 ? '-' : `${percent(r)} (${r.hit}/${r.total})`;
}

function branchCell(a: AreaCoverage, r: Ratio): string {
  return a.branchesMeasured ? ratio(r) : 'not measured';
}

function fileTable(a: AreaCoverage, title: string): string[] {
  const out = [`### ${title}`, '', '| file | lines | branches | |', '|---|---:|---:|---|'];
  const row = (r: FileRow): string => {
    if (!r.figures) return `| ${code(r.path)} | - | - | ${cell(r.note ?? '')} |`;
    return `| ${code(r.path)} | ${ratio(r.figures.lines)} | ${branchCell(a, r.figures.branches)} | ${cell(r.note ?? '')} |`;
  };
  out.push(...a.rows.map(row), '');
  return out;
}

function anchorRow(a: AnchorCoverage, areas: Record<Area, AreaCoverage>): string {
  const lines = a.range ? `${a.range.start}-${a.range.end}` : '-';
  const area = areaOf(a.anchor);
  if (!a.figures) return `| ${code(a.anchor)} | ${a.kind ?? '-'} | ${lines} | - | - | ${cell(a.why ?? '')} |`;
  const branches = area && areas[area].branchesMeasured ? ratio(a.figures.branches) : 'not measured';
  const verdict = atTarget(a.figures) ? 'at target' : 'below target';
  return `| ${code(a.anchor)} | ${a.kind} | ${lines} | ${ratio(a.figures.lines)} | ${branches} | ${verdict} |`;
}

export function renderCoverage(areas: Record<Area, AreaCoverage>, anchors: AnchorCoverage[], summary: CoverageSummary | null, run: RunSummary): string {
  const ts = areas.typescript;
  const rust = areas.rust;
  const out: string[] = [];
  out.push('# Code coverage');
  out.push('');
  out.push(`Generated by \`make evidence\` from the coverage measured by the test run of ${run.when} on commit \`${run.commit}\``);
  out.push('(`build/test/coverage/`). Do not edit by hand.');
  out.push('');
  out.push('## How it is measured');
  out.push('');
  out.push(`- **agent/src (TypeScript):** ${AREAS.typescript.tool}, in every test process and in every Node process a test`);
  out.push('  starts with its environment (the agent of the integration and system tests), written when the process exits: an');
  out.push('  agent killed with SIGKILL (the crash tests, and the teardown of most system tests) leaves no coverage, so what only');
  out.push('  such processes ran is shown as not run. Every file of agent/src is listed; a');
  out.push('  file no test loads is at 0 %, a file of types only (nothing of it runs) is listed without figures. Lines are every');
  out.push('  source line as c8 counts them (a comment or a type takes the count');
  out.push('  of the code around it). A branch is a V8 block range as c8 counts it: the body of each function that ran, and each');
  out.push('  block in it that ran a different number of times than the code around it (an `if` or `else` body, a `case`, the');
  out.push('  right side of `&&`, `||`, `??`, a ternary arm, a `catch`). It shows code that never ran, not a decision outcome');
  out.push('  that leaves no code unrun (an `if` without `else` whose condition was always true shows nothing missing). A function');
  out.push('  that never ran has no block data (V8 compiles it when first called): it shows in its lines only.');
  out.push(`- **native/core (Rust):** ${AREAS.rust.tool} over the crate's own tests, with ${summary ? code(summary.rustToolchain) : 'an unknown toolchain'}.`);
  out.push('  Branches are LLVM branch coverage (`--branch`, each condition of an `if`, `while`, `&&`, `||` true and false),');
  out.push('  measured only on a nightly toolchain; `match` arms and `?` are not branches there, their lines are counted.');
  out.push('  Test modules (`#[cfg(test)]`) and modules compiled only for tests are not product code: not in the totals.');
  out.push('- **Not measured:** `native/binding` and `native/sys` (the addon\'s Node-API and system layers: the TypeScript tests');
  out.push('  run them through Node, where their Rust is not instrumented), hw-sim and the test code (not product code). The');
  out.push('  addon\'s use of native/core through Node is not counted either: only native/core\'s own tests are.');
  out.push('');
  out.push('## Totals');
  out.push('');
  out.push('| code | files | lines | branches |', '|---|---:|---:|---:|');
  for (const a of [ts, rust]) {
    const counted = a.rows.filter((r) => r.note === undefined).length;
    out.push(`| ${a.scope} | ${counted} | ${a.measured ? ratio(a.lines) : 'not measured'} | ${a.measured ? branchCell(a, a.branches) : 'not measured'} |`);
  }
  out.push('');
  const measured = anchors.filter((a) => a.figures !== null);
  const below = measured.filter((a) => !atTarget(a.figures!));
  out.push('## Risk-control code (docs/risk/hazards.yaml)');
  out.push('');
  out.push('The target is 100 % of the branches of every unit a risk control anchors: here every branch taken and every line run');
  out.push('(a function V8 never ran has no branches to count, only lines). A table is data: its lines run when its module loads.');
  out.push(`**${anchors.length} anchored units: ${measured.length - below.length} at target, ${below.length} below target, ${anchors.length - measured.length} not measured.**`);
  if (below.length > 0) out.push('The units below target are listed under [Below target](#below-target); they are not yet counted as gaps.');
  out.push('');
  out.push('| unit | kind | lines of the unit | lines | branches | |', '|---|---|---|---:|---:|---|');
  out.push(...anchors.map((a) => anchorRow(a, areas)));
  out.push('');
  out.push('### Below target');
  out.push('');
  if (below.length === 0) out.push('None.');
  else {
    out.push('| unit | controls | branches | lines with a branch not taken | lines not run |', '|---|---|---:|---|---|');
    for (const a of below) {
      const f = a.figures!;
      out.push(`| ${code(a.anchor)} | ${a.controls.join(', ')} | ${ratio(f.branches)} | ${lineList(f.uncoveredBranchLines) || '-'} | ${lineList(f.uncoveredLines) || '-'} |`);
    }
  }
  out.push('');
  out.push('## Per file');
  out.push('');
  out.push(...fileTable(ts, 'agent/src (TypeScript)'));
  out.push(...fileTable(rust, 'native/core (Rust)'));
  return out.join('\n');
}
