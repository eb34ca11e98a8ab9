/**
 * `hw-sim vigil-patch`: plays the Vigil sensor patch on a real pseudo-terminal, byte for byte
 * as docs/interfaces/vigil-patch.md specifies (the device side is hw-sim/src/devices/vigil-patch.ts).
 *
 *   hw-sim vigil-patch [--scenario stable] [--seed 1] [--link /tmp/vigil-patch] [--serial 00C0FFEE]
 *                      [--inject kind@seconds[:duration],...] [--seconds N [--exit-after]]
 *                      [--replay mitdb:<record> | bidmc:<dir>/bidmc_NN] [--auto-start]
 *
 * Device time starts when the agent first opens the port; a block of 200 ms is written every
 * 200 ms of wall time (drift-free), the STATUS frame closing each second, streaming or not.
 * What the agent writes (START, keep-alive, ...) is answered at once.
 * stdout: line 1 is the pty path (for `head -1`), line 2 `link <path>` when --link is given.
 * stderr: one JSON object per line: `start`, `port-opened`, `port-closed`, `command` (each host
 *         command and the answer), `frame` (one per device second: the ground truth, i.e. the
 *         heart rate, SpO2, respiration rate the signals were made with), `inject`, `unplugged`.
 * exit:   0 after SIGINT/SIGTERM or --exit-after; 1 when socat fails; 2 for bad arguments.
 */
import { splitOptions } from './options';
import { isSerial } from './wire/vigil-patch';
import {
  BLOCK_MS,
  DEVICE_NAME,
  isPatchInjectKind,
  PATCH_INJECT_KINDS,
  SIMULATED_PATCH_SERIAL,
  VigilPatchDevice,
  type PatchInjection,
  type SignalSource,
} from './devices/vigil-patch';
import { runDeviceCommand } from './command';
import { openPty, QUIET_BEFORE_HANGUP_MS, type OpenPtyOptions, type Pty } from './pty';
import { openReplay, type ReplaySpec } from './replay';
import { isScenarioName, SCENARIO_NAMES, type ScenarioName } from './scenarios';

export interface PatchSimConfig {
  scenario: ScenarioName;
  seed: number;
  link: string | null;
  serial: string;
  injections: PatchInjection[];
  /** Stop after this many device seconds; null = until SIGINT/SIGTERM. */
  seconds: number | null;
  exitAfter: boolean;
  replay: ReplaySpec | null;
  autoStart: boolean;
  unplugQuietMs: number;
}

export type PatchParseResult = { ok: true; config: PatchSimConfig } | { ok: false; help: true } | { ok: false; help: false; message: string };

export const PATCH_USAGE = `usage: hw-sim vigil-patch [options]

Creates a pseudo-terminal that behaves as the Vigil sensor patch (binary protocol v1: COBS
frames, CRC-32C; docs/interfaces/vigil-patch.md), prints its path as the first line on stdout
(then "link <path>" if --link), and streams ECG 250 Hz, PPG red/IR 100 Hz and a 3-axis
accelerometer 25 Hz once the agent sends START. One JSON line per device second on stderr
carries the ground truth (heart rate, SpO2, respiration rate).

options:
  --scenario <name>        ${SCENARIO_NAMES.join(' | ')} (default stable)
  --seed <int>             seed of all randomness (default 1)
  --link <path>            also create a symbolic link to the pty at <path>
  --serial <8 hex digits>  the patch's serial number (default ${SIMULATED_PATCH_SERIAL})
  --inject <kind>@<s>[:<duration s>][,...]  fault from device second <s>; kinds:
                           ${PATCH_INJECT_KINDS.join(', ')}
                           (frame faults last one 200 ms block unless a duration is given;
                           serial lasts; unplug closes the pty)
  --seconds <int>          stop streaming after this many device seconds
  --exit-after             with --seconds: close the pty and exit then
  --replay <source>        waveforms from a recording instead of the model:
                           mitdb:<record path without extension> (ECG, resampled to 250 Hz;
                           PPG pulses and truth follow its annotated beats) or
                           bidmc:<dir>/bidmc_NN (ECG II, PLETH and RESP of the recording)
  --auto-start             stream without waiting for START (a misbehaving firmware)
  --unplug-quiet-ms <int>  at shutdown, hang up only after this long without a write
                           (default ${QUIET_BEFORE_HANGUP_MS})
  -h, --help               this text
`;

