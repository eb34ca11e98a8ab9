/**
 * `hw-sim replay <capture>`: plays a recorded capture to the agent, as the device that recorded
 * it would have sent it: through a pseudo-terminal (a serial device) or, for an HL7 monitor,
 * MLLP over TCP to the gateway's listener. The capture formats and their conversion are in
 * ./capture.ts and docs/hw-sim.md ("hw-sim replay").
 *
 *   hw-sim replay <capture> --device masimo-ascii|hl7-monitor [--format hl7|lines|bytelog]
 *                 [--transport pty|tcp] [--host 127.0.0.1] [--port N] [--link PATH]
 *                 [--period-ms 1000] [--loop] [--hold-ms 1000]
 *
 * Items start when the agent first opens the port (pty) or once connected (tcp), then follow
 * the period (or the byte log's own times) drift-free. Without --loop, the command holds the
 * line --hold-ms after the last item (the agent reads it, ACKs come back), closes it and exits 0.
 * stdout: line 1 is the pty path (or `tcp <host>:<port>`), line 2 `link <path>` with --link.
 * stderr: JSON events: `start`, `port-opened`, `port-closed`, `connected`, `frame` (each item
 *         sent: index, source line, bytes, control id), `ack` (each ACK read back), `received`
 *         (bytes the agent wrote to a serial device), `frames-done`, `pty-exit`.
 * exit:   0 when done (or after SIGINT/SIGTERM); 1 when the capture cannot be read, socat fails,
 *         the connection cannot be made or is lost; 2 for bad arguments.
 */
import { readFileSync } from 'node:fs';
import { CaptureError, CAPTURE_FORMATS, defaultFormat, isCaptureFormat, readCapture, scheduleMs, type CaptureFormat, type CaptureItem } from './capture';
import { runDeviceCommand, type RunningDevice } from './command';
import { splitOptions } from './options';
import { openPty, QUIET_BEFORE_HANGUP_MS, type OpenPtyOptions } from './pty';
import { connectTcp, type TcpLink } from './tcp';
import { readAck } from './wire/hl7-pcd01';
import { MllpReader } from './wire/mllp';

export const REPLAY_DEVICES = ['masimo-ascii', 'hl7-monitor'] as const;
export type ReplayDevice = (typeof REPLAY_DEVICES)[number];
export const REPLAY_TRANSPORTS = ['pty', 'tcp'] as const;
export type ReplayTransport = (typeof REPLAY_TRANSPORTS)[number];

export interface ReplayConfig {
  capture: string;
  device: ReplayDevice;
  format: CaptureFormat;
  transport: ReplayTransport;
  host: string;
  /** tcp: the gateway's listener port. */
  port: number | null;
  link: string | null;
  /** Time between two items of an hl7 or lines capture. */
  periodMs: number;
  loop: boolean;
  /** Without --loop: how long the line stays open after the last item. */
  holdMs: number;
  connectTimeoutMs: number;
  unplugQuietMs: number;
}

export type ReplayParseResult = { ok: true; config: ReplayConfig } | { ok: false; help: true } | { ok: false; help: false; message: string };

export const REPLAY_USAGE = `usage: hw-sim replay <capture> --device masimo-ascii|hl7-monitor [options]

Plays a recorded capture to the agent as its device would send it (docs/hw-sim.md):
through a pseudo-terminal (prints its path as the first line on stdout, then "link <path>"
if --link), or for an HL7 monitor as MLLP over TCP to the gateway's listener (prints
"tcp <host>:<port>" once connected). Each item sent and each ACK read back is one JSON line
on stderr. Without --loop it exits 0 once the capture is played.

capture formats (--format; default: bytelog for *.jsonl, else hl7 for hl7-monitor and
lines for masimo-ascii):
  hl7      HL7 v2 messages, split at MSH lines and blank lines, any segment ending (CR, LF,
           CR LF) or MLLP blocks; sent with CR segment ends, one MLLP block per message
  lines    one device line per line of the file; sent with CR LF
  bytelog  JSON Lines {"atMs": 0, "hex": "..."}: those bytes at those times, unconverted

options:
  --device <name>          ${REPLAY_DEVICES.join(' | ')} (required)
  --format <name>          ${CAPTURE_FORMATS.join(' | ')}
  --transport <name>       pty (default) | tcp (hl7-monitor only)
  --host <address>         tcp: the gateway's address (default 127.0.0.1)
  --port <int>             tcp: the gateway's MLLP port (required with tcp)
  --link <path>            pty: also create a symbolic link to the pty at <path>
  --period-ms <int>        time between two messages or lines (default 1000)
  --loop                   start over after the last item, until stopped
  --hold-ms <int>          without --loop: keep the line open this long after the last
                           item, then exit (default 1000)
  --connect-timeout-ms <int>  tcp: keep trying to connect this long (default 10000)
  --unplug-quiet-ms <int>  pty: at the end, hang up only after this long without a write
                           (default ${QUIET_BEFORE_HANGUP_MS})
  -h, --help               this text
`;

