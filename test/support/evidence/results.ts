/**
 * The results of the last `make test`, read from the runners' machine-readable output:
 *
 * - tap: the JSON reporter (`tap replay --reporter=json`, written by `make test` to
 *   build/test/tap-results.json from the same run's saved TAP). A test is a top-level
 *   `t.test` of a file (as in summarize.ts); a file that failed outside its tests (a crash,
 *   no results) is one failed entry of its own.
 * - cargo test: the plain `test <path> ... ok|FAILED|ignored` lines of build/test/cargo.txt,
 *   with the crate from the preceding `Running` line (libtest's JSON output is unstable).
 *
 * Also the inventory of tests in the sources (tap titles, Rust `#[test]` functions), to
 * tell a test that did not run from one that does not exist.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readText, rel, walkFiles } from './util';

export type TestStatus = 'pass' | 'fail' | 'skip' | 'todo';
export type TestLayer = 'unit' | 'integration' | 'system' | 'rust' | 'other';

export interface TestResult {
  runner: 'tap' | 'cargo';
  /** Test file (dist/test/unit/x.test.js) or Rust crate (vigil_core). */
  file: string;
  layer: TestLayer;
  /** The top-level tap title, or the Rust test function's name. */
  title: string;
  /** file > title, or crate::module::function. */
  fullName: string;
  status: TestStatus;
  durationMs: number | null;
  /** Why it is skipped or failed, when the runner says. */
  note?: string;
}

export function layerOf(file: string): TestLayer {
  const m = /(?:^|\/)test\/(unit|integration|system)\//.exec(file);
  return (m?.[1] as TestLayer | undefined) ?? 'other';
}

interface TapJsonNode {
  name?: string;
  ok?: boolean;
  skip?: unknown;
  todo?: unknown;
  time?: number;
  fullname?: string;
  suites?: TapJsonNode[];
  cases?: TapJsonNode[];
  failures?: number;
}

function statusOf(n: TapJsonNode): TestStatus {
  if (n.todo !== undefined && n.todo !== false) return 'todo';
  if (n.skip !== undefined && n.skip !== false) return 'skip';
  return n.ok === false ? 'fail' : 'pass';
}

/** Tests from the tap JSON reporter's document. */
export function parseTapJson(doc: unknown): TestResult[] {
  const out: TestResult[] = [];
  const files = (doc as TapJsonNode | null)?.suites ?? [];
  for (const f of files) {
    const file = f.name ?? '(unnamed file)';
    const layer = layerOf(file);
    const seen = new Set<string>();
    const push = (n: TapJsonNode): void => {
      const title = n.name!;
      seen.add(title);
      const status = statusOf(n);
      const note = typeof n.skip === 'string' ? n.skip : typeof n.todo === 'string' ? n.todo : undefined;
      out.push({
        runner: 'tap',
        file,
        layer,
        title,
        fullName: `${file} > ${title}`,
        status,
        durationMs: typeof n.time === 'number' ? Math.round(n.time) : null,
        ...(note !== undefined ? { note } : {}),
      });
    };
    // Top-level tests with assertions are suites; those without (skipped, todo) are cases.
    // The reporter sometimes leaves a test's suite unnamed and gives its result as a case of
    // the file: the named case carries it.
    for (const s of f.suites ?? []) if (s.name) push(s);
    for (const c of f.cases ?? []) if (c.name && !seen.has(c.name)) push(c);
    const failedInside = out.some((r) => r.file === file && r.status === 'fail');
    if (f.ok === false && !failedInside) {
      out.push({ runner: 'tap', file, layer, title: '(test file failed)', fullName: `${file} > (test file failed)`, status: 'fail', durationMs: null });
    }
  }
  return out;
}

/** Tests from `cargo test`'s plain output. */
export function parseCargoText(text: string): TestResult[] {
  const out: TestResult[] = [];
  let crate = '(unknown crate)';
  let doc = false;
  for (const line of text.split('\n')) {
    const running = /^\s*Running (?:unittests )?(\S+) \((?:.*\/)?([A-Za-z0-9_]+?)(?:-[0-9a-f]{6,})?\)\s*$/.exec(line);
    if (running) {
      crate = running[2]!;
      doc = false;
      continue;
    }
    const docTests = /^\s*Doc-tests (\S+)/.exec(line);
    if (docTests) {
      crate = docTests[1]!;
      doc = true;
      continue;
    }
    const m = /^test (.+?) \.\.\. (ok|FAILED|ignored)(?:, (.*))?$/.exec(line);
    if (!m) continue;
    const path = m[1]!;
    const title = doc ? path : (path.split('::').pop() ?? path);
    out.push({
      runner: 'cargo',
      file: crate,
      layer: 'rust',
      title,
      fullName: `${crate}::${path}`,
      status: m[2] === 'ok' ? 'pass' : m[2] === 'FAILED' ? 'fail' : 'skip',
      durationMs: null,
      ...(m[3] ? { note: m[3] } : {}),
    });
  }
  return out;
}

export interface LoadedResults {
  results: TestResult[];
  problems: string[];
}

/** Both runners' results; `problems` says what could not be read. */
export function loadResults(tapJsonFile: string, cargoTextFile: string): LoadedResults {
  const problems: string[] = [];
  let results: TestResult[] = [];
  const tapRaw = readText(tapJsonFile);
  if (tapRaw === null) problems.push(`no tap results at ${tapJsonFile}: run make test`);
  else {
    try {
      results = parseTapJson(JSON.parse(tapRaw));
    } catch (err) {
      problems.push(`tap results at ${tapJsonFile} are not JSON: ${(err as Error).message}`);
    }
  }
  const cargoRaw = readText(cargoTextFile);
  if (cargoRaw === null) problems.push(`no cargo test output at ${cargoTextFile}: run make test`);
  else {
    results = results.concat(parseCargoText(cargoRaw));
    if (/error(\[E\d+\])?: could not compile/.test(cargoRaw)) problems.push('cargo test: a crate did not compile, its tests did not run');
  }
  return { results, problems };
}

export interface SourceTest {
  title: string;
  file: string;
  layer: TestLayer;
}

/** The JavaScript string a quoted title stands for (handles \' and \" escapes). */
function unquote(body: string): string {
  return body.replace(/\\(.)/g, '$1');
}

/** Every test in the sources: tap `t.test(...)` titles under test/, Rust `#[test]` functions under native/. */
export function sourceTests(root: string): SourceTest[] {
  const out: SourceTest[] = [];
  for (const f of walkFiles(join(root, 'test'), /\.test\.ts$/)) {
    const file = rel(root, f);
    const src = readFileSync(f, 'utf8');
    for (const m of src.matchAll(/\bt\.test\(\s*(['"`])((?:\\.|(?!\1)[^\\])*)\1/g)) {
      // A title built per case (a template with \${...}) is known by its instances in the results.
      if (m[1] === '`' && m[2]!.includes('${')) continue;
      out.push({ title: unquote(m[2]!), file, layer: layerOf(file) });
    }
  }
  for (const f of walkFiles(join(root, 'native'), /\.rs$/)) {
    const src = readFileSync(f, 'utf8');
    for (const m of src.matchAll(/#\[test\]\s*(?:#\[[^\]]*\]\s*)*fn\s+(\w+)/g)) {
      out.push({ title: m[1]!, file: rel(root, f), layer: 'rust' });
    }
  }
  return out;
}
