/**
 * Real captures (test/fixtures/real/<vendor-model>/) through `vigil decode`, the command a
 * user runs, compared with the values written by hand in each fixture's expected.json (never
 * produced by a decoder): no wrong value, every expected vital sign delivered, every withheld
 * row with a reason. Each fixture's outcome is kept in build/test/real-devices/ for
 * `make evidence`, which renders docs/interfaces/real-devices.md with this test's verdict.
 *
 * HL7 captures are decoded twice: by default (every standard-coded vital sign: MDC rows) and
 * with `--profile auto` (every vital sign the fixture expects).
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'real');
const OUT = join(ROOT, 'build', 'test', 'real-devices');
const CLI = join(ROOT, 'dist', 'agent', 'src', 'cli.js');

interface Expected {
  kind: 'hl7-oru' | 'masimo-ascii';
  vendor: string;
  model: string;
  capture: string;
  lines?: Array<{ line: number; vigilValues: Record<string, number>; unavailable: string[] }>;
  messages?: Array<{ rows: Array<{ setId: string; code: string; codingSystem: string; vigil: string | null; vigilValue: number | null }> }>;
}

interface Decoded {
  kind: string;
  parameter?: string;
  value?: number | null;
  reason?: string;
  detail?: string;
}

/** Relative closeness for values printed with fewer digits than the canonical unit gives. */
const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));

function decode(driver: string, file: string, profile: string | null): Decoded[] {
  const args = [CLI, 'decode', driver, ...(profile ? ['--profile', profile] : []), file];
  const out = execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Decoded);
}

/** The expected delivered values: parameter -> the values it may take (a capture may hold many readings). */
function expectedValues(e: Expected, standardOnly: boolean): { want: Array<[string, number]>; allowed: Map<string, number[]>; forbidden: Set<string> } {
  const want: Array<[string, number]> = [];
  const allowed = new Map<string, number[]>();
  const forbidden = new Set<string>();
  const add = (p: string, v: number, required: boolean) => {
    allowed.set(p, [...(allowed.get(p) ?? []), v]);
    if (required) want.push([p, v]);
  };
  for (const l of e.lines ?? []) for (const [p, v] of Object.entries(l.vigilValues)) add(p, v, true);
  for (const m of e.messages ?? []) {
    for (const r of m.rows) {
      if (r.vigil === null) continue;
      if (r.vigilValue === null) forbidden.add(r.vigil);
      else add(r.vigil, r.vigilValue, !standardOnly || r.codingSystem.toUpperCase() === 'MDC');
    }
  }
  for (const p of allowed.keys()) forbidden.delete(p);
  return { want, allowed, forbidden };
}

const dirs = existsSync(FIXTURES) ? readdirSync(FIXTURES).filter((d) => existsSync(join(FIXTURES, d, 'expected.json'))).sort() : [];

t.test('REQ-REAL-001 the real captures are there, each with its provenance', async (t) => {
  t.ok(dirs.length >= 1, `${dirs.length} real capture(s)`);
  for (const d of dirs) t.ok(existsSync(join(FIXTURES, d, 'PROVENANCE.md')), `${d} has its provenance`);
});

for (const dir of dirs) {
  t.test(`REQ-REAL-001 real capture ${dir}: no wrong value, every expected vital sign delivered, every withheld row with a reason`, async (t) => {
    const e = JSON.parse(readFileSync(join(FIXTURES, dir, 'expected.json'), 'utf8')) as Expected;
    const driver = e.kind === 'hl7-oru' ? 'pcd01' : 'masimo-ascii';
    const file = join(FIXTURES, dir, e.capture);
    const runs: Array<{ mode: string; profile: string | null; standardOnly: boolean }> =
      e.kind === 'hl7-oru' ? [{ mode: 'default', profile: null, standardOnly: true }, { mode: 'profile auto', profile: 'auto', standardOnly: false }] : [{ mode: 'default', profile: null, standardOnly: false }];
    const record: Record<string, unknown> = { dir, vendor: e.vendor, model: e.model, kind: e.kind, capture: e.capture, modes: [] as unknown[] };
    for (const run of runs) {
      const lines = decode(driver, file, run.profile);
      const readings = lines.filter((l) => l.kind === 'reading' && typeof l.value === 'number') as Array<Required<Pick<Decoded, 'parameter' | 'value'>>>;
      const rejections = lines.filter((l) => l.kind === 'rejection');
      const { want, allowed, forbidden } = expectedValues(e, run.standardOnly);
      for (const r of readings) {
        const ok = (allowed.get(r.parameter) ?? []).some((v) => close(r.value as number, v));
        t.ok(ok, `${run.mode}: ${r.parameter} = ${r.value} is a value the capture holds (no wrong value)`);
        t.notOk(forbidden.has(r.parameter), `${run.mode}: ${r.parameter} is not a placeholder delivered as a value`);
      }
      for (const [p, v] of want) {
        t.ok(readings.some((r) => r.parameter === p && close(r.value as number, v)), `${run.mode}: ${p} = ${v} is delivered`);
      }
      for (const r of rejections) t.ok(r.reason && r.detail, `${run.mode}: a withheld row says why (${r.reason})`);
      (record.modes as unknown[]).push({
        mode: run.mode,
        delivered: readings.map((r) => ({ parameter: r.parameter, value: r.value })),
        withheld: rejections.map((r) => ({ reason: r.reason, detail: r.detail })),
        expected: want.map(([parameter, value]) => ({ parameter, value })),
      });
    }
    mkdirSync(OUT, { recursive: true });
    writeFileSync(join(OUT, `${dir}.json`), `${JSON.stringify(record, null, 2)}\n`);
  });
}