const INTEGER = /^\d+$/;
const VALUE_OPTIONS = new Set([
  '--device', '--format', '--transport', '--host', '--port', '--link', '--period-ms', '--hold-ms', '--connect-timeout-ms', '--unplug-quiet-ms',
]);
const FLAG_OPTIONS = new Set(['--loop']);

function fail(message: string): ReplayParseResult {
  return { ok: false, help: false, message: `hw-sim: ${message}` };
}

function integer(text: string | undefined, fallback: number, min: number, max: number): number | null {
  const t = text ?? String(fallback);
  if (!INTEGER.test(t)) return null;
  const v = Number(t);
  return v >= min && v <= max ? v : null;
}

export function parseReplayArgs(argv: readonly string[]): ReplayParseResult {
  const split = splitOptions(argv, FLAG_OPTIONS, VALUE_OPTIONS);
  if (!split.ok) return split.help ? { ok: false, help: true } : fail(split.message);
  const { values, flags, positionals } = split;
  if (positionals.length === 0) return fail('replay needs the capture file');
  if (positionals.length > 1) return fail(`unexpected argument ${positionals[1]}`);
  const capture = positionals[0]!;
  const device = values.get('--device');
  if (device === undefined || !(REPLAY_DEVICES as readonly string[]).includes(device)) return fail(`--device must be one of ${REPLAY_DEVICES.join(', ')}`);
  const dev = device as ReplayDevice;
  const formatText = values.get('--format') ?? defaultFormat(capture, dev);
  if (!isCaptureFormat(formatText)) return fail(`--format must be one of ${CAPTURE_FORMATS.join(', ')}`);
  if (formatText === 'hl7' && dev !== 'hl7-monitor') return fail('--format hl7 needs --device hl7-monitor');
  const transport = values.get('--transport') ?? 'pty';
  if (!(REPLAY_TRANSPORTS as readonly string[]).includes(transport)) return fail(`--transport must be one of ${REPLAY_TRANSPORTS.join(', ')}`);
  if (transport === 'tcp' && dev !== 'hl7-monitor') return fail('--transport tcp carries MLLP: it needs --device hl7-monitor');
  let port: number | null = null;
  if (transport === 'tcp') {
    port = integer(values.get('--port'), -1, 1, 65535);
    if (port === null) return fail('--transport tcp needs --port, an integer from 1 to 65535');
  } else if (values.has('--port') || values.has('--host')) {
    return fail('--port and --host are for --transport tcp');
  }
  const link = values.get('--link') ?? null;
  if (link !== null && (link.length === 0 || transport === 'tcp')) return fail('--link must be a path, and is for --transport pty');
  const periodMs = integer(values.get('--period-ms'), 1000, 1, 3_600_000);
  if (periodMs === null) return fail('--period-ms must be an integer from 1 to 3600000');
  const holdMs = integer(values.get('--hold-ms'), 1000, 0, 3_600_000);
  if (holdMs === null) return fail('--hold-ms must be an integer from 0 to 3600000');
  const connectTimeoutMs = integer(values.get('--connect-timeout-ms'), 10_000, 0, 600_000);
  if (connectTimeoutMs === null) return fail('--connect-timeout-ms must be an integer from 0 to 600000');
  const unplugQuietMs = integer(values.get('--unplug-quiet-ms'), QUIET_BEFORE_HANGUP_MS, 0, 10_000);
  if (unplugQuietMs === null) return fail('--unplug-quiet-ms must be an integer from 0 to 10000');
  return {
    ok: true,
    config: {
      capture, device: dev, format: formatText, transport: transport as ReplayTransport, host: values.get('--host') ?? '127.0.0.1', port, link,
      periodMs, loop: flags.has('--loop'), holdMs, connectTimeoutMs, unplugQuietMs,
    },
  };
}

export interface ReplayDeps {
  emit(event: Record<string, unknown>): void;
  pty?: Pick<OpenPtyOptions, 'socatPath' | 'startTimeoutMs'>;
  wallNowMs?: () => number;
}

/** The line the items go down: a pty or a TCP connection. */
interface Line {
  readonly path: string;
  readonly link: string | null;
  write(bytes: Uint8Array): boolean;
  onData(cb: (bytes: Buffer) => void): void;
  onExit(cb: (detail: string) => void): void;
  /** Calls back once the items may start (the agent opened the port; at once for tcp). */
  onReady(cb: () => void): void;
  close(): Promise<void>;
}

