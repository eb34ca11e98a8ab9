/**
 * The ward board at ward scale (issue 16, "Speed"): 200 simulated gateways at 1 Hz (the ward
 * benchmark's ward-gateways.ts, the agent's own Publisher over MQTT) on one private Mosquitto, one
 * `vigil station serve` process (plain HTTP on loopback, `--insecure-http`), and Debian's headless
 * Chromium (test/support/browser.ts) signed in on the board, with all 200 tiles. Measured over a
 * window after every tile is drawn and 5 s of warm-up:
 *
 * - broker delivery -> DOM: a second MQTT subscriber in this process (QoS 1, like the station)
 *   receives the same observations of two parameters (respRate from two devices, skinTemperature
 *   from one: 600 a second for 200 beds) and stamps their arrival; in the page a MutationObserver
 *   (installed by this benchmark, page.evaluate) stamps every change of those values' text on a tile.
 *   A change is joined to the delivery that made it: the first of the latest run of deliveries of
 *   that bed, parameter and device whose value the board draws as the new text (matchChanges).
 * - the station process's CPU (/proc/<pid>/stat, share of one core) over the window;
 * - the page's main thread: CDP Performance metrics (puppeteer page.metrics()), TaskDuration delta
 *   over the window / the window's length: every task the renderer's main thread ran for the page
 *   (script, style, layout, paint, the observer's own work included).
 *
 * Clocks: both ends are wall-clock-based milliseconds from a monotonic clock. In Node and in the
 * page, `performance.timeOrigin + performance.now()`: the wall time when the process (the page)
 * started plus CLOCK_MONOTONIC since; no step if the wall clock is set meanwhile, same machine. The
 * difference of the two origins' error against Date.now() is checked at the start and the end of the
 * window and reported (clockSkewMs): it is the error of the comparison.
 *
 *   node dist/test/support/bench/ward-board.js [--gateways 200] [--processes 2] [--seconds 60]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { decodeEnvelope } from '../../../agent/src/proto/codec';
import { startBroker } from '../broker';
import { launchBrowser, type Browser, type Page } from '../browser';
import { connectLink } from '../observer';
import { exitOf, VIGIL_CLI } from '../processes';
import { CpuWindow, LoadSampler, machine, percentile, round, sleep, type LoadSummary } from './measure';
import { NEWS_THROTTLE_MS } from '../../../agent/src/station/web/server';
import { figure, fmt, loadText, printFigures, table, writeResult, type BenchResult } from './result';
import { startGenerator, type Generator } from './ward';

export const TARGET_DOM_P99_MS = 250;
export const TARGET_STATION_CPU_PERCENT = 10;
export const TARGET_MAIN_THREAD_PERCENT = 20;
/** The parameters whose delivery -> DOM is measured (ward-gateways.ts: respRate from the monitor and the patch, skinTemperature from the patch). */
export const MEASURED_PARAMETERS = ['respRate', 'skinTemperature'] as const;
const USER = { name: 'bench-nurse', displayName: 'Bench Nurse', password: 'ward board bench password' };

// ---- pure: the join of deliveries and DOM changes -----------------------------------------

/** One observation the bench's subscriber received: `key` = bed|parameter|interface, the text the board draws. */
export interface Delivery {
  key: string;
  text: string;
  wallMs: number;
}

/** One change of a value's text on a tile, as the page's observer stamped it. */
export interface DomChange {
  key: string;
  from: string;
  to: string;
  wallMs: number;
  /** The tile was drawn because it came on screen (it had been marked behind: board.js `tile-behind`). */
  cameOnScreen?: boolean;
}

export interface BoardSample {
  /** Index of the change in the changes given. */
  change: number;
  key: string;
  deliveredWallMs: number;
  latencyMs: number;
}

export interface BoardJoin {
  samples: BoardSample[];
  /** Changes with no delivery of that text before them (e.g. delivered before the recording began). */
  unmatched: number;
  /** Samples with more than one candidate run (latency then a lower bound). */
  ambiguous: number;
}

/** The number as the board draws it (agent/station-web/board.js formatNumber): integers as they are, else at most 2 decimals. */
export function boardText(value: number): string {
  if (!Number.isFinite(value)) return '--';
  return Number.isInteger(value) ? String(value) : String(Number(value.toFixed(2)));
}

