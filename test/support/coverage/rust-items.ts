/**
 * Where a Rust item begins and ends in its source, found without a Rust parser: braces are
 * matched, skipping comments, strings, raw strings and character literals. Enough for the
 * crates of native/ (rustfmt-formatted code); used to place a risk-control function
 * (`native/core/src/news2.rs#score`) and the test modules on the lines of a coverage report.
 */
import type { LineRange } from './lcov';

/** 1-based line of a character offset. */
export function lineAt(source: string, offset: number): number {
  let n = 1;
  for (let i = 0; i < offset && i < source.length; i += 1) if (source.charCodeAt(i) === 10) n += 1;
  return n;
}

/** The length of the comment, string or character literal starting at `i`, or 0 when none does. */
function skippable(source: string, i: number): number | null {
  const c = source[i]!;
  const next = source[i + 1];
  if (c === '/' && next === '/') {
    const end = source.indexOf('\n', i);
    return end < 0 ? null : end - i;
  }
  if (c === '/' && next === '*') {
    const end = source.indexOf('*/', i + 2);
    return end < 0 ? null : end + 2 - i;
  }
  if (c === 'r' && (next === '"' || next === '#') && !/[A-Za-z0-9_]/.test(source[i - 1] ?? '')) {
    const raw = /^r(#*)"/.exec(source.slice(i, i + 20));
    if (raw) {
      const close = source.indexOf(`"${raw[1]}`, i + raw[0].length);
      return close < 0 ? null : close + 1 + raw[1]!.length - i;
    }
  }
  if (c === '"') {
    let j = i + 1;
    while (j < source.length && source[j] !== '"') j += source[j] === '\\' ? 2 : 1;
    return j >= source.length ? null : j + 1 - i;
  }
  if (c === "'") {
    // A character literal ('{', '\n', '\u{7b}'); otherwise a lifetime ('a), one character.
    const lit = /^'(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'])'/.exec(source.slice(i, i + 12));
    return lit ? lit[0].length : 1;
  }
  return 0;
}

/**
 * The offset of the `}` that closes the Rust item starting at `from`, or of the `;` that ends
 * an item without a body (`struct Unit;`). A `;` inside brackets (`[f64; 3]`) ends nothing.
 */
export function rustItemEnd(source: string, from: number): number | null {
  let braces = 0;
  let nesting = 0;
  let i = from;
  while (i < source.length) {
    const skip = skippable(source, i);
    if (skip === null) return null;
    if (skip > 0) {
      i += skip;
      continue;
    }
    const c = source[i]!;
    if (c === '(' || c === '[') nesting += 1;
    else if (c === ')' || c === ']') nesting -= 1;
    else if (c === '{') braces += 1;
    else if (c === '}') {
      braces -= 1;
      if (braces === 0) return i;
    } else if (c === ';' && braces === 0 && nesting === 0) return i;
    i += 1;
  }
  return null;
}

/** The lines of the public fn, struct, enum or trait `name`, from its `pub` to its end, or null. */
export function rustItemRange(source: string, name: string): { kind: string; range: LineRange } | null {
  const re = new RegExp(`^\\s*pub(?:\\([a-z]+\\))?\\s+(fn|struct|enum|trait)\\s+${name}\\b`, 'm');
  const m = re.exec(source);
  if (!m) return null;
  const begin = m.index + m[0].length - m[0].trimStart().length;
  const end = rustItemEnd(source, begin);
  if (end === null) return null;
  return { kind: m[1]!, range: { start: lineAt(source, begin), end: lineAt(source, end) } };
}

/**
 * The line ranges of Rust test code in a source file: each item under `#[cfg(test)]` (the
 * `mod tests { ... }` block), from the attribute to its closing brace. Test code is not product
 * code, but llvm-cov counts its lines with the file's.
 */
export function rustTestRanges(source: string): LineRange[] {
  const out: LineRange[] = [];
  const re = /^[ \t]*#\[cfg\(test\)\][ \t]*\r?\n/gm;
  for (let m = re.exec(source); m; m = re.exec(source)) {
    const end = rustItemEnd(source, m.index + m[0].length);
    if (end === null) continue;
    out.push({ start: lineAt(source, m.index), end: lineAt(source, end) });
  }
  return out;
}
