/**
 * What every system benchmark measures the same way: CPU of a process from /proc/<pid>/stat
 * (utime + stime of all its threads, in clock ticks), its peak resident memory (VmHWM in
 * /proc/<pid>/status), the load average next to every figure, percentiles, and the machine.
 * Linux only (/proc), like the gateway.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { findMosquitto } from '../broker';

let clockTicks: number | null = null;

/** Clock ticks per second of /proc/<pid>/stat times (getconf CLK_TCK; 100 on Linux). */
export function clkTck(): number {
  if (clockTicks === null) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** utime + stime of the process (every thread), in seconds; null when it is gone. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of proc(5) are utime and stime; here field 3 is at index 0.
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / clkTck();
  } catch {
    return null;
  }
}

function statusKb(pid: number, key: string): number | null {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Peak resident set size (VmHWM) in MB, or null when the process is gone. */
export function peakRssMb(pid: number): number | null {
  const kb = statusKb(pid, 'VmHWM');
  return kb === null ? null : kb / 1024;
}

/** Current resident set size (VmRSS) in MB. */
export function rssMb(pid: number): number | null {
  const kb = statusKb(pid, 'VmRSS');
  return kb === null ? null : kb / 1024;
}

/**
 * CPU of a set of processes over a window, as a share of one core (1.0 = one core busy):
 * (utime + stime after - before) / wall seconds, wall time on the monotonic clock.
 */
export class CpuWindow {
  private readonly start = new Map<string, number>();
  private readonly startMs = performance.now();

  constructor(private readonly pids: Record<string, number>) {
    for (const [name, pid] of Object.entries(pids)) this.start.set(name, cpuSeconds(pid) ?? NaN);
  }

  /** Share of one core per process since the window opened. */
  shares(): Record<string, number> {
    const wallS = (performance.now() - this.startMs) / 1000;
    const out: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      const now = cpuSeconds(pid);
      out[name] = now === null ? NaN : (now - (this.start.get(name) ?? NaN)) / wallS;
    }
    return out;
  }

  get seconds(): number {
    return (performance.now() - this.startMs) / 1000;
  }
}

/** Samples the 1-minute load average every `periodMs`; summary at the end. */
export class LoadSampler {
  private readonly samples: number[] = [loadavg()[0] ?? 0];
  private readonly timer: NodeJS.Timeout;

  constructor(periodMs = 5000) {
    this.timer = setInterval(() => this.samples.push(loadavg()[0] ?? 0), periodMs);
    this.timer.unref();
  }

  stop(): LoadSummary {
    clearInterval(this.timer);
    this.samples.push(loadavg()[0] ?? 0);
    return { min: round(Math.min(...this.samples), 2), max: round(Math.max(...this.samples), 2), median: round(median(this.samples), 2) };
  }
}

export interface LoadSummary {
  min: number;
  max: number;
  median: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Nearest-rank percentile (p in 0..100) of the values; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[Math.min(s.length, rank) - 1] as number;
}

export function round(value: number, decimals = 1): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}

export interface Machine {
  cpu: string;
  cores: number;
  node: string;
  kernel: string;
  mosquitto: string;
}

export function machine(): Machine {
  let out = '';
  try {
    // `mosquitto -h` prints its version on the first line (and exits with 3 on some versions).
    out = execFileSync(findMosquitto(), ['-h'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    out = String((err as { stdout?: unknown }).stdout ?? '');
  }
  const mosquitto = /version ([\d.]+)/.exec(out)?.[1] ?? 'unknown';
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    node: process.version,
    kernel: release(),
    mosquitto,
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