/**
 * Joins each DOM change to the delivery behind it: among the deliveries of its key that arrived
 * before the change, the latest whose text is the new one, taken back to the first of its run
 * (a value delivered twice in a row changes the page once, at the first). The page moves forward:
 * the delivery is after the one joined to the key's previous change. When more than one run of the
 * new text arrived between the two, the page may be showing an earlier one (it is more than a
 * second behind, at 1 Hz): the sample is counted `ambiguous`, and its latency is then a lower bound.
 */
export function matchChanges(deliveries: readonly Delivery[], changes: readonly DomChange[]): BoardJoin {
  const byKey = new Map<string, Delivery[]>();
  for (const d of deliveries) {
    let list = byKey.get(d.key);
    if (!list) byKey.set(d.key, (list = []));
    list.push(d);
  }
  for (const list of byKey.values()) list.sort((a, b) => a.wallMs - b.wallMs);
  const previous = new Map<string, number>();
  const samples: BoardSample[] = [];
  let unmatched = 0;
  let ambiguous = 0;
  const order = [...changes.keys()].sort((a, b) => (changes[a] as DomChange).wallMs - (changes[b] as DomChange).wallMs);
  for (const index of order) {
    const c = changes[index] as DomChange;
    const list = byKey.get(c.key) ?? [];
    const after = previous.get(c.key) ?? -Infinity;
    // The first delivery of each run of the new text, after the previous join and before the change.
    const runs: number[] = [];
    for (let j = 0; j < list.length; j += 1) {
      const d = list[j] as Delivery;
      if (d.wallMs > c.wallMs) break;
      if (d.wallMs <= after || d.text !== c.to) continue;
      if (j === 0 || (list[j - 1] as Delivery).text !== c.to || (list[j - 1] as Delivery).wallMs <= after) runs.push(j);
    }
    const i = runs[runs.length - 1];
    if (i === undefined) {
      unmatched += 1;
      continue;
    }
    if (runs.length > 1) ambiguous += 1;
    const d = list[i] as Delivery;
    previous.set(c.key, d.wallMs);
    samples.push({ change: index, key: c.key, deliveredWallMs: d.wallMs, latencyMs: c.wallMs - d.wallMs });
  }
  return { samples, unmatched, ambiguous };
}

export interface LatencyStats {
  n: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function latencyStats(values: readonly number[]): LatencyStats {
  return {
    n: values.length,
    p50Ms: round(percentile(values, 50), 1),
    p99Ms: round(percentile(values, 99), 1),
    maxMs: values.length ? round(Math.max(...values), 1) : NaN,
  };
}

/**
 * The figure is over the tiles on screen: a tile that comes on screen (a bed moving up the board)
 * is drawn then with what arrived while it was off screen, and its changes measure that, not the
 * delivery: they are set apart (`arrivals`). The join itself is made over every change, so that a
 * key's previous change is known whichever kind it was.
 */
export function splitArrivals(all: BoardJoin, changes: readonly DomChange[]): { joined: BoardJoin; arrivals: BoardSample[] } {
  return {
    joined: { ...all, samples: all.samples.filter((s) => changes[s.change]?.cameOnScreen !== true) },
    arrivals: all.samples.filter((s) => changes[s.change]?.cameOnScreen === true),
  };
}

// ---- the processes -----------------------------------------------------------------------

async function addUser(usersFile: string): Promise<void> {
  const child = spawn(process.execPath, [VIGIL_CLI, 'station', 'add-user', '--users', usersFile, '--name', USER.name, '--display-name', USER.displayName], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin!.end(`${USER.password}\n`);
  const code = await exitOf(child);
  if (code !== 0) throw new Error(`vigil station add-user exited ${code}: ${err}`);
}

async function startServe(brokerUrl: string, usersFile: string): Promise<{ process: ChildProcess; url: string; log: string[] }> {
  const child = spawn(
    process.execPath,
    [VIGIL_CLI, 'station', 'serve', '--url', brokerUrl, '--users', usersFile, '--listen', '127.0.0.1:0', '--insecure-http', '--station-id', 'station-board-bench'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const log: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => log.length < 200 && log.push(l));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`vigil station serve printed no URL within 20 s: ${log.join('\n')}`)), 20_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^ward board: (\S+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`vigil station serve exited ${code}: ${log.join('\n')}`));
    });
  });
  return { process: child, url, log };
}

