/**
 * The evidence generator (`make evidence`, test/support/evidence/) fails when the evidence has a
 * gap. Every test works on temporary copies of the data files and on synthetic test results
 * (one passing result for every test in the sources), never on the real files, and asserts what a
 * change adds to the gaps of that baseline, so it holds whatever gaps the repository has today.
 */
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { parse, stringify } from 'yaml';
import { checkCatalogue } from '../support/evidence/catalogue';
import type { Catalogue, EvidenceInputs } from '../support/evidence/data';
import { defaultInputs } from '../support/evidence/data';
import type { Gap } from '../support/evidence/gaps';
import { renderRecord } from '../support/evidence/records';
import type { RunRecord } from '../support/evidence/records';
import { parseCargoText, parseTapJson, sourceTests } from '../support/evidence/results';
import type { Bom } from '../support/evidence/sbom';
import { checkBom, mergeBoms, sriToHash } from '../support/evidence/sbom';
import { workspaceCrates } from '../support/evidence/soup';
import { runEvidence } from '../support/evidence/cli';

const ROOT = join(__dirname, '..', '..', '..');
const CLI = join(ROOT, 'dist', 'test', 'support', 'evidence', 'cli.js');

interface Fixture {
  dir: string;
  inputs: EvidenceInputs;
  results: { tap: TapDoc; cargo: string[] };
  writeResults(): void;
  run(): Gap[];
}

interface TapNode {
  name: string;
  ok: boolean;
  skip?: string;
}
interface TapDoc {
  suites: Array<{ name: string; ok: boolean; suites: TapNode[]; cases: TapNode[] }>;
}

/** Copies of the data files and manifests, and passing results for every test in the sources. */
function fixture(t: { teardown(fn: () => void): void }): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-evidence-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const real = defaultInputs(ROOT);
  const copy = (from: string): string => {
    const to = join(dir, 'copy', relative(ROOT, from));
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(from, to);
    return to;
  };
  const crates = workspaceCrates(real.cargoWorkspace);
  for (const c of crates) copy(join(c.dir, 'Cargo.toml'));
  copy(join(ROOT, 'native', 'Cargo.lock'));
  const inputs: EvidenceInputs = {
    root: ROOT,
    hazards: copy(real.hazards),
    requirements: copy(real.requirements),
    catalogue: copy(real.catalogue),
    soup: copy(real.soup),
    packageJson: copy(real.packageJson),
    packageLock: copy(real.packageLock),
    cargoWorkspace: copy(real.cargoWorkspace),
    tapResults: join(dir, 'results', 'tap-results.json'),
    tapText: join(dir, 'results', 'tap.txt'),
    cargoText: join(dir, 'results', 'cargo.txt'),
    runRecord: join(dir, 'results', 'run.json'),
    coverageDir: join(dir, 'results', 'coverage'),
  };
  // One passing result for every test in the sources.
  const tap: TapDoc = { suites: [] };
  const cargo: string[] = [];
  const crateOf = new Map(crates.map((c) => [relative(ROOT, c.dir), c.name.replace(/-/g, '_')]));
  for (const s of sourceTests(ROOT)) {
    if (s.layer === 'rust') {
      const [cratePath, mod] = s.file.split('/src/') as [string, string];
      const module = mod.replace(/\.rs$/, '').replace(/(^|\/)(lib|mod)$/, '').replace(/\//g, '::');
      cargo.push(`${crateOf.get(cratePath) ?? 'unknown'}|test ${module ? `${module}::` : ''}tests::${s.title} ... ok`);
      continue;
    }
    const file = `dist/${s.file.replace(/\.ts$/, '.js')}`;
    let suite = tap.suites.find((f) => f.name === file);
    if (!suite) tap.suites.push((suite = { name: file, ok: true, suites: [], cases: [] }));
    suite.suites.push({ name: s.title, ok: true });
  }
  const record: RunRecord = {
    started: '2026-01-01T10:00:00.000Z',
    finished: '2026-01-01T10:05:00.000Z',
    commit: 'f'.repeat(40),
    commitTime: '2026-01-01T09:00:00+00:00',
    branch: 'main',
    changes: [],
    performedBy: 'test',
    command: 'make test',
    env: { node: process.version, rustc: '1.95.0', os: 'test', mosquitto: '2.0.11', openssl: 'OpenSSL 3.0', systemd: '252' },
  };
  const f: Fixture = {
    dir,
    inputs,
    results: { tap, cargo },
    writeResults() {
      mkdirSync(join(dir, 'results'), { recursive: true });
      writeFileSync(inputs.tapResults, JSON.stringify(f.results.tap));
      rmSync(inputs.tapText, { force: true });
      const byCrate = new Map<string, string[]>();
      for (const line of f.results.cargo) {
        const [crate, rest] = line.split('|') as [string, string];
        byCrate.set(crate, [...(byCrate.get(crate) ?? []), rest]);
      }
      const text = [...byCrate].map(([crate, lines]) => `     Running unittests src/lib.rs (target/debug/deps/${crate}-0123456789abcdef)\n\nrunning ${lines.length} tests\n${lines.join('\n')}\n`).join('\n');
      writeFileSync(inputs.cargoText, text);
      writeFileSync(inputs.runRecord, JSON.stringify(record));
    },
    run() {
      f.writeResults();
      return runEvidence(inputs, { outDir: join(dir, 'out'), docsDir: join(dir, 'docs'), sbom: false, commitCheck: false, workDir: join(dir, 'work') }).gaps;
    },
  };
  return f;
}

