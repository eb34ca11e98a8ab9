/**
 * The traceability matrix: hazard -> control -> requirement -> tests, each test with its
 * result in the last run.
 *
 * A requirement's tests are the tests whose title names its id (`REQ-HL7-014 ...`, or a
 * Rust test `req_news2_001_...`), plus the tests its entry in requirements.yaml lists by
 * title or `*` pattern. A hazard's tests are the tests hazards.yaml lists for it, the tests
 * whose title names it (`HAZ-003 ...`), and the tests of every requirement derived from one
 * of its controls. So a new test is picked up by its name, without editing any list.
 */
import type { Gap, GapKind } from './gaps';
import { gap } from './gaps';
import type { Control, Hazard, Requirement, UserNeed } from './data';
import { HAZ_ID, REQ_ID } from './data';
import type { SourceTest, TestLayer, TestResult } from './results';
import { byId, cell, code, globMatch, uniq } from './util';

export type TracedStatus = 'pass' | 'fail' | 'skip' | 'missing';

export interface TracedTest {
  title: string;
  status: TracedStatus;
  layers: TestLayer[];
  /** Files (or crates) the results came from; for a missing test, where the sources have it. */
  where: string[];
  results: TestResult[];
}

export interface RequirementTrace {
  requirement: Requirement;
  tests: TracedTest[];
}

export interface ControlTrace {
  control: Control;
  requirement: RequirementTrace | null;
  /** Other requirements that say they derive from this control. */
  derived: RequirementTrace[];
}

export interface HazardTrace {
  hazard: Hazard;
  controls: ControlTrace[];
  /** Every test traced to the hazard (listed, naming it, or verifying its controls' requirements). */
  tests: TracedTest[];
  listed: string[];
  ok: boolean;
}

export interface Trace {
  hazards: HazardTrace[];
  requirements: RequirementTrace[];
  /** Results that name no requirement or hazard and no requirement lists. */
  untraced: TestResult[];
  gaps: Gap[];
}

export interface TraceInput {
  hazards: Hazard[];
  requirements: Requirement[];
  userNeeds: UserNeed[];
  /** Known interface ids, or null when the catalogue could not be read. */
  interfaceIds: Set<string> | null;
  results: TestResult[];
  sourceTests: SourceTest[];
}

/** Interface id for requirements on the development process rather than a product interface. */
export const PROCESS_INTERFACE = 'process';

/** Requirement ids a test names: REQ-... in a title, or req_<family>_<nnn>_ for a Rust test function. */
export function requirementIdsIn(title: string): string[] {
  const ids = [...title.matchAll(REQ_ID)].map((m) => m[0]);
  const rust = /^req_([a-z0-9]+(?:_[a-z][a-z0-9]*)*?)_(\d{3})(?:_|$)/.exec(title);
  if (rust) ids.push(`REQ-${rust[1]!.toUpperCase().replace(/_/g, '-')}-${rust[2]}`);
  return uniq(ids);
}

export function hazardIdsIn(title: string): string[] {
  const ids = [...title.matchAll(HAZ_ID)].map((m) => m[0]);
  const rust = /^haz_(\d{3})(?:_|$)/.exec(title);
  if (rust) ids.push(`HAZ-${rust[1]}`);
  return uniq(ids);
}

class GapSet {
  private readonly byKey = new Map<string, Gap>();
  add(kind: GapKind, subject: string, message: string): void {
    const key = `${kind}\u0000${subject}`;
    const known = this.byKey.get(key);
    if (!known) this.byKey.set(key, gap(kind, subject, message));
    else if (!known.message.split('; ').includes(message)) known.message += `; ${message}`;
  }
  list(): Gap[] {
    return [...this.byKey.values()];
  }
}