/** Every descendant of `pid` (Chromium's renderer, GPU and utility processes), from /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Field 4 (ppid) is the second after the command name's closing parenthesis.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      /* gone meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** What the main thread's time is split into (CDP Performance.getMetrics, seconds so far). */
const MAIN_THREAD_PARTS = ['TaskDuration', 'ScriptDuration', 'RecalcStyleDuration', 'LayoutDuration'] as const;
type MainThread = Record<(typeof MAIN_THREAD_PARTS)[number], number>;

/** The renderer's main-thread time so far (s), from CDP Performance.getMetrics. */
async function mainThreadSeconds(page: Page): Promise<MainThread> {
  const m = (await page.metrics()) as Record<string, number | undefined>;
  return Object.fromEntries(MAIN_THREAD_PARTS.map((k) => [k, m[k] ?? NaN])) as MainThread;
}

/**
 * Installed in the page: stamps every change of a measured value's text on a tile (and the next
 * animation frame after it: when it can be painted). Runs in the browser; kept small, because its
 * own work counts in the main-thread figure.
 */
function installObserver(parameters: readonly string[]): void {
  interface BenchState {
    on: boolean;
    last: Map<string, string>;
    /** [key, from, to, wall ms, frame wall ms, 1 when the tile was drawn because it came on screen]. */
    changes: Array<[string, string, string, number, number, number]>;
    /** The page's long tasks (over 50 ms) while measuring: [start wall ms, duration ms]. */
    longTasks: Array<[number, number]>;
  }
  const w = window as unknown as { __wardBench: BenchState };
  const state: BenchState = { on: false, last: new Map(), changes: [], longTasks: [] };
  w.__wardBench = state;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (state.on) state.longTasks.push([performance.timeOrigin + e.startTime, e.duration]);
  }).observe({ type: 'longtask' });
  const selector = parameters.map((p) => `[data-testid=value][data-parameter="${p}"][data-current=true]`).join(',');
  const tiles = document.getElementById('tiles') as HTMLElement;
  const wall = (): number => performance.timeOrigin + performance.now();
  const scan = (tile: Element, at: number, pending: number[], cameOnScreen = false): void => {
    const bed = tile.getAttribute('data-bed');
    tile.querySelectorAll(selector).forEach((node) => {
      const key = `${bed}|${node.getAttribute('data-parameter')}|${node.getAttribute('data-source')}`;
      const text = node.querySelector('[data-testid=value-number]')?.textContent ?? '';
      const before = state.last.get(key);
      if (before === text) return;
      state.last.set(key, text);
      if (state.on && before !== undefined) pending.push(state.changes.push([key, before, text, at, NaN, cameOnScreen ? 1 : 0]) - 1);
    });
  };
  let batches = 0;
  new MutationObserver((records) => {
    const at = wall();
    const seen = new Set<Element>();
    // Tiles drawn because they came on screen (the page draws tiles off screen only then: board.js
    // `tile-behind`): their changes are counted apart, they measure scrolling, not delivery.
    const arrived = new Set<Element>();
    for (const r of records) {
      const target = r.target as Element;
      if (r.type === 'attributes') {
        if ((r.oldValue ?? '').includes('tile-behind') && !target.classList.contains('tile-behind')) arrived.add(target);
        continue;
      }
      if (target === tiles) {
        r.addedNodes.forEach((n) => void (n instanceof Element && seen.add(n)));
      } else {
        const tile = target.closest?.('[data-testid=bed-tile]');
        if (tile) seen.add(tile);
      }
    }
    const pending: number[] = [];
    for (const tile of seen) scan(tile, at, pending, arrived.has(tile));
    // "To frame" for one batch of changes in ten: a frame asked for from here, inside the page's own
    // frame callback (where it draws), is one frame more, which the page would not otherwise draw.
    batches += 1;
    if (pending.length > 0 && batches % 10 === 0) {
      requestAnimationFrame(() => {
        const frame = wall();
        for (const i of pending) (state.changes[i] as [string, string, string, number, number, number])[4] = frame;
      });
    }
  }).observe(tiles, { childList: true, subtree: true, characterData: true, attributes: true, attributeFilter: ['class'], attributeOldValue: true });
  tiles.querySelectorAll('[data-testid=bed-tile]').forEach((tile) => scan(tile, wall(), []));
}

