/**
 * `make evidence`: the regulatory evidence generated from the repository and the last test run.
 *
 *   node dist/test/support/evidence/cli.js [--out docs/evidence] [--docs docs] [--no-sbom]
 *
 * Writes (see docs/evidence/README.md):
 *   docs/requirements.md, docs/interfaces/README.md            from their YAML
 *   docs/alarms.md                                             the alarm-condition catalogue, traced to hazards and tests
 *   docs/interfaces/real-devices.md                            each real capture: delivered, withheld and why, with its test's verdict
 *   docs/interfaces/profiles.md                                the device profiles, with their captures and tests
 *   docs/evidence/traceability.md (+ .json)                    hazard -> control -> requirement -> tests, with results
 *   docs/evidence/verification-record.md (+ .json)             the test run: date, commit, environment, every result
 *   docs/evidence/sbom.cdx.json                                CycloneDX 1.5: npm production packages + addon crates
 *   docs/evidence/soup.md                                      IEC 62304 SOUP list from docs/soup.yaml
 *   docs/evidence/coverage.md                                  line and branch coverage per file and per risk-control unit
 *   docs/evidence/gaps.md                                      every gap found
 * and exits 1 when there is any gap (a hazard without control, a control without requirement,
 * a requirement without test, a traced test failed or missing, a dependency without SOUP
 * entry, an interface without specification, ...). The last line it prints is
 * `evidence: N gap(s)`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { tallyCargo, tallyTap } from '../summarize';
import { renderAlarms, renderAlarmTraceSection, traceConditions } from './alarms';
import { renderRealDevices } from './real-devices';
import { checkCatalogue, renderCatalogue } from './catalogue';
import { renderProfiles, traceProfiles } from './profiles';
import { readArea, readSummary } from '../coverage/measure';
import { anchorCoverage, coverageGaps, renderCoverage } from './coverage';
import type { EvidenceInputs } from './data';
import { defaultInputs, loadCatalogue, loadHazards, loadRequirements, loadSoup } from './data';
import type { Gap } from './gaps';
import { formatGap, gap } from './gaps';
import type { RunRecord } from './records';
import { gitFacts, readRunRecord, renderRecord, tally } from './records';
import { renderRequirements } from './requirements';
import { loadResults, sourceTests } from './results';
import type { Bom } from './sbom';
import { checkBom, generateCargoBoms, generateNpmBom, mergeBoms } from './sbom';
import { checkSoup, directDependencies, renderSoup, workspaceCrates } from './soup';
import { buildTrace, renderTraceMarkdown, traceJson } from './trace';
import { byId, readText } from './util';

export interface EvidenceOptions {
  /** Where the evidence files go (default docs/evidence). */
  outDir: string;
  /** Where requirements.md and interfaces/README.md go (default docs). */
  docsDir: string;
  /** Run the SBOM generators (cyclonedx-npm, cargo-cyclonedx); off in the generator's own tests. */
  sbom: boolean;
  /** Compare the run's commit with the checkout's (off in tests that use copied inputs). */
  commitCheck: boolean;
  /** Where the generators' raw output goes. */
  workDir: string;
}

export interface EvidenceResult {
  gaps: Gap[];
  written: string[];
}

function write(file: string, text: string, written: string[]): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
  written.push(file);
}