export function buildTrace(input: TraceInput): Trace {
  const gaps = new GapSet();
  const byTitle = new Map<string, TestResult[]>();
  for (const r of input.results) byTitle.set(r.title, [...(byTitle.get(r.title) ?? []), r]);
  const sourceByTitle = new Map<string, SourceTest[]>();
  for (const s of input.sourceTests) sourceByTitle.set(s.title, [...(sourceByTitle.get(s.title) ?? []), s]);
  const allTitles = uniq([...byTitle.keys(), ...sourceByTitle.keys()]);

  const traced = (title: string): TracedTest => {
    const results = byTitle.get(title) ?? [];
    const source = sourceByTitle.get(title) ?? [];
    let status: TracedStatus;
    if (results.length === 0) status = 'missing';
    else if (results.some((r) => r.status === 'fail')) status = 'fail';
    else if (results.every((r) => r.status === 'pass')) status = 'pass';
    else status = 'skip';
    return {
      title,
      status,
      layers: uniq((results.length > 0 ? results : source).map((r) => r.layer)),
      where: uniq(results.length > 0 ? results.map((r) => r.file) : source.map((s) => s.file)),
      results,
    };
  };
  const report = (t: TracedTest, why: string): void => {
    if (t.status === 'missing') {
      const inSource = sourceByTitle.has(t.title);
      gaps.add('traced-test-missing', t.title, inSource ? `in ${t.where.join(', ')} but no result in the last run (${why})` : `no such test (${why})`);
    } else if (t.status === 'fail') gaps.add('traced-test-failed', t.title, `failed in the last run (${why})`);
    else if (t.status === 'skip') gaps.add('traced-test-failed', t.title, `skipped or todo in the last run (${why})`);
  };

  // ---- requirements -------------------------------------------------------------------
  const reqById = new Map<string, Requirement>();
  for (const r of input.requirements) {
    if (reqById.has(r.id)) gaps.add('requirement-duplicate', r.id, 'listed twice in requirements.yaml');
    reqById.set(r.id, r);
  }
  const controls = new Map<string, { hazard: Hazard; control: Control }>();
  for (const h of input.hazards) for (const c of h.controls) controls.set(c.id, { hazard: h, control: c });
  const needs = new Set(input.userNeeds.map((u) => u.id));

  const titlesNaming = new Map<string, string[]>();
  for (const title of allTitles) {
    for (const id of requirementIdsIn(title)) titlesNaming.set(id, [...(titlesNaming.get(id) ?? []), title]);
  }
  const requirementTraces = new Map<string, RequirementTrace>();
  for (const r of reqById.values()) {
    const titles = new Set(titlesNaming.get(r.id) ?? []);
    for (const pattern of r.tests) {
      let matched = false;
      for (const res of input.results) {
        if (globMatch(pattern, res.title) || globMatch(pattern, res.fullName)) {
          titles.add(res.title);
          matched = true;
        }
      }
      for (const s of input.sourceTests) {
        if (globMatch(pattern, s.title)) {
          titles.add(s.title);
          matched = true;
        }
      }
      if (!matched) {
        titles.add(pattern); // reported as missing below
      }
    }
    const tests = [...titles].sort().map(traced);
    requirementTraces.set(r.id, { requirement: r, tests });
    if (tests.length === 0) gaps.add('requirement-no-test', r.id, 'no test names it or is listed for it');
    for (const t of tests) report(t, `verifies ${r.id}`);
    if (r.derivedFrom.length === 0) gaps.add('requirement-unknown-source', r.id, 'derives from no control and no user need');
    for (const s of r.derivedFrom) {
      if (s.startsWith('CTRL-') && !controls.has(s)) gaps.add('requirement-unknown-source', r.id, `derives from ${s}, which no hazard has`);
      if (s.startsWith('UN-') && !needs.has(s)) gaps.add('requirement-unknown-source', r.id, `derives from ${s}, which is not a listed user need`);
    }
    if (input.interfaceIds) {
      for (const i of r.interfaces) {
        if (i !== PROCESS_INTERFACE && !input.interfaceIds.has(i)) {
          gaps.add('requirement-unknown-interface', r.id, `concerns interface "${i}", which is not in the catalogue`);
        }
      }
    }
  }

  // ---- tests naming unknown ids ------------------------------------------------------------
  const hazardIds = new Set(input.hazards.map((h) => h.id));
  for (const title of allTitles) {
    for (const id of requirementIdsIn(title)) {
      if (!reqById.has(id)) gaps.add('test-unknown-requirement', id, `named by "${title}" but not in requirements.yaml`);
    }
    for (const id of hazardIdsIn(title)) {
      if (!hazardIds.has(id)) gaps.add('test-unknown-hazard', id, `named by "${title}" but not in hazards.yaml`);
    }
  }

  // ---- hazards -------------------------------------------------------------------------------
  const derivedFromControl = new Map<string, RequirementTrace[]>();
  for (const rt of requirementTraces.values()) {
    for (const s of rt.requirement.derivedFrom) derivedFromControl.set(s, [...(derivedFromControl.get(s) ?? []), rt]);
  }
  const hazardTraces: HazardTrace[] = [];
  for (const h of input.hazards) {
    const before = gaps.list().length;
    if (h.controls.length === 0) gaps.add('hazard-no-control', h.id, 'has no risk control');
    const controlTraces: ControlTrace[] = h.controls.map((c) => {
      let rt: RequirementTrace | null = null;
      if (!c.requirement) gaps.add('control-no-requirement', c.id, `(${h.id}) names no requirement`);
      else {
        rt = requirementTraces.get(c.requirement) ?? null;
        if (!rt) gaps.add('control-unknown-requirement', c.id, `(${h.id}) names ${c.requirement}, which is not in requirements.yaml`);
        else if (!rt.requirement.derivedFrom.includes(c.id)) {
          gaps.add(
            'requirement-not-derived',
            c.id,
            `(${h.id}) names ${c.requirement}, but ${c.requirement} ("${rt.requirement.title}") does not derive from ${c.id}`,
          );
        }
      }
      const derived = (derivedFromControl.get(c.id) ?? []).filter((d) => d !== rt);
      return { control: c, requirement: rt, derived };
    });
    const titles = new Set<string>(h.tests);
    for (const t of allTitles) if (hazardIdsIn(t).includes(h.id)) titles.add(t);
    for (const ct of controlTraces) {
      for (const rt of [...(ct.requirement ? [ct.requirement] : []), ...ct.derived]) for (const t of rt.tests) titles.add(t.title);
    }
    const tests = [...titles].sort().map(traced);
    for (const t of tests) report(t, h.tests.includes(t.title) ? `listed for ${h.id}` : `traced to ${h.id}`);
    if (tests.length === 0) gaps.add('hazard-no-test', h.id, 'no test is traced to it');
    const strong = tests.filter((t) => t.status === 'pass' && t.layers.some((l) => l === 'system' || l === 'integration'));
    if (tests.length > 0 && strong.length === 0) {
      gaps.add('hazard-no-system-test', h.id, 'no passing system or integration test is traced to it');
    }
    const mine = gaps.list().length > before || tests.some((t) => t.status !== 'pass') || controlTraces.some((c) => !c.requirement);
    hazardTraces.push({ hazard: h, controls: controlTraces, tests, listed: h.tests, ok: !mine && tests.length > 0 && strong.length > 0 });
  }

  const tracedTitles = new Set<string>();
  for (const rt of requirementTraces.values()) for (const t of rt.tests) tracedTitles.add(t.title);
  for (const ht of hazardTraces) for (const t of ht.tests) tracedTitles.add(t.title);
  const untraced = input.results.filter((r) => !tracedTitles.has(r.title));

  return {
    hazards: hazardTraces,
    requirements: [...requirementTraces.values()].sort((a, b) => byId(a.requirement.id, b.requirement.id)),
    untraced,
    gaps: gapsInOrder(gaps.list()),
  };
}

