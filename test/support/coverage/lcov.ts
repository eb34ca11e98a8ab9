/**
 * Line and branch coverage read from LCOV tracefiles, the one format both measurements write:
 * the TypeScript's (V8 coverage turned into LCOV by c8, mapped to the .ts sources) and the Rust
 * core's (`cargo llvm-cov --lcov`).
 *
 *   SF:<source file>
 *   DA:<line>,<hits>                     one per executable line
 *   BRDA:<line>,<block>,<branch>,<taken>  one per branch; taken is `-` when its block never ran
 *   end_of_record
 *
 * Figures are computed here from the DA and BRDA records (never from the LF/LH/BRF/BRH totals),
 * so that the same code gives the figures of a whole file and of a line range (a risk-control
 * function), and leaves out the lines of Rust test modules.
 */
export interface BranchRecord {
  line: number;
  block: string;
  branch: string;
  /** Times taken; 0 when its block never ran (`-`). */
  taken: number;
}

export interface FileCoverage {
  /** The path as the tracefile gives it. */
  path: string;
  /** Executable line -> hits. */
  lines: Map<number, number>;
  branches: BranchRecord[];
}

export interface Ratio {
  hit: number;
  total: number;
}

export interface Figures {
  lines: Ratio;
  branches: Ratio;
  /** Executable lines never run, ascending. */
  uncoveredLines: number[];
  /** Lines holding a branch never taken, ascending. */
  uncoveredBranchLines: number[];
}

/** A line range, first and last line included (1-based). */
export interface LineRange {
  start: number;
  end: number;
}

export function parseLcov(text: string): FileCoverage[] {
  const files: FileCoverage[] = [];
  let current: FileCoverage | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('SF:')) {
      current = { path: line.slice(3), lines: new Map(), branches: [] };
      files.push(current);
      continue;
    }
    if (!current) continue;
    if (line === 'end_of_record') {
      current = null;
    } else if (line.startsWith('DA:')) {
      const [n, hits] = line.slice(3).split(',');
      const ln = Number(n);
      // A line can be listed twice (two functions starting on it): the hits add up.
      current.lines.set(ln, (current.lines.get(ln) ?? 0) + Number(hits));
    } else if (line.startsWith('BRDA:')) {
      const [n, block, branch, taken] = line.slice(5).split(',');
      current.branches.push({ line: Number(n), block: block ?? '', branch: branch ?? '', taken: taken === '-' ? 0 : Number(taken) });
    }
  }
  return files;
}

function inRanges(line: number, include: LineRange | null, leaveOut: LineRange[]): boolean {
  if (include && (line < include.start || line > include.end)) return false;
  return !leaveOut.some((r) => line >= r.start && line <= r.end);
}

/**
 * The figures of a file, or of the lines of `range` in it, without the lines in `leaveOut`.
 * A branch belongs to the line its record names (where its decision or block starts).
 */
export function figures(file: FileCoverage, range: LineRange | null = null, leaveOut: LineRange[] = []): Figures {
  const lines: Ratio = { hit: 0, total: 0 };
  const uncoveredLines: number[] = [];
  for (const [n, hits] of [...file.lines].sort((a, b) => a[0] - b[0])) {
    if (!inRanges(n, range, leaveOut)) continue;
    lines.total += 1;
    if (hits > 0) lines.hit += 1;
    else uncoveredLines.push(n);
  }
  const branches: Ratio = { hit: 0, total: 0 };
  const missed = new Set<number>();
  for (const b of file.branches) {
    if (!inRanges(b.line, range, leaveOut)) continue;
    branches.total += 1;
    if (b.taken > 0) branches.hit += 1;
    else missed.add(b.line);
  }
  return { lines, branches, uncoveredLines, uncoveredBranchLines: [...missed].sort((a, b) => a - b) };
}

export function addRatio(a: Ratio, b: Ratio): Ratio {
  return { hit: a.hit + b.hit, total: a.total + b.total };
}

/** `87.5 %`, or `-` when there is nothing to measure. One decimal, rounded down so 99.96 % never reads 100.0 %. */
export function percent(r: Ratio): string {
  if (r.total === 0) return '-';
  return `${(Math.floor((r.hit / r.total) * 1000) / 10).toFixed(1)} %`;
}

/** `3-7, 9, 12`: line numbers as ranges. */
export function lineList(lines: number[]): string {
  const out: string[] = [];
  let i = 0;
  while (i < lines.length) {
    let j = i;
    while (j + 1 < lines.length && lines[j + 1] === lines[j]! + 1) j += 1;
    out.push(j === i ? `${lines[i]}` : `${lines[i]}-${lines[j]}`);
    i = j + 1;
  }
  return out.join(', ');
}
