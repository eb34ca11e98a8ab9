/**
 * Risk-control anchors (`code:` in docs/risk/hazards.yaml) must name a unit a reviewer can read
 * alone: an exported function, class, method of an exported class, or exported constant table
 * in the product's code (agent/src, native/), of at most MAX_ANCHOR_LINES lines for a function
 * or method. Never a closure, a test helper, or a file as a whole.
 *
 *   agent/src/pipeline/observation-flow.ts#ObservationFlow.withdraw
 *   agent/src/model/parameters.ts#PARAMETERS
 *   native/core/src/news2.rs#score
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import type { LineRange } from './coverage/lcov';
import { rustItemRange } from './coverage/rust-items';

/** The size rule for functions (REQ-MAINT-001) applies to anchored units too. */
export const MAX_ANCHOR_LINES = 80;

/** A unit found: its kind, its length, and where it is (1-based lines, its doc comment left out). */
export type AnchorCheck = { ok: true; kind: string; lines: number; range: LineRange } | { ok: false; problem: string };

function rangeOf(sf: ts.SourceFile, node: ts.Node): LineRange {
  return {
    start: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1,
    end: sf.getLineAndCharacterOfPosition(node.getEnd()).line + 1,
  };
}

function found(kind: string, range: LineRange): AnchorCheck {
  return { ok: true, kind, lines: range.end - range.start + 1, range };
}

function isExported(node: ts.Node): boolean {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
}

function fnCheck(kind: string, range: LineRange): AnchorCheck {
  const lines = range.end - range.start + 1;
  return lines <= MAX_ANCHOR_LINES ? found(kind, range) : { ok: false, problem: `${kind} of ${lines} lines (more than ${MAX_ANCHOR_LINES}): anchor a smaller unit` };
}

function memberOf(sf: ts.SourceFile, cls: ts.ClassDeclaration, name: string): AnchorCheck {
  for (const m of cls.members) {
    if (!m.name || !ts.isIdentifier(m.name) || m.name.text !== name) continue;
    const isPrivate = ((ts.canHaveModifiers(m) ? ts.getModifiers(m) : undefined) ?? []).some((x) => x.kind === ts.SyntaxKind.PrivateKeyword);
    if (isPrivate) return { ok: false, problem: `${cls.name?.text}.${name} is private: anchor a public method` };
    if (ts.isMethodDeclaration(m) || ts.isGetAccessorDeclaration(m)) return fnCheck('method', rangeOf(sf, m));
    if (ts.isPropertyDeclaration(m) && m.initializer && (ts.isArrowFunction(m.initializer) || ts.isFunctionExpression(m.initializer))) {
      return fnCheck('method', rangeOf(sf, m));
    }
    return { ok: false, problem: `${cls.name?.text}.${name} is not a method` };
  }
  return { ok: false, problem: `class ${cls.name?.text} has no member ${name}` };
}

/** Checks `name` (or `Class.member`) among the exported top-level declarations of a TypeScript file. */
export function checkTsAnchor(source: string, fileName: string, name: string): AnchorCheck {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.ES2022, true);
  const [top, member] = name.split('.');
  for (const st of sf.statements) {
    if (!isExported(st)) continue;
    if (ts.isFunctionDeclaration(st) && st.name?.text === top && !member) return fnCheck('function', rangeOf(sf, st));
    if (ts.isClassDeclaration(st) && st.name?.text === top) {
      return member ? memberOf(sf, st, member) : found('class', rangeOf(sf, st));
    }
    if (ts.isVariableStatement(st) && !member) {
      for (const d of st.declarationList.declarations) {
        if (!ts.isIdentifier(d.name) || d.name.text !== top) continue;
        const init = d.initializer && ts.isSatisfiesExpression(d.initializer) ? d.initializer.expression : d.initializer;
        const bare = init && ts.isAsExpression(init) ? init.expression : init;
        if (bare && (ts.isArrowFunction(bare) || ts.isFunctionExpression(bare))) return fnCheck('function', rangeOf(sf, st));
        if (bare && (ts.isObjectLiteralExpression(bare) || ts.isArrayLiteralExpression(bare))) return found('table', rangeOf(sf, st));
        return { ok: false, problem: `${top} is an exported constant but neither a function nor a table` };
      }
    }
  }
  return { ok: false, problem: `no exported function, class or table named ${top}` };
}

/** Checks a public function, struct, enum or trait `name` in a Rust file. */
export function checkRustAnchor(source: string, name: string): AnchorCheck {
  const item = rustItemRange(source, name);
  return item ? found(item.kind, item.range) : { ok: false, problem: `no public fn, struct, enum or trait named ${name}` };
}

/** Checks one anchor `path#name` against the repository at `root`. */
export function checkAnchor(root: string, anchor: string): AnchorCheck {
  const [path, name] = anchor.split('#');
  if (!path || !name) return { ok: false, problem: 'names a file as a whole: anchor an exported function, class or method (path#Name)' };
  if (!/^(agent\/src|native)\//.test(path)) return { ok: false, problem: `${path} is not product code (agent/src or native/)` };
  let source: string;
  try {
    source = readFileSync(join(root, path), 'utf8');
  } catch {
    return { ok: false, problem: `${path} does not exist` };
  }
  if (path.endsWith('.ts')) return checkTsAnchor(source, path, name);
  if (path.endsWith('.rs')) return checkRustAnchor(source, name);
  return { ok: false, problem: `${path}: only TypeScript and Rust files can be anchored` };
}