function gapsInOrder(gaps: Gap[]): Gap[] {
  return gaps.sort((a, b) => a.kind.localeCompare(b.kind) || byId(a.subject, b.subject));
}

// ---- rendering -------------------------------------------------------------------------------

const MARK: Record<TracedStatus, string> = { pass: 'pass', fail: '**FAIL**', skip: '**SKIP**', missing: '**MISSING**' };

function testLine(t: TracedTest): string {
  return `${MARK[t.status]} ${t.layers.join('/')}: ${cell(t.title)}`;
}

export interface RunSummary {
  when: string;
  commit: string;
  record: string;
}

export function renderTraceMarkdown(trace: Trace, run: RunSummary, allGaps: Gap[]): string {
  const out: string[] = [];
  out.push('# Traceability matrix: hazard -> control -> requirement -> tests');
  out.push('');
  out.push(`Generated by \`make evidence\` from \`docs/risk/hazards.yaml\`, \`docs/requirements.yaml\` and the results of`);
  out.push(`the test run of ${run.when} on commit \`${run.commit}\` (${run.record}). Do not edit by hand.`);
  out.push('A result is read from the runners\' machine-readable output (tap\'s JSON reporter, cargo test\'s');
  out.push('result lines), never inferred from a name. Layers: unit, integration, system (tap), rust (cargo test).');
  out.push('');
  const bad = trace.hazards.filter((h) => !h.ok).length;
  out.push(`**${trace.hazards.length} hazards, ${trace.hazards.length - bad} fully traced; ${trace.requirements.length} requirements; ${allGaps.length} gap(s) in the evidence (see \`gaps.md\`).**`);
  out.push('');
  out.push('## Hazards');
  out.push('');
  out.push('| hazard | severity | control | requirement | tests (passed / traced) | system or integration passed | verdict |');
  out.push('|---|---|---|---|---:|---:|---|');
  for (const h of trace.hazards) {
    const passed = h.tests.filter((t) => t.status === 'pass').length;
    const strong = h.tests.filter((t) => t.status === 'pass' && t.layers.some((l) => l === 'system' || l === 'integration')).length;
    const ctrls = h.controls.map((c) => c.control.id).join(', ') || '**none**';
    const reqs = h.controls.map((c) => c.control.requirement ?? '**none**').join(', ') || '**none**';
    out.push(`| [${h.hazard.id}](#${h.hazard.id.toLowerCase()}) ${cell(h.hazard.title)} | ${h.hazard.severity} | ${ctrls} | ${reqs} | ${passed} / ${h.tests.length} | ${strong} | ${h.ok ? 'traced' : '**GAP**'} |`);
  }
  out.push('');
  for (const h of trace.hazards) {
    out.push(`### ${h.hazard.id}`);
    out.push('');
    out.push(`**${cell(h.hazard.title)}** (${h.hazard.severity}). Cause: ${h.hazard.cause.trim()} Harm: ${h.hazard.harm.trim()}`);
    out.push('');
    if (h.hazard.decision) {
      out.push(`Decision: ${h.hazard.decision.trim()}`);
      out.push('');
    }
    for (const c of h.controls) {
      out.push(`- **${c.control.id}**: ${c.control.summary.trim()} Code: ${c.control.code.split(',').map((s) => code(s.trim())).join(', ')}.`);
      if (c.requirement) {
        const r = c.requirement;
        out.push(`  - **${r.requirement.id}** ${r.requirement.title} (${r.tests.length} test(s))`);
      } else {
        out.push(`  - **requirement: ${c.control.requirement ?? 'none'}** (not in requirements.yaml)`);
      }
      for (const d of c.derived) out.push(`  - also **${d.requirement.id}** ${d.requirement.title} (${d.tests.length} test(s))`);
    }
    out.push('');
    out.push('| result | layer | test | where |');
    out.push('|---|---|---|---|');
    for (const t of h.tests) {
      const listed = h.listed.includes(t.title) ? ' *(listed)*' : '';
      out.push(`| ${MARK[t.status]} | ${t.layers.join(', ')} | ${cell(t.title)}${listed} | ${t.where.map(code).join(', ')} |`);
    }
    out.push('');
  }
  out.push('## Requirements -> tests');
  out.push('');
  out.push('| requirement | interface | derived from | tests |');
  out.push('|---|---|---|---|');
  for (const r of trace.requirements) {
    const tests = r.tests.length > 0 ? r.tests.map(testLine).join('<br>') : '**no test**';
    out.push(`| **${r.requirement.id}** ${cell(r.requirement.title)} | ${r.requirement.interfaces.join(', ')} | ${r.requirement.derivedFrom.join(', ')} | ${tests} |`);
  }
  out.push('');
  out.push('## Tests that name no requirement or hazard');
  out.push('');
  if (trace.untraced.length === 0) out.push('None.');
  else {
    out.push('They ran (results in `verification-record.md`) but verify no listed requirement; name a requirement');
    out.push('in the title, or list them for one in `docs/requirements.yaml`.');
    out.push('');
    for (const r of trace.untraced) out.push(`- ${r.status} ${r.layer}: ${code(r.fullName)}`);
  }
  out.push('');
  return out.join('\n');
}

export function traceJson(trace: Trace): unknown {
  const t = (x: TracedTest) => ({ title: x.title, status: x.status, layers: x.layers, where: x.where });
  return {
    hazards: trace.hazards.map((h) => ({
      id: h.hazard.id,
      title: h.hazard.title,
      severity: h.hazard.severity,
      ok: h.ok,
      controls: h.controls.map((c) => ({
        id: c.control.id,
        requirement: c.control.requirement ?? null,
        alsoDerived: c.derived.map((d) => d.requirement.id),
      })),
      tests: h.tests.map(t),
    })),
    requirements: trace.requirements.map((r) => ({
      id: r.requirement.id,
      title: r.requirement.title,
      interfaces: r.requirement.interfaces,
      derivedFrom: r.requirement.derivedFrom,
      tests: r.tests.map(t),
    })),
    untraced: trace.untraced.map((r) => r.fullName),
  };
}
