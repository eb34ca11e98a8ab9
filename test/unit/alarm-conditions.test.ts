/**
 * The alarm-condition catalogue (agent/src/safety/conditions.ts) is the only source of alarms:
 * every condition the code raises, clears or reports is one of its keys; the book takes kind
 * and priority from it; every hazard and requirement it names exists, and each requirement is
 * verified by a test that names it.
 */
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { parse } from 'yaml';
import { FakeClock } from '../../agent/src/clock';
import { AlarmBook } from '../../agent/src/safety/alarms';
import type { ConditionKey } from '../../agent/src/safety/conditions';
import { ALARM_CONDITIONS, isConditionKey, specOf } from '../../agent/src/safety/conditions';

const ROOT = join(__dirname, '..', '..', '..');
const KEYS = Object.keys(ALARM_CONDITIONS) as ConditionKey[];

function walk(dir: string, ext: RegExp): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (name === 'node_modules' || name === 'target') return [];
    return statSync(p).isDirectory() ? walk(p, ext) : ext.test(name) ? [p] : [];
  });
}

/**
 * Every string literal given as a condition in agent/src: the first argument of `raise`, `clear`,
 * `clearAlarm`, `isActive`, the second of `set`, the first of a driver's `setCondition`, and the
 * `condition` of an object emitted as a driver condition.
 */
function conditionLiterals(): Array<{ where: string; name: string }> {
  const out: Array<{ where: string; name: string }> = [];
  const argIndex: Record<string, number> = { raise: 0, clear: 0, clearAlarm: 0, isActive: 0, set: 1, setCondition: 0 };
  for (const file of walk(join(ROOT, 'agent', 'src'), /\.ts$/)) {
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
    const where = (n: ts.Node) => `${relative(ROOT, file)}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}`;
    const visit = (n: ts.Node): void => {
      if (ts.isCallExpression(n)) {
        const callee = n.expression;
        const name = ts.isPropertyAccessExpression(callee) ? callee.name.text : ts.isIdentifier(callee) ? callee.text : '';
        const i = argIndex[name];
        const arg = i === undefined ? undefined : n.arguments[i];
        // Map.set and Set calls take other arguments: only literals that look like conditions are checked.
        if (arg && ts.isStringLiteral(arg) && !(name === 'set' && n.arguments.length !== 4)) out.push({ where: where(arg), name: arg.text });
        if (arg && ts.isConditionalExpression(arg)) {
          for (const b of [arg.whenTrue, arg.whenFalse]) if (ts.isStringLiteral(b)) out.push({ where: where(b), name: b.text });
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return out;
}

t.test('REQ-ALARM-001 every condition the agent raises, clears or reports is a key of the catalogue', async (t) => {
  const literals = conditionLiterals();
  t.ok(literals.length >= 30, `the scan finds the call sites (${literals.length})`);
  for (const l of literals) t.ok(isConditionKey(l.name), `${l.where}: "${l.name}" is in the catalogue`);
  const raisedKeys = new Set(literals.map((l) => l.name));
  // Conditions raised through a typed variable (a driver's condition event, link-<state>) are
  // checked by the compiler; the rest must appear as literals somewhere.
  // The device alarms a driver relays come from its bit table (drivers/masimo-ascii/alarm-bits.ts,
  // typed MasimoAlarmCondition) or its PCD-04 condition table (drivers/hl7-pcd01/alert-relay.ts,
  // typed Pcd04AlertCondition), not from a literal at a call site.
  const viaVariables = new Set(['link-stale', 'link-lost', 'low-battery', 'device-fault', 'signal-processing-failed', 'frames-lost',
    'device-spo2-low', 'device-spo2-high', 'device-pulse-low', 'device-pulse-high', 'device-alarm-unconfirmed',
    'device-alarm-high', 'device-alarm-medium', 'device-alarm-low', 'device-technical-high', 'device-technical-medium', 'device-technical-low']);
  for (const k of KEYS) t.ok(raisedKeys.has(k) || viaVariables.has(k), `${k} is raised somewhere (no dead catalogue entry)`);
});

t.test('REQ-ALARM-001 only the alarm book builds alarm messages; it takes kind and priority from the catalogue', async (t) => {
  for (const file of walk(join(ROOT, 'agent', 'src'), /\.ts$/)) {
    const rel = relative(ROOT, file);
    if (rel === join('agent', 'src', 'safety', 'alarms.ts') || rel.startsWith(join('agent', 'src', 'station')) || rel.startsWith(join('agent', 'src', 'proto'))) continue;
    t.notMatch(readFileSync(file, 'utf8'), /'ALARM_KIND_|'ALARM_PRIORITY_/, `${rel} builds no alarm message of its own`);
  }
  const clock = new FakeClock();
  for (const k of KEYS) {
    const spec = ALARM_CONDITIONS[k];
    const msg = new AlarmBook(clock).raise(k, 'src', 'detail', 'qualifier' in spec ? 'x' : undefined);
    t.equal(msg?.priority, `ALARM_PRIORITY_${spec.priority.toUpperCase()}`, `${k}: priority from the catalogue`);
    t.equal(msg?.kind, `ALARM_KIND_${spec.kind.toUpperCase()}`, `${k}: kind from the catalogue`);
    t.equal(msg?.alarmId, spec.idPattern.replace(/^<[a-z]+>|^gateway/, 'src').replace(/<[a-z]+>$/, 'x'), `${k}: the id has the documented shape`);
    t.same(specOf(msg?.condition ?? '')?.key, k, `${k}: the condition name maps back to its entry`);
  }
  t.equal(specOf('value-rejected.implausible')?.key, 'value-rejected', 'a family member maps to its family');
  t.equal(specOf('link-stale.extra'), null, 'a qualifier on a condition that is not a family is not one');
  t.equal(specOf('no-such-condition'), null);
});

t.test('REQ-ALARM-001 every hazard and requirement the catalogue names exists, and each requirement is verified by a named test', async (t) => {
  const hazards = new Set((parse(readFileSync(join(ROOT, 'docs', 'risk', 'hazards.yaml'), 'utf8')) as { hazards: Array<{ id: string }> }).hazards.map((h) => h.id));
  const requirementsText = readFileSync(join(ROOT, 'docs', 'requirements.yaml'), 'utf8');
  const titles: string[] = [];
  for (const f of walk(join(ROOT, 'test'), /\.test\.ts$/)) {
    for (const m of readFileSync(f, 'utf8').matchAll(/\bt\.test\(\s*(['"`])((?:(?!\1).)+)\1/g)) titles.push(m[2]!);
  }
  for (const k of KEYS) {
    const spec = ALARM_CONDITIONS[k];
    t.ok(spec.hazards.length > 0, `${k} controls a hazard`);
    for (const h of spec.hazards) t.ok(hazards.has(h), `${k}: ${h} is in hazards.yaml`);
    t.match(requirementsText, new RegExp(`id: ${spec.requirement}\\n`), `${k}: ${spec.requirement} is in requirements.yaml`);
    t.ok(titles.some((title) => title.split(' ').includes(spec.requirement)), `${k}: a test names ${spec.requirement}`);
    t.ok(spec.rationale.length > 20, `${k} says why`);
    t.match(spec.idPattern, new RegExp(`^(<interface>|gateway)\\.${k}(\\.<[a-z]+>)?$`), `${k}: id pattern`);
  }
});
