/**
 * Verification records (IEC 62304 5.6.7 and 5.7.5): for the test run of `make test`, the date,
 * the version tested (commit, and whether the tree had changes), the environment (hardware,
 * operating system, tool versions), who ran it, and pass/fail per test with the anomalies
 * found. `make test` writes the run's facts to build/test/run.json when it starts and when it
 * ends (this file's command line); `make evidence` renders them with the results of the same run.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { arch, cpus, release, totalmem, type, userInfo } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { TestLayer, TestResult } from './results';
import { cell, code, readText } from './util';

export interface RunRecord {
  started: string;
  finished?: string;
  commit: string;
  commitTime: string;
  branch: string;
  /** `git status --porcelain` lines at the start of the run: changes not in the commit. */
  changes: string[];
  performedBy: string;
  command: string;
  env: Record<string, string>;
}

function run(cmd: string, args: string[], cwd?: string, trim = true): string | null {
  try {
    const out = execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    return trim ? out.trim() : out;
  } catch (err) {
    // Some tools print their version on stderr or exit non-zero after printing it (mosquitto -h).
    const e = err as { stdout?: string; stderr?: string };
    const text = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim();
    return text || null;
  }
}

export function gitFacts(root: string): { commit: string; commitTime: string; branch: string; changes: string[] } {
  const commit = run('git', ['rev-parse', 'HEAD'], root);
  const ok = commit !== null && /^[0-9a-f]{40}$/.test(commit);
  return {
    commit: ok ? commit : 'unknown',
    commitTime: ok ? (run('git', ['log', '-1', '--format=%cI'], root) ?? '') : '',
    branch: ok ? (run('git', ['rev-parse', '--abbrev-ref', 'HEAD'], root) ?? '') : '',
    changes: ok ? (run('git', ['status', '--porcelain', '--untracked-files=normal'], root, false) ?? '').split('\n').filter((l) => l.trim() !== '') : [],
  };
}

function firstLine(s: string | null): string | null {
  return s?.split('\n').find((l) => l.trim() !== '')?.trim() ?? null;
}