/** The clock check: (page's timeOrigin + now) - Date.now() in the page, and the same in this process. */
async function clockSkewMs(page: Page): Promise<number> {
  const pageErr = await page.evaluate(() => performance.timeOrigin + performance.now() - Date.now());
  const nodeErr = performance.timeOrigin + performance.now() - Date.now();
  return round(pageErr - nodeErr, 1);
}

/**
 * Installed before the page's own script (CDP Page.addScriptToEvaluateOnNewDocument): counts the
 * `ward` events the page's EventSource delivers and their size, without a second stream.
 */
function countWardEvents(): void {
  const counts = { events: 0, chars: 0 };
  (window as unknown as { __wardEvents: typeof counts }).__wardEvents = counts;
  const Original = window.EventSource;
  window.EventSource = class extends Original {
    constructor(url: string | URL, init?: EventSourceInit) {
      super(url, init);
      this.addEventListener('ward', (e) => {
        counts.events += 1;
        counts.chars += (e as MessageEvent<string>).data.length;
      });
    }
  };
}

const wardEvents = (page: Page): Promise<{ events: number; chars: number }> =>
  page.evaluate(() => ({ ...(window as unknown as { __wardEvents: { events: number; chars: number } }).__wardEvents }));

export interface BoardRun {
  gateways: number;
  windowS: number;
  load: LoadSummary;
  latency: LatencyStats;
  /** Delivery -> the first animation frame after the DOM change (when it can be on screen). */
  toFrame: LatencyStats;
  unmatched: number;
  ambiguous: number;
  deliveries: number;
  cpuShare: Record<string, number>;
  mainThreadBusy: number;
  /** Shares of the window the main thread spent in script (the page's and the observer's), style recalculation, layout; the rest of TaskDuration is parsing, paint and other tasks. */
  mainThreadParts: { script: number; style: number; layout: number };
  /** The bench process's own event-loop delay (its subscriber's stamps wait behind it): p99 and max ms. */
  benchLoop: { p99Ms: number; maxMs: number };
  clockSkewMs: number[];
  /** The `ward` events the page received in the window: how many, their mean size (characters of data), per second. */
  stream: { events: number; meanBytes: number; perSecond: number };
  tiles: number;
  /** The slowest samples: when in the window (s) and which value. */
  worst: Array<{ atS: number; key: string; latencyMs: number }>;
  /** Tiles on screen at the end of the window (1920 x 1080). */
  tilesOnScreen: number;
  /** Changes of tiles drawn because they came on screen (not part of the figure): since the delivery they showed. */
  arrivals: LatencyStats;
  /** The page's long tasks (over 50 ms) in the window: how many, and the longest five (when in the window, s). */
  longTasks: { count: number; longest: Array<{ atS: number; ms: number }> };
  /** Errors the page threw (none expected: a board that throws is measured wrong). */
  pageErrors: string[];
}

