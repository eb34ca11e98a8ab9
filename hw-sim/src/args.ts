/**
 * Command-line arguments of hw-sim, parsed once into a typed configuration. Pure: returns every
 * problem as a message instead of exiting, so that it is unit-tested.
 */
import type { MasimoDeviceTime } from './devices/masimo-ascii';
import { splitOptions } from './options';
import { DEVICE_NAME, INJECT_KINDS, isInjectKind, type Injection } from './devices/masimo-ascii';
import { QUIET_BEFORE_HANGUP_MS } from './pty';
import { DEFAULT_ALARM_LIMITS, SCENARIO_NAMES, isScenarioName, type AlarmLimits, type ScenarioName } from './scenarios';

export interface SimConfig {
  device: typeof DEVICE_NAME;
  scenario: ScenarioName;
  seed: number;
  periodMs: number;
  link: string | null;
  /** null: run until SIGINT/SIGTERM. */
  frames: number | null;
  exitAfterFrames: boolean;
  injections: Injection[];
  /** null: the host's local time at start. */
  startTime: MasimoDeviceTime | null;
  includeSerial: boolean;
  /** The serial number sent (SN=); null: the simulator's default. A different one is "a different device". */
  serialNumber: string | null;
  includePvi: boolean;
  /** The device's alarm limits (ALARM bits). */
  alarmLimits: AlarmLimits;
  /** Quiet time on the line before the hang-up at shutdown (see Pty.close). */
  unplugQuietMs: number;
}

export type ParseResult = { ok: true; config: SimConfig } | { ok: false; help: true } | { ok: false; help: false; message: string };

export const USAGE = `usage: hw-sim masimo-ascii [options]

Creates a pseudo-terminal that behaves as a Masimo pulse oximeter (ASCII 1 output), prints its
path as the first line on stdout (then "link <path>" if --link), and writes one line per period.
Each frame written is reported as one JSON line on stderr (the ground truth), and each change of
the ALARM field as an "alarm-bits" line (bits raised and ended, the time the line left: wall and
CLOCK_MONOTONIC).

options:
  --scenario <name>        ${SCENARIO_NAMES.join(' | ')} (default stable)
  --seed <int>             seed of all randomness (default 1)
  --period-ms <int>        wall time between frames; 1000 = real time (default 1000)
  --link <path>            also create a symbolic link to the pty at <path>
  --frames <int>           stop sending after this many frames (the pty stays open)
  --exit-after-frames      with --frames: close the pty and exit once they are sent
  --inject <kind>@<index>[,...]  fault at frame <index> (0-based); kinds: ${INJECT_KINDS.join(', ')}
  --start-time <YYYY-MM-DDTHH:MM:SS>  device clock at frame 0 (default: local time now)
  --no-serial              omit SN= (models without it)
  --serial <digits>        the serial number sent as SN= (another value: a different device)
  --pvi                    add PVI= (models with it)
  --spo2-low-limit <int>   SpO2 low alarm limit, % (default ${DEFAULT_ALARM_LIMITS.spo2LowPercent}; ALARM 0x0002 below it)
  --spo2-high-limit <int>  SpO2 high alarm limit, % (default ${DEFAULT_ALARM_LIMITS.spo2HighPercent} = off; 0x0001 above it)
  --pulse-low-limit <int>  pulse rate low alarm limit, /min (default ${DEFAULT_ALARM_LIMITS.pulseLowBpm}; 0x0008 below it)
  --pulse-high-limit <int> pulse rate high alarm limit, /min (default ${DEFAULT_ALARM_LIMITS.pulseHighBpm}; 0x0004 above it)
  --unplug-quiet-ms <int>  at shutdown, hang up only after this long without a write
                           (default ${QUIET_BEFORE_HANGUP_MS}; 0 = at once, even mid-line)
  -h, --help               this text
`;

const INTEGER = /^-?\d+$/;
const START_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/;
const MAX_PERIOD_MS = 3_600_000;
const VALUE_OPTIONS = new Set([
  '--scenario', '--seed', '--period-ms', '--link', '--frames', '--inject', '--start-time', '--unplug-quiet-ms', '--serial',
  '--spo2-low-limit', '--spo2-high-limit', '--pulse-low-limit', '--pulse-high-limit',
]);
const MAX_UNPLUG_QUIET_MS = 10_000;
const FLAG_OPTIONS = new Set(['--exit-after-frames', '--no-serial', '--pvi']);

function fail(message: string): ParseResult {
  return { ok: false, help: false, message: `hw-sim: ${message}` };
}