const key = (g: Gap): string => `${g.kind}|${g.subject}`;
function added(before: Gap[], after: Gap[]): Gap[] {
  const known = new Set(before.map(key));
  return after.filter((g) => !known.has(key(g)));
}
function editYaml(file: string, edit: (doc: any) => void): void {
  const doc = parse(readFileSync(file, 'utf8'));
  edit(doc);
  writeFileSync(file, stringify(doc));
}
function listedHazardTest(f: Fixture): { hazard: string; title: string } {
  const doc = parse(readFileSync(f.inputs.hazards, 'utf8')) as { hazards: Array<{ id: string; tests?: string[] }> };
  for (const h of doc.hazards) {
    for (const title of h.tests ?? []) if (f.results.tap.suites.some((s) => s.suites.some((x) => x.name === title))) return { hazard: h.id, title };
  }
  throw new Error('no hazard lists a tap test');
}
function removeResult(f: Fixture, title: string): void {
  for (const s of f.results.tap.suites) s.suites = s.suites.filter((x) => x.name !== title);
}

t.test('REQ-EVID-001 a test traced to a hazard that is removed, fails or is skipped fails the evidence, naming the test', async (t) => {
  const f = fixture(t);
  const baseline = f.run();
  const { hazard, title } = listedHazardTest(f);

  removeResult(f, title);
  const missing = added(baseline, f.run());
  t.ok(
    missing.some((g) => g.kind === 'traced-test-missing' && g.subject === title && g.message.includes(hazard)),
    `removing "${title}" is a traced-test-missing gap for ${hazard}`,
  );

  const g2 = fixture(t);
  const b2 = g2.run();
  for (const s of g2.results.tap.suites) for (const x of s.suites) if (x.name === title) x.ok = false;
  t.ok(added(b2, g2.run()).some((g) => g.kind === 'traced-test-failed' && g.subject === title), 'a failed traced test is a gap');

  const g3 = fixture(t);
  const b3 = g3.run();
  for (const s of g3.results.tap.suites) {
    if (!s.suites.some((x) => x.name === title)) continue;
    s.suites = s.suites.filter((x) => x.name !== title);
    s.cases.push({ name: title, ok: true, skip: 'no broker' });
  }
  t.ok(added(b3, g3.run()).some((g) => g.kind === 'traced-test-failed' && g.subject === title && /skipped/.test(g.message)), 'a skipped traced test is a gap');

  // The command line: exit 1 and the gap named, from the same copied inputs.
  removeResult(f, title);
  f.writeResults();
  const cli = spawnSync(
    process.execPath,
    [
      CLI,
      '--no-sbom',
      '--no-commit-check',
      ...['--hazards', f.inputs.hazards, '--requirements', f.inputs.requirements, '--catalogue', f.inputs.catalogue, '--soup', f.inputs.soup],
      ...['--package-json', f.inputs.packageJson, '--cargo-workspace', f.inputs.cargoWorkspace, '--results-dir', join(f.dir, 'results')],
      ...['--out', join(f.dir, 'cli-out'), '--docs', join(f.dir, 'cli-docs')],
    ],
    { encoding: 'utf8' },
  );
  t.equal(cli.status, 1, 'make evidence exits 1');
  t.ok(cli.stdout.includes(`GAP traced-test-missing: ${title}:`), 'and names the missing test');
  t.match(cli.stdout.trim().split('\n').pop() ?? '', /^evidence: \d+ gap\(s\)$/, 'its last line counts the gaps');
  t.match(readFileSync(join(f.dir, 'cli-out', 'gaps.md'), 'utf8'), title, 'gaps.md lists it');
  t.match(readFileSync(join(f.dir, 'cli-out', 'traceability.md'), 'utf8'), /\*\*MISSING\*\*/, 'the matrix marks it missing');
});

