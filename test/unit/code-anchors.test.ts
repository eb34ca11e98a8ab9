/**
 * Risk controls anchor on units a reviewer can read alone (test/support/code-anchors.ts): every
 * `code:` anchor of docs/risk/hazards.yaml names an exported function, class, public method or
 * constant table of the product, never a closure, a test helper, a whole file or a long function.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { checkAnchor, checkTsAnchor, MAX_ANCHOR_LINES } from '../support/code-anchors';

const ROOT = join(__dirname, '..', '..', '..');

t.test('REQ-RISK-002 every risk-control anchor in hazards.yaml names an exported function, class, method or table', async (t) => {
  const doc = parse(readFileSync(join(ROOT, 'docs', 'risk', 'hazards.yaml'), 'utf8')) as { hazards: Array<{ id: string; controls: Array<{ id: string; code: string }> }> };
  let anchors = 0;
  for (const h of doc.hazards) {
    for (const c of h.controls) {
      for (const anchor of c.code.split(',').map((s) => s.trim())) {
        anchors += 1;
        const r = checkAnchor(ROOT, anchor);
        t.ok(r.ok, `${h.id} ${c.id} ${anchor}${r.ok ? ` (${r.kind})` : `: ${r.problem}`}`);
      }
    }
  }
  t.ok(anchors >= 40, `the controls are anchored (${anchors} anchors)`);
});

t.test('REQ-RISK-002 the anchor check refuses closures, private methods, whole files, test helpers and long functions', async (t) => {
  const src = [
    'export function startAgent() {',
    '  const withdraw = () => 1;',
    '  return withdraw;',
    '}',
    'export class Flow {',
    '  rescore(): void {}',
    '  private secret(): void {}',
    '}',
    'export const TABLE = { a: 1 } as const;',
    'function hidden() {}',
    `export function long() {\n${'  1;\n'.repeat(MAX_ANCHOR_LINES)}}`,
  ].join('\n');
  t.ok(checkTsAnchor(src, 'x.ts', 'startAgent').ok, 'an exported function');
  t.ok(checkTsAnchor(src, 'x.ts', 'Flow.rescore').ok, 'a public method');
  t.ok(checkTsAnchor(src, 'x.ts', 'TABLE').ok, 'a constant table');
  t.notOk(checkTsAnchor(src, 'x.ts', 'withdraw').ok, 'a closure inside a function');
  t.notOk(checkTsAnchor(src, 'x.ts', 'Flow.secret').ok, 'a private method');
  t.notOk(checkTsAnchor(src, 'x.ts', 'hidden').ok, 'a function that is not exported');
  t.notOk(checkTsAnchor(src, 'x.ts', 'long').ok, `a function over ${MAX_ANCHOR_LINES} lines`);
  t.notOk(checkAnchor(ROOT, 'agent/src/config.ts').ok, 'a whole file');
  t.notOk(checkAnchor(ROOT, 'test/support/pki.ts#Pki').ok, 'a test helper');
  t.ok(checkAnchor(ROOT, 'native/core/src/news2.rs#score').ok, 'a public Rust function');
  t.notOk(checkAnchor(ROOT, 'native/core/src/news2.rs#no_such_fn').ok, 'an unknown Rust function');
});