const INTEGER = /^-?\d+$/;
const NUMBER = /^\d+(\.\d+)?$/;
const VALUE_OPTIONS = new Set(['--scenario', '--seed', '--link', '--serial', '--inject', '--seconds', '--replay', '--unplug-quiet-ms']);
const FLAG_OPTIONS = new Set(['--exit-after', '--auto-start']);

function fail(message: string): PatchParseResult {
  return { ok: false, help: false, message: `hw-sim: ${message}` };
}

function parseInteger(text: string): number | null {
  if (!INTEGER.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

export function parsePatchInjections(text: string): PatchInjection[] | string {
  const out: PatchInjection[] = [];
  for (const item of text.split(',')) {
    const at = item.indexOf('@');
    const kind = item.slice(0, at);
    if (at < 0 || !isPatchInjectKind(kind)) return `--inject kind must be one of ${PATCH_INJECT_KINDS.join(', ')} (as <kind>@<seconds>[:<duration>])`;
    const [start, duration, extra] = item.slice(at + 1).split(':');
    if (start === undefined || !NUMBER.test(start) || extra !== undefined) return '--inject time must be non-negative seconds, optionally :<duration>';
    if (duration !== undefined && (!NUMBER.test(duration) || Number(duration) <= 0)) return '--inject duration must be positive seconds';
    out.push({ kind, atS: Number(start), durationS: duration === undefined ? null : Number(duration) });
  }
  return out;
}

export function parsePatchArgs(argv: readonly string[]): PatchParseResult {
  const split = splitOptions(argv, FLAG_OPTIONS, VALUE_OPTIONS);
  if (!split.ok) return split.help ? { ok: false, help: true } : fail(split.message);
  const { values, flags, positionals } = split;
  if (positionals.length > 0) return fail(`unexpected argument ${positionals[0]}`);
  const scenario = values.get('--scenario') ?? 'stable';
  if (!isScenarioName(scenario)) return fail(`--scenario must be one of ${SCENARIO_NAMES.join(', ')}`);
  const seed = parseInteger(values.get('--seed') ?? '1');
  if (seed === null) return fail('--seed must be an integer');
  const serial = values.get('--serial') ?? SIMULATED_PATCH_SERIAL;
  if (!isSerial(serial)) return fail('--serial must be 8 upper-case hex digits');
  let injections: PatchInjection[] = [];
  const injectText = values.get('--inject');
  if (injectText !== undefined) {
    const parsed = parsePatchInjections(injectText);
    if (typeof parsed === 'string') return fail(parsed);
    injections = parsed;
  }
  let seconds: number | null = null;
  const secondsText = values.get('--seconds');
  if (secondsText !== undefined) {
    seconds = parseInteger(secondsText);
    if (seconds === null || seconds < 1) return fail('--seconds must be a positive integer');
  }
  const exitAfter = flags.has('--exit-after');
  if (exitAfter && seconds === null) return fail('--exit-after needs --seconds');
  let replay: ReplaySpec | null = null;
  const replayText = values.get('--replay');
  if (replayText !== undefined) {
    const m = /^(mitdb|bidmc):(.+)$/.exec(replayText);
    if (!m?.[1] || !m[2]) return fail('--replay must be mitdb:<record path> or bidmc:<dir>/bidmc_NN');
    replay = { kind: m[1] as ReplaySpec['kind'], path: m[2] };
  }
  const unplugQuietMs = parseInteger(values.get('--unplug-quiet-ms') ?? String(QUIET_BEFORE_HANGUP_MS));
  if (unplugQuietMs === null || unplugQuietMs < 0 || unplugQuietMs > 10_000) return fail('--unplug-quiet-ms must be an integer from 0 to 10000');
  const link = values.get('--link') ?? null;
  if (link !== null && link.length === 0) return fail('--link must be a path');
  return {
    ok: true,
    config: { scenario, seed, link, serial, injections, seconds, exitAfter, replay, autoStart: flags.has('--auto-start'), unplugQuietMs },
  };
}

export interface PatchSimDeps {
  emit(event: Record<string, unknown>): void;
  pty?: Pick<OpenPtyOptions, 'socatPath' | 'startTimeoutMs'>;
  wallNowMs?: () => number;
}

export interface PatchSimulator {
  readonly pty: Pty;
  /** Settles once --seconds have been sent, or at stop(). */
  readonly finished: Promise<void>;
  stop(): Promise<void>;
}

/** Starts the patch on a new pty; blocks follow the device clock once the agent opens the port. */
export async function startPatchSimulator(config: PatchSimConfig, deps: PatchSimDeps): Promise<PatchSimulator> {
  const source: SignalSource | undefined = config.replay === null ? undefined : openReplay(config.replay, config.seed);
  const device = new VigilPatchDevice({
    scenario: config.scenario,
    seed: config.seed,
    serial: config.serial,
    injections: config.injections,
    autoStart: config.autoStart,
    ...(source ? { source } : {}),
  });
  const pty = await openPty({ ...deps.pty, survivesReopen: true, ...(config.link === null ? {} : { link: config.link }) });
  const wallNowMs = deps.wallNowMs ?? Date.now;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let settle: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const emitCommands = (): void => {
    for (const c of device.takeCommandEvents()) deps.emit({ event: 'command', device: DEVICE_NAME, ...c });
  };
  pty.onData((bytes) => {
    const reply = device.receive(bytes);
    if (reply.length > 0) pty.write(reply);
    emitCommands();
  });
  pty.onAgentClosed(() => deps.emit({ event: 'port-closed', device: DEVICE_NAME }));
  const halt = (): void => {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
    timer = null;
    settle();
  };
  pty.onExit(() => halt());
  const unplugAtS = config.injections.filter((i) => i.kind === 'unplug').map((i) => i.atS);
  pty.onOpened(() => {
    if (stopped) return;
    deps.emit({ event: 'port-opened', device: DEVICE_NAME });
    const startMs = performance.now();
    let sent = 0;
    const tick = (): void => {
      timer = null;
      if (stopped) return;
      const dueMs = startMs + sent * BLOCK_MS;
      const earlyMs = dueMs - performance.now();
      if (earlyMs > 0) {
        timer = setTimeout(tick, Math.max(1, Math.ceil(earlyMs)));
        return;
      }
      const tS = (sent * BLOCK_MS) / 1000;
      if (unplugAtS.some((at) => Math.abs(at - tS) < BLOCK_MS / 2000)) {
        deps.emit({ event: 'unplugged', device: DEVICE_NAME, tS });
        halt();
        void pty.close({ quietMs: 0 });
        return;
      }
      const block = device.nextBlock();
      const sentWallMs = wallNowMs(); // before the write: a receiver never stamps earlier
      const lateMs = Math.round((performance.now() - dueMs) * 10) / 10;
      const written = block.bytes.length === 0 ? true : pty.write(block.bytes);
      if (block.injected.length > 0) deps.emit({ event: 'inject', device: DEVICE_NAME, tS: block.tS, kinds: block.injected });
      if (block.closesSecond) {
        const t = block.truth;
        deps.emit({
          event: 'frame',
          device: DEVICE_NAME,
          index: Math.floor(block.tS),
          tS: Math.round((block.tS + BLOCK_MS / 1000) * 10) / 10,
          tickMs: block.tickMs,
          sentWallMs,
          lateMs,
          streaming: block.streaming,
          serial: block.serial,
          heartRateBpm: Math.round(t.heartRateBpm * 10) / 10,
          pulseRateBpm: Math.round(t.heartRateBpm * 10) / 10,
          spo2Percent: Math.round(t.spo2Percent * 10) / 10,
          respRatePerMin: Math.round(t.respRatePerMin * 10) / 10,
          perfusionIndexPercent: t.perfusionIndexPercent,
          skinTempCelsius: Math.round(t.skinTempCelsius * 100) / 100,
          leadOff: t.leadOff ?? false,
          probeOff: t.probeOff ?? false,
          motion: t.motion ?? false,
          injected: block.injected,
          dropped: !written,
        });
      }
      sent++;
      if (config.seconds !== null && sent * BLOCK_MS >= config.seconds * 1000) {
        halt();
        return;
      }
      timer = setTimeout(tick, Math.max(0, startMs + sent * BLOCK_MS - performance.now()));
    };
    timer = setTimeout(tick, 0);
  });
  return {
    pty,
    finished,
    async stop() {
      halt();
      await pty.close({ quietMs: config.unplugQuietMs });
    },
  };
}

/** The `hw-sim vigil-patch ...` command; returns the exit code. */
export function runVigilPatch(argv: readonly string[]): Promise<number> {
  return runDeviceCommand(argv, {
    device: DEVICE_NAME,
    usage: PATCH_USAGE,
    helpHint: '(hw-sim vigil-patch --help for usage)',
    parse: parsePatchArgs,
    start: (config, emit) => startPatchSimulator(config, { emit }),
    startFields: (c) => ({ scenario: c.scenario, seed: c.seed, serial: c.serial, replay: c.replay }),
    exitWhenFinished: (c) => c.exitAfter,
    // The unplug injection closes the pty on purpose; the command stays until it is stopped.
    ptyExitIsFailure: false,
  });
}