t.test('REQ-EVID-002 a hazard without control, a control without requirement, a requirement without test, and unknown ids in test names are gaps', async (t) => {
  const f = fixture(t);
  const baseline = f.run();
  let hazardId = '';
  let controlId = '';
  editYaml(f.inputs.hazards, (doc) => {
    hazardId = doc.hazards[0].id;
    doc.hazards[0].controls = [];
    controlId = doc.hazards[1].controls[0].id;
    delete doc.hazards[1].controls[0].requirement;
  });
  editYaml(f.inputs.requirements, (doc) => {
    doc.groups.push({ name: 'Test group', interface: 'process', derivedFrom: ['UN-012'], requirements: [{ id: 'REQ-ZZTEST-001', title: 'A requirement nobody tests.' }] });
  });
  f.results.tap.suites[0]!.suites.push({ name: 'REQ-NOPE-001 HAZ-999 a test naming ids nobody declared', ok: true });
  const gaps = added(baseline, f.run());
  const has = (kind: string, subject: string): boolean => gaps.some((g) => g.kind === kind && g.subject === subject);
  t.ok(has('hazard-no-control', hazardId), `${hazardId} without control`);
  t.ok(has('control-no-requirement', controlId), `${controlId} without requirement`);
  t.ok(has('requirement-no-test', 'REQ-ZZTEST-001'), 'a requirement without test');
  t.ok(has('test-unknown-requirement', 'REQ-NOPE-001'), 'a test naming an unknown requirement');
  t.ok(has('test-unknown-hazard', 'HAZ-999'), 'a test naming an unknown hazard');

  const g = fixture(t);
  const b = g.run();
  editYaml(g.inputs.requirements, (doc) => {
    for (const grp of doc.groups) for (const r of grp.requirements) if (r.id === 'REQ-VAL-002') r.derivedFrom = [];
    for (const grp of doc.groups) if (grp.requirements.some((r: { id: string }) => r.id === 'REQ-VAL-002')) grp.derivedFrom = [];
  });
  t.ok(added(b, g.run()).some((x) => x.kind === 'requirement-not-derived' && x.subject === 'CTRL-001'), 'a control naming a requirement that does not derive from it');
});