export function runEvidence(inputs: EvidenceInputs, options: EvidenceOptions): EvidenceResult {
  const gaps: Gap[] = [];
  const written: string[] = [];

  // ---- data ----------------------------------------------------------------------------
  const hazards = loadHazards(inputs.hazards, gaps);
  const { userNeeds, requirements, groups } = loadRequirements(inputs.requirements, gaps);
  const catalogue = loadCatalogue(inputs.catalogue, gaps);
  const soupItems = loadSoup(inputs.soup, gaps);

  // ---- the test run ----------------------------------------------------------------------
  const run: RunRecord | null = readRunRecord(inputs.runRecord);
  if (!run) gaps.push(gap('results-missing', 'run record', `${inputs.runRecord} is missing: run make test`));
  const { results, problems } = loadResults(inputs.tapResults, inputs.cargoText);
  for (const p of problems) gaps.push(gap('results-missing', 'test results', p));
  const tapText = readText(inputs.tapText);
  if (tapText !== null) {
    // The JSON is replayed from the run's saved TAP: it must agree with the TAP stream itself.
    const t = tallyTap(tapText);
    const fromJson = tally(results.filter((r) => r.runner === 'tap'));
    if (t.passed !== fromJson.pass || t.failed !== fromJson.fail || t.skipped !== fromJson.skip) {
      gaps.push(
        gap(
          'results-inconsistent',
          'tap results',
          `the TAP stream says ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped; the JSON results ${fromJson.pass}, ${fromJson.fail}, ${fromJson.skip} (another test run in between?): run make test again`,
        ),
      );
    }
  }
  if (run && options.commitCheck) {
    const now = gitFacts(inputs.root);
    if (now.commit !== 'unknown' && run.commit !== now.commit) {
      gaps.push(gap('results-stale', 'test results', `the last test run was on commit ${run.commit.slice(0, 12)}, the checkout is at ${now.commit.slice(0, 12)}: run make test`));
    }
  }

  // ---- trace -------------------------------------------------------------------------------
  const trace = buildTrace({
    hazards,
    requirements,
    userNeeds,
    interfaceIds: catalogue ? new Set(catalogue.interfaces.map((i) => i.id)) : null,
    results,
    sourceTests: sourceTests(inputs.root),
  });
  gaps.push(...trace.gaps);
  const alarmTrace = traceConditions(hazards, trace.requirements);
  gaps.push(...alarmTrace.gaps);
  const profileTrace = traceProfiles(inputs.root, results, sourceTests(inputs.root));
  gaps.push(...profileTrace.gaps);
  if (catalogue) gaps.push(...checkCatalogue(inputs.root, catalogue, hazards));

  // ---- SOUP and SBOM -------------------------------------------------------------------------
  const deps = directDependencies(inputs);
  gaps.push(...checkSoup(inputs, soupItems, deps, run?.env ?? {}));
  let bom: Bom | null = null;
  if (options.sbom) {
    try {
      const crates = workspaceCrates(inputs.cargoWorkspace);
      const addon = crates.filter((c) => c.cdylib);
      const napiTargets = (JSON.parse(readText(join(addon[0]?.dir ?? '', 'package.json')) ?? '{}') as { napi?: { targets?: string[] } }).napi?.targets;
      const targets = napiTargets && napiTargets.length > 0 ? napiTargets : ['x86_64-unknown-linux-gnu'];
      const git = gitFacts(inputs.root);
      const epoch = git.commitTime ? String(Math.floor(Date.parse(git.commitTime) / 1000)) : String(Math.floor(Date.now() / 1000));
      const npmBom = generateNpmBom(inputs.root, join(options.workDir, 'npm.cdx.json'));
      const cargoBoms = generateCargoBoms(addon, crates, targets, options.workDir, epoch);
      bom = mergeBoms(npmBom, cargoBoms, {
        root: inputs.root,
        lock: JSON.parse(readText(inputs.packageLock) ?? 'null'),
        rustcVersion: run?.env.rustc?.split(' ')[0] ?? null,
        timestamp: new Date(Number(epoch) * 1000).toISOString(),
        generatorName: 'vigil make evidence',
      });
      gaps.push(...checkBom(bom));
      write(join(options.outDir, 'sbom.cdx.json'), JSON.stringify(bom, null, 2), written);
    } catch (err) {
      const e = err as { message: string; stderr?: Buffer | string };
      gaps.push(gap('sbom', 'generators', `${e.message.split('\n')[0]}${e.stderr ? `: ${String(e.stderr).trim().split('\n').slice(-3).join(' ')}` : ''}`));
    }
  }

  // ---- documents -------------------------------------------------------------------------------
  const when = run ? `${run.started}` : '(no run)';
  const runSummary = { when, commit: run?.commit ?? 'unknown', record: '`verification-record.md`' };
  // The line `make test` printed, counted by summarize.ts from the same raw outputs.
  const summaryLine = (() => {
    const cargoText = readText(inputs.cargoText);
    if (tapText === null || cargoText === null) {
      const t = tally(results);
      return `${t.pass} passed, ${t.fail} failed${t.skip > 0 ? `, ${t.skip} skipped` : ''}`;
    }
    const a = tallyTap(tapText);
    const b = tallyCargo(cargoText);
    const skipped = a.skipped + b.skipped;
    return `${a.passed + b.passed} passed, ${a.failed + b.failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`;
  })();
  write(join(options.docsDir, 'requirements.md'), renderRequirements(userNeeds, groups, requirements, hazards, catalogue, trace.requirements), written);
  if (catalogue) write(join(options.docsDir, 'interfaces', 'README.md'), renderCatalogue(inputs.root, catalogue, hazards, requirements), written);
  write(join(options.docsDir, 'alarms.md'), renderAlarms(alarmTrace.conditions, runSummary), written);
  const real = renderRealDevices(inputs.root, join(dirname(inputs.runRecord), 'real-devices'), results, runSummary);
  gaps.push(...real.gaps);
  write(join(options.docsDir, 'interfaces', 'real-devices.md'), real.text, written);
  write(join(options.docsDir, 'interfaces', 'profiles.md'), renderProfiles(profileTrace.profiles, runSummary), written);
  write(join(options.outDir, 'soup.md'), renderSoup(soupItems, deps, bom, run?.env ?? {}, when), written);
  // ---- coverage ----------------------------------------------------------------------------------
  const areas = { typescript: readArea(inputs.root, inputs.coverageDir, 'typescript'), rust: readArea(inputs.root, inputs.coverageDir, 'rust') };
  gaps.push(...coverageGaps(areas));
  const anchors = anchorCoverage(inputs.root, hazards, areas);
  write(join(options.outDir, 'coverage.md'), renderCoverage(areas, anchors, readSummary(inputs.coverageDir), runSummary), written);
  if (run) {
    write(join(options.outDir, 'verification-record.md'), renderRecord(run, results, summaryLine), written);
    write(join(options.outDir, 'verification-record.json'), JSON.stringify({ run, summary: tally(results), results }, null, 2), written);
  }
  const sorted = gaps.sort((a, b) => a.kind.localeCompare(b.kind) || byId(a.subject, b.subject));
  write(join(options.outDir, 'traceability.md'), renderTraceMarkdown(trace, runSummary, sorted) + renderAlarmTraceSection(alarmTrace.conditions), written);
  const alarmConditions = alarmTrace.conditions.map((c) => ({ condition: c.key, ...c.spec, hazards: c.spec.hazards, testsPassed: c.passed, testsTraced: c.traced }));
  write(join(options.outDir, 'traceability.json'), JSON.stringify({ run: runSummary, ...(traceJson(trace) as object), alarmConditions }, null, 2), written);
  write(join(options.outDir, 'gaps.md'), renderGaps(sorted, runSummary.when, runSummary.commit), written);
  return { gaps: sorted, written };
}