async function openLine(config: ReplayConfig, deps: ReplayDeps): Promise<Line> {
  if (config.transport === 'tcp') {
    const tcp: TcpLink = await connectTcp({ host: config.host, port: config.port ?? 0, timeoutMs: config.connectTimeoutMs });
    deps.emit({ event: 'connected', device: config.device, host: config.host, port: config.port });
    return { ...tcp, onReady: (cb) => cb(), close: () => tcp.close() };
  }
  const pty = await openPty({ ...deps.pty, ...(config.link === null ? {} : { link: config.link }) });
  pty.onAgentClosed(() => deps.emit({ event: 'port-closed', device: config.device }));
  return {
    path: pty.path,
    link: pty.link,
    write: (bytes) => pty.write(bytes),
    onData: (cb) => pty.onData(cb),
    onExit: (cb) => pty.onExit(cb),
    onReady: (cb) =>
      pty.onOpened(() => {
        deps.emit({ event: 'port-opened', device: config.device });
        cb();
      }),
    close: () => pty.close({ quietMs: config.unplugQuietMs }),
  };
}

/** Reads the capture (before any line is opened: a bad file fails at once). Throws CaptureError. */
export function loadCapture(config: Pick<ReplayConfig, 'capture' | 'format'>): CaptureItem[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(config.capture);
  } catch (err) {
    throw new CaptureError(`${config.capture}: cannot be read (${err instanceof Error ? err.message : String(err)})`);
  }
  try {
    return readCapture(bytes, config.format);
  } catch (err) {
    if (err instanceof CaptureError) throw new CaptureError(`${config.capture}: ${err.message}`);
    throw err;
  }
}

/** Opens the line and plays the capture; `finished` settles when done (never with --loop). */
export async function startReplay(config: ReplayConfig, deps: ReplayDeps): Promise<RunningDevice> {
  const items = loadCapture(config);
  const line = await openLine(config, deps);
  const wallNowMs = deps.wallNowMs ?? Date.now;
  const reader = new MllpReader();
  line.onData((bytes) => {
    if (config.device !== 'hl7-monitor') {
      deps.emit({ event: 'received', device: config.device, bytes: bytes.length });
      return;
    }
    for (const message of reader.push(bytes)) {
      const ack = readAck(message);
      if (ack !== null) deps.emit({ event: 'ack', device: config.device, ...ack });
    }
  });
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let settle: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const halt = (): void => {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
    timer = null;
    settle();
  };
  line.onExit(() => halt());
  line.onReady(() => {
    if (stopped) return;
    const startMs = performance.now();
    let n = 0;
    const tick = (): void => {
      timer = null;
      if (stopped) return;
      const dueMs = startMs + scheduleMs(items, n, config.periodMs);
      const earlyMs = dueMs - performance.now();
      if (earlyMs > 0) {
        timer = setTimeout(tick, Math.ceil(earlyMs));
        return;
      }
      const item = items[n % items.length]!;
      const sentWallMs = wallNowMs(); // before the write: a receiver never stamps earlier
      const written = line.write(item.bytes);
      deps.emit({
        event: 'frame',
        device: config.device,
        index: n,
        item: item.index,
        source: item.source,
        bytes: item.bytes.length,
        ...(item.controlId === undefined ? {} : { controlId: item.controlId }),
        sentWallMs,
        lateMs: Math.round((performance.now() - dueMs) * 10) / 10,
        dropped: !written && config.transport === 'pty',
      });
      n++;
      if (!config.loop && n >= items.length) {
        timer = setTimeout(halt, config.holdMs);
        return;
      }
      timer = setTimeout(tick, Math.max(0, startMs + scheduleMs(items, n, config.periodMs) - performance.now()));
    };
    timer = setTimeout(tick, 0);
  });
  return {
    pty: line,
    finished,
    async stop() {
      halt();
      await line.close();
    },
  };
}

/** The `hw-sim replay ...` command; returns the exit code. */
export function runReplay(argv: readonly string[]): Promise<number> {
  return runDeviceCommand(argv, {
    device: 'replay',
    usage: REPLAY_USAGE,
    helpHint: '(hw-sim replay --help for usage)',
    parse: parseReplayArgs,
    start: (config, emit) => startReplay(config, { emit }),
    startFields: (c) => ({ replaying: c.device, capture: c.capture, format: c.format, transport: c.transport, periodMs: c.periodMs, loop: c.loop }),
    exitWhenFinished: (c) => !c.loop,
    ptyExitIsFailure: true,
  });
}
