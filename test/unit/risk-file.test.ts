/**
 * The risk file answers to the tests: every hazard in docs/risk/hazards.yaml has a control,
 * every control a requirement, and every test it lists exists by its exact title (in the tap
 * tests, or as a cargo test function in native/).
 */
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const ROOT = join(__dirname, '..', '..', '..');

function files(dir: string, ext: RegExp): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'node_modules' || name === 'target') continue;
    if (statSync(p).isDirectory()) out.push(...files(p, ext));
    else if (ext.test(name)) out.push(p);
  }
  return out;
}

export function knownTestTitles(): Set<string> {
  const titles = new Set<string>();
  for (const f of files(join(ROOT, 'test'), /\.test\.ts$/)) {
    for (const m of readFileSync(f, 'utf8').matchAll(/\bt\.test\(\s*(['"`])((?:(?!\1).)+)\1/g)) titles.add(m[2]!);
  }
  for (const f of files(join(ROOT, 'native'), /\.rs$/)) {
    for (const m of readFileSync(f, 'utf8').matchAll(/#\[test\]\s*(?:#\[[^\]]*\]\s*)*fn\s+(\w+)/g)) titles.add(m[1]!);
  }
  return titles;
}

interface Hazard {
  id: string;
  title: string;
  cause: string;
  harm: string;
  severity: string;
  controls: Array<{ id: string; summary: string; code: string; requirement: string }>;
  tests: string[];
}

t.test('REQ-RISK-001 every hazard has a control, every control a requirement, every listed test exists', async (t) => {
  const doc = parse(readFileSync(join(ROOT, 'docs', 'risk', 'hazards.yaml'), 'utf8')) as { hazards: Hazard[] };
  const titles = knownTestTitles();
  t.ok(doc.hazards.length >= 10, 'the interface hazards are listed');
  const ids = new Set<string>();
  for (const h of doc.hazards) {
    t.notOk(ids.has(h.id), `${h.id} is unique`);
    ids.add(h.id);
    t.match(h.id, /^HAZ-\d{3}$/);
    for (const field of ['title', 'cause', 'harm', 'severity'] as const) t.ok(h[field], `${h.id} has a ${field}`);
    t.ok(h.controls?.length > 0, `${h.id} has a control`);
    for (const c of h.controls ?? []) {
      t.match(c.requirement, /^REQ-[A-Z0-9]+-\d{3}$/, `${h.id} ${c.id} names its requirement`);
      for (const ref of c.code.split(',').map((s) => s.trim().split('#')[0]!)) {
        t.ok(statSync(join(ROOT, ref), { throwIfNoEntry: false }), `${h.id} ${c.id}: ${ref} exists`);
      }
    }
    t.ok(h.tests?.length > 0, `${h.id} has a test`);
    for (const title of h.tests ?? []) t.ok(titles.has(title), `${h.id}: test "${title}" exists`);
  }
});

t.test('REQ-RISK-001 a listed test that does not exist is found missing', async (t) => {
  const titles = knownTestTitles();
  t.notOk(titles.has('HAZ-001 a test nobody wrote'), 'an invented title is not found');
  t.ok(titles.has('REQ-RISK-001 a listed test that does not exist is found missing'), 'this very test is found');
});