t.test('REQ-EVID-003 a dependency added without a SOUP entry fails; a SOUP entry for a package that is gone fails; a tool does not', async (t) => {
  const f = fixture(t);
  const baseline = f.run();
  const pkg = JSON.parse(readFileSync(f.inputs.packageJson, 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  pkg.dependencies['left-pad'] = '^1.3.0';
  pkg.devDependencies['some-dev-tool'] = '^1.0.0';
  writeFileSync(f.inputs.packageJson, JSON.stringify(pkg, null, 2));
  const binding = workspaceCrates(f.inputs.cargoWorkspace).find((c) => c.cdylib)!;
  const manifest = join(binding.dir, 'Cargo.toml');
  writeFileSync(manifest, readFileSync(manifest, 'utf8').replace('[dependencies]\n', '[dependencies]\nserde = { version = "1", features = ["derive"] }\n'));
  editYaml(f.inputs.soup, (doc) => {
    doc.items.find((i: { id: string }) => i.id === 'zod').packages.push('npm:no-such-package');
  });
  const gaps = added(baseline, f.run());
  t.ok(gaps.some((g) => g.kind === 'soup-missing' && g.subject === 'npm:left-pad'), 'npm production dependency without entry');
  t.ok(gaps.some((g) => g.kind === 'soup-missing' && g.subject === 'cargo:serde'), 'crate compiled into the addon without entry');
  t.ok(gaps.some((g) => g.kind === 'soup-stale' && g.subject.includes('npm:no-such-package')), 'entry for a package that is not a dependency');
  t.notOk(gaps.some((g) => g.subject.includes('some-dev-tool')), 'a development tool needs no SOUP entry');
  t.match(readFileSync(join(f.dir, 'out', 'soup.md'), 'utf8'), /some-dev-tool/, 'the tool is listed among the development tools');
});

t.test('REQ-EVID-004 results come from the runners\' machine-readable output: skips, crashes, the reporter\'s closing cases, cargo lines', async (t) => {
  const tap = parseTapJson({
    suites: [
      {
        name: 'dist/test/system/a.test.js',
        ok: false,
        suites: [
          { name: 'REQ-A-001 passes', ok: true, time: 12.4 },
          { name: 'REQ-A-002 fails', ok: false },
          { level: 2, plan: { start: 1, end: 1 }, cases: [{ name: 'an assertion', ok: true }] },
        ],
        cases: [
          { name: 'REQ-A-003 skipped', ok: true, skip: 'no broker' },
          { name: 'REQ-A-004 todo', ok: true, todo: true },
          { name: 'REQ-A-005 reported as a closing case', ok: true, closingTestPoint: true },
        ],
      },
      { name: 'dist/test/unit/crash.test.js', ok: false, suites: [], cases: [] },
    ],
  });
  const status = Object.fromEntries(tap.map((r) => [r.title, r.status]));
  t.same(status, {
    'REQ-A-001 passes': 'pass',
    'REQ-A-002 fails': 'fail',
    'REQ-A-003 skipped': 'skip',
    'REQ-A-004 todo': 'todo',
    'REQ-A-005 reported as a closing case': 'pass',
    '(test file failed)': 'fail',
  });
  t.equal(tap.find((r) => r.title === 'REQ-A-001 passes')?.layer, 'system', 'the layer comes from the path');
  t.equal(tap.find((r) => r.title === '(test file failed)')?.file, 'dist/test/unit/crash.test.js', 'a crashed file is one failure');

  const cargo = parseCargoText(
    [
      '   Compiling vigil-core v0.1.0',
      '     Running unittests src/lib.rs (target/debug/deps/vigil_core-9b4d27db6e2fddbc)',
      'running 3 tests',
      'test news2::tests::req_news2_001_pulse_band_edges ... ok',
      'test qrs::tests::slow ... ignored, takes minutes',
      'test ppg::tests::broken ... FAILED',
      'test result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s',
      '   Doc-tests vigil_core',
      'test src/lib.rs - news2 (line 10) ... ok',
    ].join('\n'),
  );
  t.same(
    cargo.map((r) => [r.fullName, r.title, r.status]),
    [
      ['vigil_core::news2::tests::req_news2_001_pulse_band_edges', 'req_news2_001_pulse_band_edges', 'pass'],
      ['vigil_core::qrs::tests::slow', 'slow', 'skip'],
      ['vigil_core::ppg::tests::broken', 'broken', 'fail'],
      ['vigil_core::src/lib.rs - news2 (line 10)', 'src/lib.rs - news2 (line 10)', 'pass'],
    ],
  );

  // The JSON must agree with the TAP stream of the same run.
  const f = fixture(t);
  const baseline = f.run();
  f.writeResults();
  writeFileSync(f.inputs.tapText, 'TAP version 14\n# Subtest: dist/test/unit/x.test.js\n    ok 1 - REQ-X-001 only one\n    1..1\nok 1 - dist/test/unit/x.test.js\n');
  const gaps = added(baseline, runEvidence(f.inputs, { outDir: join(f.dir, 'out2'), docsDir: join(f.dir, 'docs2'), sbom: false, commitCheck: false, workDir: join(f.dir, 'w') }).gaps);
  t.ok(gaps.some((g) => g.kind === 'results-inconsistent'), 'a JSON that disagrees with the TAP text is a gap');
});

t.test('REQ-EVID-005 the SBOM merges npm and Cargo into one graph with versions, suppliers, licences and hashes', async (t) => {
  const integrity = 'sha512-G0VsEtuJz5sJUgZJaaADMVfW7SIFPzkIuHR+d6rk+tBeSwdCfd9BaIRycRfd2AbyFDEmLlFM+SDQeti/+IbOnw==';
  const npm: Bom = {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    version: 1,
    metadata: { component: { type: 'application', 'bom-ref': 'vigil@0.1.0', name: 'vigil', version: '0.1.0', licenses: [{ license: { id: 'Apache-2.0' } }] } },
    components: [
      {
        type: 'library',
        'bom-ref': 'vigil@0.1.0|mqtt@5.16.0',
        name: 'mqtt',
        version: '5.16.0',
        licenses: [{ license: { id: 'MIT' } }],
        purl: 'pkg:npm/mqtt@5.16.0',
        externalReferences: [{ type: 'vcs', url: 'git://github.com/mqttjs/MQTT.js.git' }],
        properties: [{ name: 'cdx:npm:package:path', value: 'node_modules/mqtt' }],
      },
    ],
    dependencies: [{ ref: 'vigil@0.1.0', dependsOn: ['vigil@0.1.0|mqtt@5.16.0'] }, { ref: 'vigil@0.1.0|mqtt@5.16.0' }],
  };
  const root = '/somewhere/vigil';
  const cargo: Bom = {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    version: 1,
    metadata: {
      tools: [{ vendor: 'CycloneDX', name: 'cargo-cyclonedx', version: '0.5.9' }],
      component: { type: 'library', 'bom-ref': `path+file://${root}/native/binding#vigil-native@0.1.0`, name: 'vigil-native', version: '0.1.0', licenses: [{ expression: 'Apache-2.0' }], purl: 'pkg:cargo/vigil-native@0.1.0' },
      properties: [{ name: 'cdx:rustc:sbom:target:triple', value: 'x86_64-unknown-linux-gnu' }],
    },
    components: [
      { type: 'library', 'bom-ref': `path+file://${root}/native/core#vigil-core@0.1.0`, name: 'vigil-core', version: '0.1.0', licenses: [{ expression: 'Apache-2.0' }], purl: 'pkg:cargo/vigil-core@0.1.0' },
      {
        type: 'library',
        'bom-ref': 'registry+https://github.com/rust-lang/crates.io-index#napi@3.16.1',
        name: 'napi',
        version: '3.16.1',
        author: 'Nathan Sobo <nathan@github.com>',
        hashes: [{ alg: 'SHA-256', content: '907ff7366fb7182e28edd0f08ef8ac5d6b13b8d65a3c0b3a10bf3ac092437d6b' }],
        licenses: [{ expression: 'MIT' }],
        purl: 'pkg:cargo/napi@3.16.1',
      },
    ],
    dependencies: [
      { ref: `path+file://${root}/native/binding#vigil-native@0.1.0`, dependsOn: [`path+file://${root}/native/core#vigil-core@0.1.0`, 'registry+https://github.com/rust-lang/crates.io-index#napi@3.16.1'] },
    ],
  };
  const lock = { packages: { 'node_modules/mqtt': { version: '5.16.0', integrity } } };
  const bom = mergeBoms(npm, [cargo], { root, lock, rustcVersion: '1.95.0', timestamp: '2026-01-01T00:00:00.000Z', generatorName: 'test' });
  const byName = new Map(bom.components.map((c) => [c.name, c]));
  t.same(byName.get('mqtt')?.hashes, [sriToHash(integrity)], 'the npm hash is the lock file\'s integrity');
  t.equal(sriToHash(integrity)?.alg, 'SHA-512');
  t.equal(sriToHash(integrity)?.content.length, 128, 'as hex');
  t.equal(byName.get('mqtt')?.supplier?.name, 'mqttjs', 'supplier from the repository owner');
  t.equal(byName.get('napi')?.supplier?.name, 'Nathan Sobo', 'else from the author, without the email');
  t.notOk(JSON.stringify(bom).includes(root), 'no absolute path of the machine that made it');
  const deps = new Map((bom.dependencies ?? []).map((d) => [d.ref, d.dependsOn ?? []]));
  t.ok(deps.get('vigil@0.1.0')?.includes('path+file:native/binding#vigil-native@0.1.0'), 'the product depends on the addon');
  t.ok(deps.get('path+file:native/binding#vigil-native@0.1.0')?.includes('rust-std@1.95.0'), 'the addon depends on the Rust standard library');
  t.ok(deps.get('path+file:native/binding#vigil-native@0.1.0')?.includes('path+file:native/core#vigil-core@0.1.0'), 'and on its crates');
  t.same(checkBom(bom), [], 'every component has a version, licence, supplier and (when downloaded) a hash');
  t.equal(mergeBoms(npm, [cargo], { root, lock, rustcVersion: '1.95.0', timestamp: '2026-01-01T00:00:00.000Z', generatorName: 'test' }).serialNumber, bom.serialNumber, 'reproducible');

  const broken = structuredClone(bom);
  delete broken.components[0]!.licenses;
  broken.dependencies!.push({ ref: 'nowhere@1', dependsOn: [] });
  const gaps = checkBom(broken);
  t.ok(gaps.some((g) => g.message === 'no licence'), 'a component without licence is a gap');
  t.ok(gaps.some((g) => g.message.includes('unknown component')), 'a dependency on nothing known is a gap');
});

t.test('REQ-EVID-006 a boundary or device without a catalogue entry, or an entry without its specification, is a gap', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-catalogue-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const put = (p: string, text = ''): void => {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), text);
  };
  put('agent/src/io/serial.ts');
  put('agent/src/drivers/dev-a/protocol.ts');
  put('docs/interfaces/serial.md', '# serial');
  put('docs/interfaces/dev-a.md', '# dev-a');
  const catalogue: Catalogue = {
    version: 1,
    boundaries: { files: ['agent/src/io/'], folders: ['agent/src/drivers'] },
    interfaces: [
      { id: 'serial-port', name: 'Serial', kind: 'serial device', direction: 'in/out', code: ['agent/src/io/serial.ts'], spec: 'docs/interfaces/serial.md', see: [], hazards: ['HAZ-001'], summary: 's' },
      { id: 'dev-a', name: 'A', kind: 'serial device', direction: 'in', code: ['agent/src/drivers/dev-a/'], spec: 'docs/interfaces/dev-a.md', see: [], hazards: ['HAZ-001'], summary: 's' },
    ],
  };
  const hazards = [{ id: 'HAZ-001', title: 'h', cause: '', harm: '', severity: 'serious', controls: [], tests: [] }];
  t.same(checkCatalogue(dir, catalogue, hazards), [], 'everything listed and specified');
  put('agent/src/io/http.ts');
  put('agent/src/drivers/dev-b/protocol.ts');
  rmSync(join(dir, 'docs/interfaces/dev-a.md'));
  const gaps = checkCatalogue(dir, catalogue, [...hazards, { ...hazards[0]!, id: 'HAZ-002' }]);
  const has = (kind: string, subject: string): boolean => gaps.some((g) => g.kind === kind && g.subject === subject);
  t.ok(has('interface-missing', 'agent/src/io/http.ts'), 'a new boundary file');
  t.ok(has('interface-missing', 'agent/src/drivers/dev-b/'), 'a new device driver');
  t.ok(has('interface-no-spec', 'dev-a'), 'a missing specification');
  t.ok(has('hazard-no-interface', 'HAZ-002'), 'a hazard no interface names');
});