export async function runBoardOnce(gateways: number, processes: number, windowS: number, log: (s: string) => void): Promise<BoardRun> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-board-bench-'));
  const broker = await startBroker();
  const generators: Generator[] = [];
  let serve: Awaited<ReturnType<typeof startServe>> | null = null;
  let browser: Browser | null = null;
  const sub = await connectLink(broker.url, { clientId: `board-bench-${process.pid}` });
  try {
    const usersFile = join(dir, 'users.json');
    await addUser(usersFile);
    serve = await startServe(broker.url, usersFile);
    const deliveries: Delivery[] = [];
    let recording = false;
    sub.on('message', (topic: string, payload: Uint8Array) => {
      const at = performance.timeOrigin + performance.now();
      if (!recording) return;
      // vigil/v1/<site>/<ward>/<bed>/obs/<parameter>
      const parts = topic.split('/');
      const obs = decodeEnvelope(payload).observation;
      if (!obs || !obs.hasValue) return;
      deliveries.push({ key: `${parts[2]}/${parts[3]}/${parts[4]}|${obs.parameter}|${obs.source?.interfaceId ?? ''}`, text: boardText(obs.value), wallMs: at });
    });
    for (const p of MEASURED_PARAMETERS) await sub.subscribe(`vigil/v1/+/+/+/obs/${p}`, 1);
    const per = Math.ceil(gateways / processes);
    for (let first = 0; first < gateways; first += per) generators.push(await startGenerator(broker.url, first, Math.min(per, gateways - first)));
    log(`  ${gateways} gateways connected; the board in Chromium`);
    browser = await launchBrowser();
    const page = await browser.newPage();
    await page.setViewport({ width: 1920, height: 1080 });
    page.setDefaultTimeout(60_000);
    await page.evaluateOnNewDocument(countWardEvents);
    // An error in the page is reported: a board that throws is measured wrong, never silently.
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => {
      if (pageErrors.length < 20) pageErrors.push(String((err as Error).message ?? err));
      if (pageErrors.length === 1) log(`  page error: ${String((err as Error).message ?? err)}`);
    });
    await page.goto(serve.url, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#login-name', { visible: true });
    await page.type('#login-name', USER.name);
    await page.type('#login-password', USER.password);
    await page.click('#login-submit');
    await page.waitForSelector('[data-testid=station-link][data-state=live]');
    await page.waitForFunction((n: number) => document.querySelectorAll('[data-testid=bed-tile]').length >= n, { timeout: 60_000 }, gateways);
    await page.evaluate(installObserver, [...MEASURED_PARAMETERS]);
    await sleep(5000);
    const pids: Record<string, number> = { station: serve.process.pid as number, mosquitto: broker.process.pid as number };
    generators.forEach((g, i) => (pids[`generator ${i + 1}`] = g.process.pid as number));
    const chromium = browser.process()?.pid;
    const chromiumPids = chromium ? [chromium, ...descendants(chromium)] : [];
    chromiumPids.forEach((pid, i) => (pids[`chromium ${i}`] = pid));
    const skew = [await clockSkewMs(page)];
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const load = new LoadSampler();
    recording = true;
    await page.evaluate(() => void ((window as unknown as { __wardBench: { on: boolean } }).__wardBench.on = true));
    const t0 = performance.timeOrigin + performance.now();
    const main0 = await mainThreadSeconds(page);
    const events0 = await wardEvents(page);
    const cpu = new CpuWindow(pids);
    log(`  measuring ${windowS} s`);
    // VIGIL_BENCH_PAGE_PROFILE=FILE: the page's JavaScript profiled over the window (a .cpuprofile for DevTools), to find where its time goes.
    const profileFile = process.env.VIGIL_BENCH_PAGE_PROFILE;
    const cdp = profileFile ? await page.createCDPSession() : undefined;
    if (cdp) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.start');
    }
    // VIGIL_BENCH_PAGE_TRACE=FILE: a Chrome trace (devtools.timeline) of the first 5 s of the window, to see the page's rendering work.
    const traceFile = process.env.VIGIL_BENCH_PAGE_TRACE;
    if (traceFile) {
      await page.tracing.start({ path: traceFile, categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline'] });
      await sleep(5000);
      await page.tracing.stop();
      await sleep(Math.max(0, windowS * 1000 - 5000));
    } else await sleep(windowS * 1000);
    if (cdp && profileFile) {
      const { profile } = await cdp.send('Profiler.stop');
      writeFileSync(profileFile, JSON.stringify(profile));
    }
    const main1 = await mainThreadSeconds(page);
    const events1 = await wardEvents(page);
    const shares = cpu.shares();
    const measuredS = cpu.seconds;
    const t1 = performance.timeOrigin + performance.now();
    await page.evaluate(() => void ((window as unknown as { __wardBench: { on: boolean } }).__wardBench.on = false));
    recording = false;
    const loadSummary = load.stop();
    loop.disable();
    skew.push(await clockSkewMs(page));
    const raw = await page.evaluate(() => (window as unknown as { __wardBench: { changes: Array<[string, string, string, number, number, number]> } }).__wardBench.changes);
    const longTasks = await page.evaluate(() => (window as unknown as { __wardBench: { longTasks: Array<[number, number]> } }).__wardBench.longTasks);
    const tiles = await page.evaluate(() => document.querySelectorAll('[data-testid=bed-tile]').length);
    const tilesOnScreen = await page.evaluate(() => Array.from(document.querySelectorAll('[data-testid=bed-tile]')).filter((e) => {
      const r = e.getBoundingClientRect();
      return r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth;
    }).length);
    const streamEvents = events1.events - events0.events;
    const stream = { events: streamEvents, meanBytes: streamEvents > 0 ? (events1.chars - events0.chars) / streamEvents : NaN, perSecond: streamEvents / ((t1 - t0) / 1000) };
    const changes = raw.filter((c) => c[3] >= t0 && c[3] <= t1).map((c) => ({ key: c[0], from: c[1], to: c[2], wallMs: c[3], frameWallMs: c[4], cameOnScreen: c[5] === 1 }));
    const { joined, arrivals } = splitArrivals(matchChanges(deliveries, changes), changes);
    // Delivery -> the frame after the change (when it can be painted), for the same joined samples.
    const toFrame = joined.samples.map((s) => (changes[s.change]?.frameWallMs ?? NaN) - s.deliveredWallMs).filter(Number.isFinite);
    const lat = joined.samples.map((s) => s.latencyMs);
    const worst = [...joined.samples]
      .sort((a, b) => b.latencyMs - a.latencyMs)
      .slice(0, 5)
      .map((s) => ({ atS: round((s.deliveredWallMs - t0) / 1000, 1), key: s.key, latencyMs: round(s.latencyMs, 1) }));
    return {
      gateways,
      windowS: round(measuredS, 1),
      load: loadSummary,
      latency: latencyStats(lat),
      toFrame: latencyStats(toFrame),
      arrivals: latencyStats(arrivals.map((s) => s.latencyMs)),
      unmatched: joined.unmatched,
      ambiguous: joined.ambiguous,
      deliveries: deliveries.filter((d) => d.wallMs >= t0 && d.wallMs <= t1).length,
      cpuShare: {
        ...Object.fromEntries(Object.entries(shares).filter(([k]) => !k.startsWith('chromium ')).map(([k, v]) => [k, round(v, 4)])),
        chromium: round(Object.entries(shares).reduce((n, [k, v]) => (k.startsWith('chromium ') && Number.isFinite(v) ? n + v : n), 0), 4),
        generators: round(Object.entries(shares).reduce((n, [k, v]) => (k.startsWith('generator') ? n + v : n), 0), 4),
      },
      mainThreadBusy: round((main1.TaskDuration - main0.TaskDuration) / ((t1 - t0) / 1000), 4),
      mainThreadParts: {
        script: round((main1.ScriptDuration - main0.ScriptDuration) / ((t1 - t0) / 1000), 4),
        style: round((main1.RecalcStyleDuration - main0.RecalcStyleDuration) / ((t1 - t0) / 1000), 4),
        layout: round((main1.LayoutDuration - main0.LayoutDuration) / ((t1 - t0) / 1000), 4),
      },
      benchLoop: { p99Ms: round(loop.percentile(99) / 1e6, 1), maxMs: round(loop.max / 1e6, 1) },
      clockSkewMs: skew,
      stream: { events: stream.events, meanBytes: round(stream.meanBytes, 0), perSecond: round(stream.perSecond, 2) },
      tiles,
      tilesOnScreen,
      worst,
      longTasks: {
        count: longTasks.filter(([at]) => at >= t0 && at <= t1).length,
        longest: longTasks
          .filter(([at]) => at >= t0 && at <= t1)
          .sort((a, b) => b[1] - a[1])
          .slice(0, 5)
          .map(([at, ms]) => ({ atS: round((at - t0) / 1000, 1), ms: round(ms, 0) })),
      },
      pageErrors,
    };
  } finally {
    if (browser) await browser.close().catch(() => undefined);
    for (const g of generators) g.process.kill('SIGTERM');
    await Promise.all(generators.map((g) => exitOf(g.process).catch(() => undefined)));
    if (serve) {
      serve.process.kill('SIGTERM');
      await exitOf(serve.process).catch(() => undefined);
    }
    await sub.end(true).catch(() => undefined);
    await broker.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What this run's own figures say about where the time goes (no verdict that the run did not measure). */
export function whereTimeGoes(r: BoardRun): string[] {
  const out: string[] = [];
  const mbPerS = (r.stream.meanBytes * r.stream.perSecond) / 1e6;
  out.push(
    `Where the time goes in this run: a \`ward\` event carries, per bed that changed since the last one, only the changed parts`,
    `(the values that arrived, the score, the alarms; the whole ward at connect, and a few beds whole in each event so that every bed is sent whole within 10 s): ${fmt(r.stream.meanBytes / 1024, 0)} KiB on average for ${r.tiles} beds`,
    `(about ${fmt(mbPerS, 1)} MB/s of JSON, the values' own volume at ${r.gateways} beds at 1 Hz). The station keeps what each bed last reported and`,
    `looks at what time alone changes (a value or score no longer current, a gateway lost), not the whole ward, at each event. The page merges`,
    `the event, draws at the next frame, writes a value's new number and age in place, and ages only the tiles on screen. Its main thread`,
    `spent ${fmt(r.mainThreadParts.script * 100, 0)} % of the window in script, ${fmt(r.mainThreadParts.style * 100, 0)} % in style and ${fmt(r.mainThreadParts.layout * 100, 0)} % in layout; the rest is paint, compositing and garbage collection.`,
  );
  if (r.latency.p50Ms > 2 * NEWS_THROTTLE_MS) {
    out.push(
      `The median delivery -> DOM (${fmt(r.latency.p50Ms, 0)} ms) is more than twice the station's ${NEWS_THROTTLE_MS} ms throttle: the events wait, in the`,
      `stream (a browser whose last event has not drained gets the changes merged into one event once it has) and in the page, which took ${fmt(r.stream.perSecond, 1)} a second;`,
      `with a 1-minute load average of ${loadText(r.load)} on ${machine().cores} cores the station and the renderer also wait for a core.`,
      `${r.ambiguous} of the ${r.latency.n} joins had more than one candidate (the page more than a second behind): the tail is a lower bound.`,
    );
  }
  return out;
}

export async function runWardBoard(o: { gateways: number; processes: number; seconds: number; log?: (s: string) => void }): Promise<BenchResult> {
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const started = Date.now();
  log(`ward-board: ${o.gateways} beds, ${o.seconds} s`);
  const r = await runBoardOnce(o.gateways, o.processes, o.seconds, log);
  const pc = (v: number | undefined): number => (v ?? NaN) * 100;
  const figures = [
    figure(`Ward board (${o.gateways} beds at 1 Hz): broker delivery -> DOM p50`, r.latency.p50Ms, 'ms', r.load, undefined, 0),
    figure(`Ward board (${o.gateways} beds at 1 Hz): broker delivery -> DOM p99`, r.latency.p99Ms, 'ms', r.load, { op: '<=', value: TARGET_DOM_P99_MS }, 0),
    figure('Ward board: station process CPU (share of one core)', pc(r.cpuShare.station), '%', r.load, { op: '<=', value: TARGET_STATION_CPU_PERCENT }, 1),
    figure('Ward board: page main thread busy (headless Chromium)', pc(r.mainThreadBusy), '%', r.load, { op: '<=', value: TARGET_MAIN_THREAD_PERCENT }, 1),
  ];
  const markdown = [
    `${o.gateways} simulated gateways (\`test/support/bench/ward-gateways.ts\`, ${o.processes} processes: 13 observations, 3 scores a second`,
    'each, heartbeats and a technical alarm every 30 s, as in the ward benchmark) on one private Mosquitto (plain MQTT), one',
    '`vigil station serve` (`--insecure-http` on loopback) and Debian\'s Chromium, headless, 1920 x 1080, signed in on the board',
    `with all ${o.gateways} tiles. After 5 s of warm-up, a ${o.seconds} s window:`,
    '',
    '- **Broker delivery -> DOM**: a second subscriber in the benchmark process (QoS 1, like the station) receives the',
    `  same observations of ${MEASURED_PARAMETERS.join(' and ')} (respRate from the monitor and the patch, skin temperature from the patch:`,
    `  ${3 * o.gateways} a second) and stamps their arrival; a MutationObserver the benchmark installs in the page stamps each change of`,
    '  those values\' text on a tile; each change is joined to the delivery that made it (the first of the latest run of',
    '  deliveries of that bed, parameter and device with the new text). Both stamps are `performance.timeOrigin +',
    '  performance.now()` (wall-clock origin, monotonic since) on this machine; the two origins agree with `Date.now()`',
    `  to within ${r.clockSkewMs.map((s) => fmt(Math.abs(s), 1)).join(' and ')} ms at the start and the end. "To frame": to the first animation frame after the change (for one batch of changes in ten: asking for a frame costs the page a frame).`,
    '  The page draws a tile off screen only when it comes on screen (board.js: until then it is marked behind, its values',
    `  greyed), so the figure is over the tiles on screen (${r.tilesOnScreen ?? '?'} of ${r.tiles} at 1920 x 1080); a tile drawn because it came on screen (a bed moving`,
    `  up the board) is counted apart: ${r.arrivals.n} such changes, p50 ${fmt(r.arrivals.p50Ms, 0)} ms after the delivery they showed.`,
    '- **Station CPU**: the `vigil station serve` process, `/proc/<pid>/stat` utime + stime over the window, share of one core.',
    '- **Main thread busy**: CDP `Performance.getMetrics` `TaskDuration` (puppeteer `page.metrics()`) over the window / its',
    '  length: every task of the page\'s main thread (parsing the events, drawing the tiles, style, layout, paint; the',
    '  observer\'s own work is included).',
    '',
    table(
      ['load avg', 'window s', 'delivery -> DOM p50 / p99 / max ms', 'n', 'to frame p50 / p99 ms', 'unmatched / ambiguous', 'station CPU %', 'main thread %', 'of which script / style / layout %', 'Chromium CPU % (all)', 'broker CPU %', 'generators CPU %'],
      [[
        loadText(r.load),
        fmt(r.windowS, 0),
        `${fmt(r.latency.p50Ms, 0)} / ${fmt(r.latency.p99Ms, 0)} / ${fmt(r.latency.maxMs, 0)}`,
        String(r.latency.n),
        `${fmt(r.toFrame.p50Ms, 0)} / ${fmt(r.toFrame.p99Ms, 0)}`,
        `${r.unmatched} / ${r.ambiguous}`,
        fmt(pc(r.cpuShare.station), 1),
        fmt(pc(r.mainThreadBusy), 1),
        `${fmt(pc(r.mainThreadParts.script), 1)} / ${fmt(pc(r.mainThreadParts.style), 1)} / ${fmt(pc(r.mainThreadParts.layout), 1)}`,
        fmt(pc(r.cpuShare.chromium), 1),
        fmt(pc(r.cpuShare.mosquitto), 1),
        fmt(pc(r.cpuShare.generators), 1),
      ]],
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    `The station's \`ward\` events the page received in the window: ${fmt(r.stream.perSecond, 1)} a second (${r.stream.events}),`,
    `${fmt(r.stream.meanBytes / 1024, 0)} KiB each on average (what changed, and a few beds whole; the whole ward only at connect). The benchmark process's own event-loop delay (its`,
    `subscriber's stamps wait behind it): p99 ${fmt(r.benchLoop.p99Ms, 1)} ms, max ${fmt(r.benchLoop.maxMs, 1)} ms.`,
    '',
    ...whereTimeGoes(r),
  ].join('\n');
  return {
    name: 'ward-board',
    title: `The ward board in a browser (${o.gateways} beds at 1 Hz)`,
    measuredAt: new Date(started).toISOString(),
    machine: machine(),
    command: `node dist/test/support/bench/ward-board.js --gateways ${o.gateways} --processes ${o.processes} --seconds ${o.seconds}`,
    seconds: round((Date.now() - started) / 1000, 0),
    figures,
    markdown,
    details: r,
  };
}

if (require.main === module) {
  const { values } = parseArgs({
    options: { gateways: { type: 'string', default: '200' }, processes: { type: 'string', default: '2' }, seconds: { type: 'string', default: '60' } },
  });
  const gateways = Number(values.gateways);
  const processes = Number(values.processes);
  const seconds = Number(values.seconds);
  if (!Number.isInteger(gateways) || gateways < 1 || !Number.isInteger(processes) || processes < 1 || !(seconds >= 5)) {
    process.stderr.write('usage: ward-board [--gateways 200] [--processes 2] [--seconds S>=5]\n');
    process.exit(2);
  }
  runWardBoard({ gateways, processes, seconds }).then(
    (result) => {
      writeResult(result);
      printFigures(result);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`ward-board: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
