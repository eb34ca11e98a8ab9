/** Small helpers shared by the evidence generator: file walking, globbing, Markdown. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Files under `dir` whose name matches `ext`, skipping build and dependency folders; sorted. */
export function walkFiles(dir: string, ext: RegExp): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    if (name === 'node_modules' || name === 'target' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walkFiles(p, ext));
    else if (ext.test(name)) out.push(p);
  }
  return out.sort();
}

/** `path` relative to `root`, with forward slashes. */
export function rel(root: string, path: string): string {
  return relative(root, path).split('\\').join('/');
}

export function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** A pattern with `*` (any run of characters) matched against the whole string. */
export function globMatch(pattern: string, text: string): boolean {
  if (!pattern.includes('*')) return pattern === text;
  const re = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`, 's');
  return re.test(text);
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Text safe inside a Markdown table cell. */
export function cell(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** Code span that survives backticks in the text. */
export function code(s: string): string {
  return s.includes('`') ? `\`\` ${s} \`\`` : `\`${s}\``;
}

/** A Markdown anchor as GitHub makes it from a heading. */
export function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

export function uniq<T>(items: Iterable<T>): T[] {
  return [...new Set(items)];
}

/** Natural order of ids such as REQ-HL7-002 < REQ-HL7-010 and HAZ-002 < HAZ-010. */
export function byId(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