/** The hardware and software the tests ran on. Values only, no secrets, no host name. */
export function environment(root: string): Record<string, string> {
  const env: Record<string, string> = {};
  const set = (k: string, v: string | null | undefined): void => {
    if (v) env[k] = v;
  };
  const osRelease = readText('/etc/os-release') ?? '';
  set('os', /^PRETTY_NAME="?([^"\n]*)"?/m.exec(osRelease)?.[1] ?? type());
  set('kernel', `${type()} ${release()} ${arch()}`);
  const c = cpus();
  set('cpu', c.length > 0 ? `${c.length} x ${c[0]!.model.trim()}` : null);
  set('memory', `${Math.round(totalmem() / 2 ** 30)} GiB`);
  set('node', process.version);
  set('npm', firstLine(run('npm', ['--version'])));
  set('rustc', firstLine(run('rustc', ['--version']))?.replace(/^rustc /, '') ?? null);
  set('cargo', firstLine(run('cargo', ['--version']))?.replace(/^cargo /, '') ?? null);
  try {
    set('tap', (JSON.parse(readFileSync(join(root, 'node_modules', 'tap', 'package.json'), 'utf8')) as { version: string }).version);
  } catch {
    // not installed
  }
  set('typescript', (() => {
    try {
      return (JSON.parse(readFileSync(join(root, 'node_modules', 'typescript', 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      return null;
    }
  })());
  set('mosquitto', /mosquitto version (\S+)/.exec(run('mosquitto', ['-h']) ?? '')?.[1] ?? null);
  set('openssl', firstLine(run('openssl', ['version'])));
  set('systemd', /systemd (\d+)/.exec(run('systemctl', ['--version']) ?? '')?.[1] ?? null);
  set('socat', /socat version (\S+)/.exec(run('socat', ['-V']) ?? '')?.[1] ?? null);
  set('cargo-cyclonedx', /(\d+\.\d+\.\d+\S*)/.exec(run('cargo', ['cyclonedx', '--version']) ?? '')?.[1] ?? null);
  set('cargo-llvm-cov', /(\d+\.\d+\.\d+\S*)/.exec(run('cargo', ['llvm-cov', '--version']) ?? '')?.[1] ?? null);
  return env;
}

function performedBy(): string {
  if (process.env.CI) return `CI (${process.env.CI_JOB_NAME ?? process.env.GITHUB_WORKFLOW ?? 'automated'})`;
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

export function startRecord(root: string, command: string): RunRecord {
  return { started: new Date().toISOString(), ...gitFacts(root), performedBy: performedBy(), command, env: environment(root) };
}

export function readRunRecord(file: string): RunRecord | null {
  const raw = readText(file);
  if (raw === null) return null;
  try {
    return JSON.parse(raw) as RunRecord;
  } catch {
    return null;
  }
}

// ---- rendering ----------------------------------------------------------------------------------

const LAYERS: TestLayer[] = ['unit', 'integration', 'system', 'rust', 'other'];

export function tally(results: TestResult[]): { pass: number; fail: number; skip: number } {
  return {
    pass: results.filter((r) => r.status === 'pass').length,
    fail: results.filter((r) => r.status === 'fail').length,
    skip: results.filter((r) => r.status === 'skip' || r.status === 'todo').length,
  };
}

export function renderRecord(run: RunRecord, results: TestResult[], summaryLine: string): string {
  const out: string[] = [];
  const all = tally(results);
  out.push('# Verification record: the last test run');
  out.push('');
  out.push('Generated by `make evidence` from the results of one `make test` run (tap\'s JSON reporter and cargo');
  out.push('test\'s result lines) and the run\'s own record (`build/test/run.json`). Do not edit by hand.');
  out.push('IEC 62304 5.6.7 (integration test records) and 5.7.5 (software system test records): results,');
  out.push('anomalies, version tested, test configuration and tools, date, who ran it.');
  out.push('');
  out.push('| | |');
  out.push('|---|---|');
  out.push(`| started | ${run.started} |`);
  out.push(`| finished | ${run.finished ?? '(not recorded: the run did not finish)'} |`);
  out.push(`| version tested | commit \`${run.commit}\` (${run.commitTime}), branch ${code(run.branch || '?')} |`);
  out.push(`| changes not in that commit | ${run.changes.length === 0 ? 'none (clean tree)' : `${run.changes.length} file(s), listed below`} |`);
  out.push(`| command | ${code(run.command)} |`);
  out.push(`| performed by | ${cell(run.performedBy)} |`);
  out.push(`| result | ${all.fail === 0 && all.pass > 0 ? '**pass**' : '**FAIL**'}: ${all.pass} passed, ${all.fail} failed, ${all.skip} skipped (\`make test\` printed \`${summaryLine}\`) |`);
  out.push('');
  out.push('## Environment');
  out.push('');
  out.push('| | |');
  out.push('|---|---|');
  for (const [k, v] of Object.entries(run.env)) out.push(`| ${k} | ${cell(v)} |`);
  out.push('');
  out.push('## Results by layer');
  out.push('');
  out.push('| layer | passed | failed | skipped |');
  out.push('|---|---:|---:|---:|');
  for (const l of LAYERS) {
    const t = tally(results.filter((r) => r.layer === l));
    if (t.pass + t.fail + t.skip > 0) out.push(`| ${l} | ${t.pass} | ${t.fail} | ${t.skip} |`);
  }
  out.push('');
  out.push('## Anomalies (failed or skipped tests)');
  out.push('');
  const bad = results.filter((r) => r.status !== 'pass');
  if (bad.length === 0) out.push('None.');
  for (const r of bad) out.push(`- **${r.status}** ${code(r.fullName)}${r.note ? `: ${cell(r.note)}` : ''}`);
  out.push('');
  if (run.changes.length > 0) {
    out.push('## Changes not in the commit at the start of the run');
    out.push('');
    for (const c of run.changes) out.push(`- ${code(c)}`);
    out.push('');
  }
  out.push('## Every test');
  out.push('');
  let file = '';
  for (const r of [...results].sort((a, b) => a.file.localeCompare(b.file))) {
    if (r.file !== file) {
      file = r.file;
      out.push('');
      out.push(`### ${code(file)} (${r.layer})`);
      out.push('');
      out.push('| result | test | ms |');
      out.push('|---|---|---:|');
    }
    out.push(`| ${r.status === 'pass' ? 'pass' : `**${r.status.toUpperCase()}**`} | ${cell(r.title)} | ${r.durationMs ?? ''} |`);
  }
  out.push('');
  return out.join('\n');
}

// `make test`: node dist/test/support/evidence/records.js start|finish --out build/test/run.json
if (require.main === module) {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { out: { type: 'string' }, root: { type: 'string' }, command: { type: 'string' } },
  });
  const root = values.root ?? join(__dirname, '..', '..', '..', '..');
  const out = values.out ?? join(root, 'build', 'test', 'run.json');
  if (positionals[0] === 'start') {
    writeFileSync(out, `${JSON.stringify(startRecord(root, values.command ?? 'make test'), null, 2)}\n`);
  } else if (positionals[0] === 'finish') {
    const r = readRunRecord(out);
    if (r) writeFileSync(out, `${JSON.stringify({ ...r, finished: new Date().toISOString() }, null, 2)}\n`);
  } else {
    process.stderr.write('usage: records.js start|finish [--out build/test/run.json] [--root DIR] [--command TEXT]\n');
    process.exit(2);
  }
}
