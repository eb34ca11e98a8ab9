/**
 * The 4-hour history of each bed for the bed page (docs/interfaces/station-web.md, GET /api/trends):
 * one point per 5 s per parameter and for the NEWS2 total, and the alarm log. Pure and bounded:
 * sampled from the station model's views (only values the model shows as current: a value that
 * is stale, withdrawn or backfilled leaves a gap, never a point), and told of each alarm change.
 *
 * Memory: per bed at most MAX_SERIES_PER_BED series of WINDOW_MS / STEP_MS points, and
 * ALARM_LOG_LIMIT log entries; everything older than the window is dropped as time passes.
 */
import type { BedView } from '../station';

/** The window the bed page plots (issue 16: the last 4 hours). */
export const WINDOW_MS = 4 * 3600_000;
/** One point per series per step. */
export const STEP_MS = 5000;
/** Series kept per bed (vitals from every source, plus spare); a bed with more keeps the first ones. */
export const MAX_SERIES_PER_BED = 48;
/** Alarm log entries kept per bed, newest last. */
export const ALARM_LOG_LIMIT = 1000;

export type Point = [wallMs: number, value: number];

export interface AlarmLogEntry {
  wallMs: number;
  alarmId: string;
  /** `active`, `acknowledged`, `silenced`, `cleared` (station.ts alarm states, lower case). */
  state: string;
  priority: string;
  detail: string;
  /** Who acknowledged or silenced it (the command's user), else empty. */
  by: string;
}

export interface BedTrends {
  bed: string;
  fromWallMs: number;
  toWallMs: number;
  series: Record<string, Point[]>;
  news2: Point[];
  alarmLog: AlarmLogEntry[];
}

interface BedHistory {
  series: Map<string, Point[]>;
  news2: Point[];
  alarmLog: AlarmLogEntry[];
  /** The last state logged per alarm id: a re-announcement of the same state is not a change. */
  lastLogged: Map<string, string>;
}

/** The series name of a value: its parameter, with `@source` when the bed has it from more than one source. */
export function seriesName(v: { parameter: string; source: string }): string {
  return v.source ? `${v.parameter}@${v.source}` : v.parameter;
}

export class TrendBook {
  private readonly beds = new Map<string, BedHistory>();

  /** Records the current values and NEWS2 totals of `views` at station wall time `wallMs` (call often; one point per step is kept). */
  sample(views: readonly BedView[], wallMs: number): void {
    for (const v of views) {
      const h = this.history(v.bed);
      for (const value of v.values) {
        if (!value.current || value.value === null || !Number.isFinite(value.value)) continue;
        const name = seriesName(value);
        let points = h.series.get(name);
        if (!points) {
          if (h.series.size >= MAX_SERIES_PER_BED) continue;
          points = [];
          h.series.set(name, points);
        }
        addPoint(points, wallMs, value.value);
      }
      if (v.score?.current) addPoint(h.news2, wallMs, v.score.total);
      this.prune(h, wallMs);
    }
  }

  /** An alarm change of `bed` (live or late), at its own change time `wallMs`; repeats of a state are not logged again. */
  noteAlarm(bed: string, change: AlarmLogEntry): void {
    const h = this.history(bed);
    const key = `${change.state}|${change.by}`;
    if (h.lastLogged.get(change.alarmId) === key) return;
    h.lastLogged.set(change.alarmId, key);
    if (change.state === 'cleared') h.lastLogged.delete(change.alarmId);
    h.alarmLog.push({ ...change });
    h.alarmLog.sort((a, b) => a.wallMs - b.wallMs);
    if (h.alarmLog.length > ALARM_LOG_LIMIT) h.alarmLog.splice(0, h.alarmLog.length - ALARM_LOG_LIMIT);
  }

  /** The last WINDOW_MS of `bed` at station wall time `wallMs`, or null for a bed never heard of. */
  trends(bed: string, wallMs: number): BedTrends | null {
    const h = this.beds.get(bed);
    if (!h) return null;
    const from = wallMs - WINDOW_MS;
    const within = (p: Point): boolean => p[0] >= from && p[0] <= wallMs;
    const series: Record<string, Point[]> = {};
    for (const [name, points] of [...h.series].sort(([a], [b]) => a.localeCompare(b))) series[name] = points.filter(within);
    return {
      bed,
      fromWallMs: from,
      toWallMs: wallMs,
      series,
      news2: h.news2.filter(within),
      alarmLog: h.alarmLog.filter((e) => e.wallMs >= from),
    };
  }

  /** Points kept in all (a measure of memory, for tests and the log). */
  get points(): number {
    let n = 0;
    for (const h of this.beds.values()) n += h.news2.length + [...h.series.values()].reduce((m, p) => m + p.length, 0);
    return n;
  }

  private history(bed: string): BedHistory {
    let h = this.beds.get(bed);
    if (!h) {
      h = { series: new Map(), news2: [], alarmLog: [], lastLogged: new Map() };
      this.beds.set(bed, h);
    }
    return h;
  }

  private prune(h: BedHistory, wallMs: number): void {
    const from = wallMs - WINDOW_MS;
    for (const [name, points] of h.series) {
      dropBefore(points, from);
      if (points.length === 0) h.series.delete(name);
    }
    dropBefore(h.news2, from);
    const stale = h.alarmLog.findIndex((e) => e.wallMs >= from);
    if (stale !== 0) h.alarmLog.splice(0, stale < 0 ? h.alarmLog.length : stale);
  }
}

/** Adds a point in the step of `wallMs`: a later sample in the same step replaces it (the newest value of the step). */
function addPoint(points: Point[], wallMs: number, value: number): void {
  const stepStart = Math.floor(wallMs / STEP_MS) * STEP_MS;
  const last = points.at(-1);
  if (last && last[0] >= stepStart) {
    if (wallMs >= last[0]) points[points.length - 1] = [wallMs, value];
    return;
  }
  points.push([wallMs, value]);
  // The window holds WINDOW_MS / STEP_MS steps: a wall clock stepped back cannot grow a series past it.
  if (points.length > WINDOW_MS / STEP_MS + 1) points.shift();
}

/** Drops the points older than `fromWallMs` (points are in time order). */
function dropBefore(points: Point[], fromWallMs: number): void {
  let i = 0;
  while (i < points.length && (points[i] as Point)[0] < fromWallMs) i += 1;
  if (i > 0) points.splice(0, i);
}