t.test('REQ-EVID-007 the verification record states date, commit, changes, environment and every result of one run', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-record-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'run.json');
  execFileSync(process.execPath, [join(ROOT, 'dist', 'test', 'support', 'evidence', 'records.js'), 'start', '--out', out, '--root', ROOT]);
  execFileSync(process.execPath, [join(ROOT, 'dist', 'test', 'support', 'evidence', 'records.js'), 'finish', '--out', out, '--root', ROOT]);
  const run = JSON.parse(readFileSync(out, 'utf8')) as RunRecord;
  t.match(run.commit, /^([0-9a-f]{40}|unknown)$/, 'the commit tested');
  t.ok(Date.parse(run.started) <= Date.parse(run.finished ?? ''), 'started, then finished');
  t.equal(run.env.node, process.version, 'the environment: Node.js');
  t.ok(Array.isArray(run.changes), 'the changes not in the commit');
  const md = renderRecord(run, [
    { runner: 'tap', file: 'dist/test/system/a.test.js', layer: 'system', title: 'REQ-A-001 ok', fullName: 'x', status: 'pass', durationMs: 5 },
    { runner: 'cargo', file: 'vigil_core', layer: 'rust', title: 'broken', fullName: 'vigil_core::broken', status: 'fail', durationMs: null },
  ], '1 passed, 1 failed');
  t.match(md, run.started, 'the date');
  t.match(md, run.commit, 'the commit');
  t.match(md, `| node | ${process.version} |`, 'the environment');
  t.match(md, '| pass | REQ-A-001 ok | 5 |', 'every test with its result');
  t.match(md, '**fail** `vigil_core::broken`', 'failures listed as anomalies');
  t.match(md, '**FAIL**: 1 passed, 1 failed', 'the verdict');
});