function renderGaps(gaps: Gap[], when: string, commit: string): string {
  const out = ['# Gaps in the evidence', '', `Generated by \`make evidence\` (test run of ${when}, commit \`${commit}\`). Do not edit by hand.`, ''];
  if (gaps.length === 0) out.push('None: every hazard is controlled, every control has a requirement, every requirement a passing test, every dependency a SOUP entry, every interface a specification.');
  else {
    out.push(`${gaps.length} gap(s); \`make evidence\` fails until each is closed.`, '', '| kind | subject | what |', '|---|---|---|');
    for (const g of gaps) out.push(`| ${g.kind} | ${g.subject.replace(/\|/g, '\\|')} | ${g.message.replace(/\|/g, '\\|')} |`);
  }
  out.push('');
  return out.join('\n');
}

if (require.main === module) {
  const { values } = parseArgs({
    options: {
      root: { type: 'string' },
      out: { type: 'string' },
      docs: { type: 'string' },
      // Other inputs than the repository's own (the generator's tests use copies):
      hazards: { type: 'string' },
      requirements: { type: 'string' },
      catalogue: { type: 'string' },
      soup: { type: 'string' },
      'package-json': { type: 'string' },
      'cargo-workspace': { type: 'string' },
      'results-dir': { type: 'string' },
      'no-sbom': { type: 'boolean', default: false },
      'no-commit-check': { type: 'boolean', default: false },
    },
  });
  const root = values.root ?? join(__dirname, '..', '..', '..', '..');
  const inputs = defaultInputs(root);
  if (values.hazards) inputs.hazards = values.hazards;
  if (values.requirements) inputs.requirements = values.requirements;
  if (values.catalogue) inputs.catalogue = values.catalogue;
  if (values.soup) inputs.soup = values.soup;
  if (values['package-json']) inputs.packageJson = values['package-json'];
  if (values['cargo-workspace']) inputs.cargoWorkspace = values['cargo-workspace'];
  const results = values['results-dir'];
  if (results) {
    inputs.tapResults = join(results, 'tap-results.json');
    inputs.tapText = join(results, 'tap.txt');
    inputs.cargoText = join(results, 'cargo.txt');
    inputs.runRecord = join(results, 'run.json');
    inputs.coverageDir = join(results, 'coverage');
  }
  const result = runEvidence(inputs, {
    outDir: values.out ?? join(root, 'docs', 'evidence'),
    docsDir: values.docs ?? join(root, 'docs'),
    sbom: !values['no-sbom'],
    commitCheck: !values['no-commit-check'],
    workDir: join(root, 'build', 'evidence'),
  });
  for (const f of result.written) process.stdout.write(`wrote ${f.startsWith(root) ? f.slice(root.length + 1) : f}\n`);
  for (const g of result.gaps) process.stdout.write(`GAP ${formatGap(g)}\n`);
  process.stdout.write(`evidence: ${result.gaps.length} gap(s)\n`);
  process.exit(result.gaps.length > 0 ? 1 : 0);
}