function parseInteger(text: string): number | null {
  if (!INTEGER.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

export function parseStartTime(text: string): MasimoDeviceTime | null {
  const m = START_TIME.exec(text);
  if (m === null) return null;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  // Round-trip through Date.UTC to reject 2026-02-30 and friends (calendar check only).
  const d = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  const valid =
    d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day &&
    d.getUTCHours() === hour && d.getUTCMinutes() === minute && d.getUTCSeconds() === second;
  // The device line carries a two-digit year, read as 2000 + yy.
  if (!valid || year < 2000 || year > 2099) return null;
  return { year, month, day, hour, minute, second };
}

function parseInjections(text: string): Injection[] | string {
  const injections: Injection[] = [];
  const seen = new Set<number>();
  for (const item of text.split(',')) {
    const at = item.lastIndexOf('@');
    const kind = item.slice(0, at);
    const index = parseInteger(item.slice(at + 1));
    if (at < 0 || !isInjectKind(kind)) return `--inject kind must be one of ${INJECT_KINDS.join(', ')} (as <kind>@<index>)`;
    if (index === null || index < 0) return '--inject index must be a non-negative integer';
    if (seen.has(index)) return '--inject gives the same frame index twice';
    seen.add(index);
    injections.push({ kind, frameIndex: index });
  }
  return injections;
}

export function parseArgs(argv: readonly string[]): ParseResult {
  const split = splitOptions(argv, FLAG_OPTIONS, VALUE_OPTIONS);
  if (!split.ok) return split.help ? { ok: false, help: true } : fail(split.message);
  const { values, flags, positionals } = split;

  if (positionals.length === 0) return fail(`missing device (expected: ${DEVICE_NAME})`);
  if (positionals.length > 1 || positionals[0] !== DEVICE_NAME) return fail(`unknown device (expected: ${DEVICE_NAME})`);

  const scenario = values.get('--scenario') ?? 'stable';
  if (!isScenarioName(scenario)) return fail(`--scenario must be one of ${SCENARIO_NAMES.join(', ')}`);

  const seed = parseInteger(values.get('--seed') ?? '1');
  if (seed === null) return fail('--seed must be an integer');

  const periodMs = parseInteger(values.get('--period-ms') ?? '1000');
  if (periodMs === null || periodMs < 1 || periodMs > MAX_PERIOD_MS) {
    return fail(`--period-ms must be an integer from 1 to ${MAX_PERIOD_MS}`);
  }

  let frames: number | null = null;
  const framesText = values.get('--frames');
  if (framesText !== undefined) {
    frames = parseInteger(framesText);
    if (frames === null || frames < 0) return fail('--frames must be a non-negative integer');
  }
  const exitAfterFrames = flags.has('--exit-after-frames');
  if (exitAfterFrames && frames === null) return fail('--exit-after-frames needs --frames');

  let injections: Injection[] = [];
  const injectText = values.get('--inject');
  if (injectText !== undefined) {
    const parsed = parseInjections(injectText);
    if (typeof parsed === 'string') return fail(parsed);
    injections = parsed;
  }

  let startTime: MasimoDeviceTime | null = null;
  const startText = values.get('--start-time');
  if (startText !== undefined) {
    startTime = parseStartTime(startText);
    if (startTime === null) return fail('--start-time must be a valid YYYY-MM-DDTHH:MM:SS in years 2000..2099');
  }

  const unplugQuietMs = parseInteger(values.get('--unplug-quiet-ms') ?? String(QUIET_BEFORE_HANGUP_MS));
  if (unplugQuietMs === null || unplugQuietMs < 0 || unplugQuietMs > MAX_UNPLUG_QUIET_MS) {
    return fail(`--unplug-quiet-ms must be an integer from 0 to ${MAX_UNPLUG_QUIET_MS}`);
  }

  const link = values.get('--link') ?? null;
  if (link !== null && link.length === 0) return fail('--link must be a path');

  const limits: Array<[string, keyof AlarmLimits, number]> = [
    ['--spo2-low-limit', 'spo2LowPercent', 100], ['--spo2-high-limit', 'spo2HighPercent', 100],
    ['--pulse-low-limit', 'pulseLowBpm', 240], ['--pulse-high-limit', 'pulseHighBpm', 240],
  ];
  const alarmLimits: AlarmLimits = { ...DEFAULT_ALARM_LIMITS };
  for (const [option, field, max] of limits) {
    const text = values.get(option);
    if (text === undefined) continue;
    const value = parseInteger(text);
    // The line's ranges (docs/interfaces/masimo-ascii.md: SPO2 0-100, BPM 0-240).
    if (value === null || value < 0 || value > max) return fail(`${option} must be an integer from 0 to ${max}`);
    alarmLimits[field] = value;
  }

  const serial = values.get('--serial');
  if (serial !== undefined && !/^[0-9]{1,10}$/.test(serial)) return fail('--serial must be 1 to 10 digits');
  return {
    ok: true,
    config: {
      device: DEVICE_NAME,
      scenario,
      seed,
      periodMs,
      link,
      frames,
      exitAfterFrames,
      injections,
      startTime,
      includeSerial: !flags.has('--no-serial'),
      serialNumber: values.get('--serial') ?? null,
      includePvi: flags.has('--pvi'),
      alarmLimits,
      unplugQuietMs,
    },
  };
}
