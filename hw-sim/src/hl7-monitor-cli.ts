/**
 * `hw-sim hl7-monitor`: plays a multi-parameter monitor that sends HL7 v2 ORU^R01 (IHE PCD-01)
 * and its alarms as ORU^R40 (IHE PCD-04), MLLP framed, on a real pseudo-terminal or over TCP to
 * the gateway's MLLP listener (the device side is hw-sim/src/devices/hl7-monitor.ts; the
 * interface is docs/interfaces/hl7-pcd01.md), and reads the gateway's ACKs.
 *
 *   hw-sim hl7-monitor [--scenario stable] [--seed 1] [--period-ms 1000] [--link /tmp/vigil-monitor]
 *                      [--messages N [--exit-after]] [--inject kind@index[-index],...]
 *                      [--patient-id HWSIM0001] [--equipment-id 0012A1FFFE3B4C5D] [--status R|F]
 *                      [--nibp-every 30] [--temp-every 60]
 *                      [--alerts on|off] [--spo2-low-limit 90] [--alert-continue-every 10]
 *                      [--transport pty|tcp] [--host 127.0.0.1] [--port N] [--connect-timeout-ms 10000]
 *
 * Messages start when the agent first opens the port (pty) or once connected (tcp), then follow
 * the period drift-free; each second's ORU^R40 alerts follow its ORU^R01 at once.
 * stdout: line 1 is the pty path (for `head -1`) or `tcp <host>:<port>`, line 2 `link <path>`
 *         when --link is given.
 * stderr: one JSON object per line: `start`, `port-opened`, `port-closed`, `connected`, `frame`
 *         (one per message: the ground truth it carries, its control id and fault), `alert` (one
 *         per ORU^R40 written: control id, instance id, phase, state, event code, the time
 *         written), `ack` (each ACK read back, of an ORU^R01 or an ORU^R40: control id, code,
 *         errors), `frames-done`, `pty-exit`.
 * exit:   0 after SIGINT/SIGTERM or --exit-after; 1 when socat fails or the TCP connection cannot
 *         be made or is lost; 2 for bad arguments.
 */
import { splitOptions } from './options';
import {
  DEFAULT_ALERT_CONTINUE_EVERY,
  DEFAULT_SPO2_LOW_LIMIT_PERCENT,
  DEVICE_NAME,
  HL7_INJECT_KINDS,
  Hl7MonitorDevice,
  isHl7AlertInjectKind,
  isHl7InjectKind,
  SIMULATED_EQUIPMENT_ID,
  SIMULATED_PATIENT_ID,
  type Hl7Injection,
} from './devices/hl7-monitor';
import { runDeviceCommand } from './command';
import { openPty, QUIET_BEFORE_HANGUP_MS, type OpenPtyOptions } from './pty';
import { monotonicClockMs } from './runner';
import { connectTcp } from './tcp';
import { isScenarioName, SCENARIO_NAMES, type ScenarioName } from './scenarios';

export interface MonitorSimConfig {
  scenario: ScenarioName;
  seed: number;
  periodMs: number;
  link: string | null;
  /** Stop after this many messages; null = until SIGINT/SIGTERM. */
  messages: number | null;
  exitAfter: boolean;
  injections: Hl7Injection[];
  patientId: string;
  equipmentId: string;
  status: 'R' | 'F';
  nibpEvery: number;
  tempEvery: number;
  unplugQuietMs: number;
  /** ORU^R40 alerts (false: a monitor that sends none). */
  alerts: boolean;
  spo2LowLimitPercent: number;
  alertContinueEvery: number;
  /** pty (a serial line) or tcp (MLLP to the gateway's listener). */
  transport: MonitorTransport;
  /** tcp: the gateway's address and listener port. */
  host: string;
  port: number | null;
  connectTimeoutMs: number;
}

export const MONITOR_TRANSPORTS = ['pty', 'tcp'] as const;
export type MonitorTransport = (typeof MONITOR_TRANSPORTS)[number];

export type MonitorParseResult = { ok: true; config: MonitorSimConfig } | { ok: false; help: true } | { ok: false; help: false; message: string };

export const MONITOR_USAGE = `usage: hw-sim hl7-monitor [options]

Creates a pseudo-terminal that behaves as a multi-parameter monitor sending HL7 v2 ORU^R01
(IHE PCD-01) in MLLP blocks (docs/interfaces/hl7-pcd01.md), prints its path as the first line
on stdout (then "link <path>" if --link), and sends one message per period: SpO2, pulse, ECG
heart rate, respiration rate, and NIBP and temperature every Nth message; and its SpO2 low
limit alarm as ORU^R40 (IHE PCD-04): start, continue, end. Each message is reported as one
JSON line on stderr (the ground truth), and so are each alert and each ACK read back. With
--transport tcp it connects to the gateway's MLLP listener instead of opening a pty.

options:
  --scenario <name>        ${SCENARIO_NAMES.join(' | ')} (default stable)
  --seed <int>             seed of all randomness (default 1)
  --period-ms <int>        wall time between messages (default 1000)
  --link <path>            also create a symbolic link to the pty at <path>
  --messages <int>         stop sending after this many messages (the pty stays open)
  --exit-after             with --messages: close the pty and exit once they are sent
  --inject <kind>@<i>[-<j>][,...]  fault at message i (to j), 0-based; kinds:
                           ${HL7_INJECT_KINDS.join(', ')}
  --patient-id <id>        PID-3 (default ${SIMULATED_PATIENT_ID})
  --equipment-id <eui64>   OBX-18 of the monitor (default ${SIMULATED_EQUIPMENT_ID})
  --status R|F             OBX-11 of the values (default R: unverified, as live monitors send)
  --nibp-every <int>       NIBP in every Nth message (default 30)
  --temp-every <int>       temperature in every Nth message (default 60)
  --unplug-quiet-ms <int>  at shutdown, hang up only after this long without a write
                           (tcp: close the connection this long after the last write; default
                           ${QUIET_BEFORE_HANGUP_MS})
  --alerts on|off          ORU^R40 alerts of the SpO2 low limit alarm (default on)
  --spo2-low-limit <int>   SpO2 low alarm limit, % (default ${DEFAULT_SPO2_LOW_LIMIT_PERCENT}; alarm at or below it)
  --alert-continue-every <int>  a "continue" of the alarm every N messages (default ${DEFAULT_ALERT_CONTINUE_EVERY})
  --transport pty|tcp      pty (default): a pseudo-terminal; tcp: MLLP over TCP to the gateway
  --host <address>         tcp: the gateway's address (default 127.0.0.1)
  --port <int>             tcp: the gateway's MLLP port (required with tcp)
  --connect-timeout-ms <int>  tcp: keep trying to connect this long (default 10000)
  -h, --help               this text
`;

const INTEGER = /^-?\d+$/;
const ID = /^[A-Za-z0-9._-]{1,64}$/;
const VALUE_OPTIONS = new Set([
  '--scenario', '--seed', '--period-ms', '--link', '--messages', '--inject', '--patient-id', '--equipment-id',
  '--status', '--nibp-every', '--temp-every', '--unplug-quiet-ms', '--alerts', '--spo2-low-limit', '--alert-continue-every',
  '--transport', '--host', '--port', '--connect-timeout-ms',
]);
const FLAG_OPTIONS = new Set(['--exit-after']);

function fail(message: string): MonitorParseResult {
  return { ok: false, help: false, message: `hw-sim: ${message}` };
}

function parseInteger(text: string | undefined, fallback: number): number | null {
  const t = text ?? String(fallback);
  if (!INTEGER.test(t)) return null;
  const value = Number(t);
  return Number.isSafeInteger(value) ? value : null;
}

export function parseMonitorInjections(text: string): Hl7Injection[] | string {
  const out: Hl7Injection[] = [];
  for (const item of text.split(',')) {
    const at = item.lastIndexOf('@');
    const kind = item.slice(0, at);
    if (at < 0 || !isHl7InjectKind(kind)) return `--inject kind must be one of ${HL7_INJECT_KINDS.join(', ')} (as <kind>@<index>[-<index>])`;
    const m = /^(\d+)(?:-(\d+))?$/.exec(item.slice(at + 1));
    if (m?.[1] === undefined) return '--inject index must be <i> or <i>-<j>, non-negative integers';
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) return '--inject range must not end before it starts';
    if (out.some((o) => from <= o.to && o.from <= to)) return '--inject gives the same message index twice';
    out.push({ kind, from, to });
  }
  return out;
}

export function parseMonitorArgs(argv: readonly string[]): MonitorParseResult {
  const split = splitOptions(argv, FLAG_OPTIONS, VALUE_OPTIONS);
  if (!split.ok) return split.help ? { ok: false, help: true } : fail(split.message);
  const { values, flags, positionals } = split;
  if (positionals.length > 0) return fail(`unexpected argument ${positionals[0]}`);
  const scenario = values.get('--scenario') ?? 'stable';
  if (!isScenarioName(scenario)) return fail(`--scenario must be one of ${SCENARIO_NAMES.join(', ')}`);
  const seed = parseInteger(values.get('--seed'), 1);
  if (seed === null) return fail('--seed must be an integer');
  const periodMs = parseInteger(values.get('--period-ms'), 1000);
  if (periodMs === null || periodMs < 10 || periodMs > 3_600_000) return fail('--period-ms must be an integer from 10 to 3600000');
  let messages: number | null = null;
  if (values.has('--messages')) {
    messages = parseInteger(values.get('--messages'), 0);
    if (messages === null || messages < 0) return fail('--messages must be a non-negative integer');
  }
  const exitAfter = flags.has('--exit-after');
  if (exitAfter && messages === null) return fail('--exit-after needs --messages');
  let injections: Hl7Injection[] = [];
  const injectText = values.get('--inject');
  if (injectText !== undefined) {
    const parsed = parseMonitorInjections(injectText);
    if (typeof parsed === 'string') return fail(parsed);
    injections = parsed;
  }
  const patientId = values.get('--patient-id') ?? SIMULATED_PATIENT_ID;
  if (!ID.test(patientId)) return fail('--patient-id must be 1-64 letters, digits, ".", "_" or "-"');
  const equipmentId = values.get('--equipment-id') ?? SIMULATED_EQUIPMENT_ID;
  if (!ID.test(equipmentId)) return fail('--equipment-id must be 1-64 letters, digits, ".", "_" or "-"');
  const status = values.get('--status') ?? 'R';
  if (status !== 'R' && status !== 'F') return fail('--status must be R or F');
  const nibpEvery = parseInteger(values.get('--nibp-every'), 30);
  if (nibpEvery === null || nibpEvery < 1) return fail('--nibp-every must be a positive integer');
  const tempEvery = parseInteger(values.get('--temp-every'), 60);
  if (tempEvery === null || tempEvery < 1) return fail('--temp-every must be a positive integer');
  const unplugQuietMs = parseInteger(values.get('--unplug-quiet-ms'), QUIET_BEFORE_HANGUP_MS);
  if (unplugQuietMs === null || unplugQuietMs < 0 || unplugQuietMs > 10_000) return fail('--unplug-quiet-ms must be an integer from 0 to 10000');
  const alertsText = values.get('--alerts') ?? 'on';
  if (alertsText !== 'on' && alertsText !== 'off') return fail('--alerts must be on or off');
  const alerts = alertsText === 'on';
  if (!alerts && injections.some((i) => isHl7AlertInjectKind(i.kind))) return fail('--inject alert-* needs --alerts on');
  const spo2LowLimitPercent = parseInteger(values.get('--spo2-low-limit'), DEFAULT_SPO2_LOW_LIMIT_PERCENT);
  // The SpO2 scale (0-100 %), as hw-sim masimo-ascii's --spo2-low-limit.
  if (spo2LowLimitPercent === null || spo2LowLimitPercent < 0 || spo2LowLimitPercent > 100) return fail('--spo2-low-limit must be an integer from 0 to 100');
  const alertContinueEvery = parseInteger(values.get('--alert-continue-every'), DEFAULT_ALERT_CONTINUE_EVERY);
  if (alertContinueEvery === null || alertContinueEvery < 1 || alertContinueEvery > 3600) return fail('--alert-continue-every must be an integer from 1 to 3600');
  const transport = values.get('--transport') ?? 'pty';
  if (transport !== 'pty' && transport !== 'tcp') return fail(`--transport must be one of ${MONITOR_TRANSPORTS.join(', ')}`);
  let port: number | null = null;
  if (transport === 'tcp') {
    port = parseInteger(values.get('--port'), -1);
    if (port === null || port < 1 || port > 65535) return fail('--transport tcp needs --port, an integer from 1 to 65535');
  } else if (values.has('--port') || values.has('--host') || values.has('--connect-timeout-ms')) {
    return fail('--port, --host and --connect-timeout-ms are for --transport tcp');
  }
  const host = values.get('--host') ?? '127.0.0.1';
  if (host.length === 0) return fail('--host must be an address');
  const connectTimeoutMs = parseInteger(values.get('--connect-timeout-ms'), 10_000);
  if (connectTimeoutMs === null || connectTimeoutMs < 0 || connectTimeoutMs > 600_000) return fail('--connect-timeout-ms must be an integer from 0 to 600000');
  const link = values.get('--link') ?? null;
  if (link !== null && (link.length === 0 || transport === 'tcp')) return fail('--link must be a path, and is for --transport pty');
  return {
    ok: true,
    config: {
      scenario, seed, periodMs, link, messages, exitAfter, injections, patientId, equipmentId, status, nibpEvery, tempEvery, unplugQuietMs,
      alerts, spo2LowLimitPercent, alertContinueEvery, transport, host, port, connectTimeoutMs,
    },
  };
}

export interface MonitorSimDeps {
  emit(event: Record<string, unknown>): void;
  pty?: Pick<OpenPtyOptions, 'socatPath' | 'startTimeoutMs'>;
  wallNowMs?: () => number;
}

/** The line the messages go down: a pty, or a TCP connection to the gateway's listener. */
export interface MonitorLine {
  readonly path: string;
  readonly link: string | null;
  /** False when the bytes could not be queued (pty) or the socket's buffer is full (tcp, still queued). */
  write(bytes: Uint8Array): boolean;
  onData(cb: (bytes: Buffer) => void): void;
  onExit(cb: (detail: string) => void): void;
  /** Calls back once messages may start: the agent opened the port (pty); at once (tcp). */
  onReady(cb: () => void): void;
  close(): Promise<void>;
}

async function openLine(config: MonitorSimConfig, deps: MonitorSimDeps): Promise<MonitorLine> {
  if (config.transport === 'tcp') {
    const tcp = await connectTcp({ host: config.host, port: config.port ?? 0, timeoutMs: config.connectTimeoutMs });
    deps.emit({ event: 'connected', device: DEVICE_NAME, host: config.host, port: config.port });
    return {
      ...tcp,
      onReady: (cb) => cb(),
      // The gateway's ACKs of the last messages are read before the connection closes.
      close: () => new Promise<void>((resolve) => setTimeout(resolve, config.unplugQuietMs)).then(() => tcp.close()),
    };
  }
  const pty = await openPty({ ...deps.pty, ...(config.link === null ? {} : { link: config.link }) });
  pty.onAgentClosed(() => deps.emit({ event: 'port-closed', device: DEVICE_NAME }));
  return {
    path: pty.path,
    link: pty.link,
    write: (bytes) => pty.write(bytes),
    onData: (cb) => pty.onData(cb),
    onExit: (cb) => pty.onExit(cb),
    onReady: (cb) =>
      pty.onOpened(() => {
        deps.emit({ event: 'port-opened', device: DEVICE_NAME });
        cb();
      }),
    close: () => pty.close({ quietMs: config.unplugQuietMs }),
  };
}

export interface MonitorSimulator {
  readonly pty: MonitorLine;
  /** Settles once --messages have been sent, or at stop(). */
  readonly finished: Promise<void>;
  stop(): Promise<void>;
}

/** Starts the monitor on a new pty (or connection); messages follow the period once the agent opens the port. */
export async function startMonitorSimulator(config: MonitorSimConfig, deps: MonitorSimDeps): Promise<MonitorSimulator> {
  const device = new Hl7MonitorDevice({
    scenario: config.scenario,
    seed: config.seed,
    patientId: config.patientId,
    equipmentId: config.equipmentId,
    status: config.status,
    nibpEvery: config.nibpEvery,
    tempEvery: config.tempEvery,
    injections: config.injections,
    alerts: config.alerts,
    spo2LowLimitPercent: config.spo2LowLimitPercent,
    alertContinueEvery: config.alertContinueEvery,
  });
  const line = await openLine(config, deps);
  const wallNowMs = deps.wallNowMs ?? Date.now;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let settle: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    settle = resolve;
  });
  line.onData((bytes) => {
    for (const ack of device.receive(bytes)) deps.emit({ event: 'ack', device: DEVICE_NAME, ...ack });
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
    let sent = 0;
    const tick = (): void => {
      timer = null;
      if (stopped) return;
      const m = device.nextMessage(wallNowMs());
      const sentWallMs = wallNowMs(); // before the write: a receiver never stamps earlier
      const written = m.bytes.length === 0 ? true : line.write(m.bytes);
      deps.emit({
        event: 'frame',
        device: DEVICE_NAME,
        index: m.index,
        controlId: m.controlId,
        sentWallMs,
        deviceTime: new Date(m.deviceTimeMs).toISOString(),
        injected: m.injected,
        ...m.truth,
        dropped: !written && config.transport === 'pty',
      });
      // Each alert right after its second's ORU^R01, as its own message (its own control id).
      for (const a of m.alerts) {
        const alertWallMs = wallNowMs();
        const alertMonoMs = monotonicClockMs(); // the alarm onset benchmark's clock (runner.ts)
        const alertWritten = line.write(a.bytes);
        deps.emit({
          event: 'alert',
          device: DEVICE_NAME,
          index: m.index,
          controlId: a.controlId,
          instanceId: a.instanceId,
          phase: a.phase,
          state: a.state,
          inactivationState: a.inactivationState,
          eventCode: a.eventCode,
          eventName: a.eventName,
          sourceCode: a.sourceCode,
          priority: a.priority,
          type: a.type,
          injected: a.injected,
          sentWallMs: alertWallMs,
          sentMonoMs: alertMonoMs,
          deviceTime: new Date(m.deviceTimeMs).toISOString(),
          dropped: !alertWritten && config.transport === 'pty',
        });
      }
      sent++;
      if (config.messages !== null && sent >= config.messages) {
        halt();
        return;
      }
      // Armed from the schedule, not from the previous timer: lateness does not accumulate.
      timer = setTimeout(tick, Math.max(0, startMs + sent * config.periodMs - performance.now()));
    };
    if (config.messages === 0) halt();
    else timer = setTimeout(tick, 0);
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

/** The `hw-sim hl7-monitor ...` command; returns the exit code. */
export function runHl7Monitor(argv: readonly string[]): Promise<number> {
  return runDeviceCommand(argv, {
    device: DEVICE_NAME,
    usage: MONITOR_USAGE,
    helpHint: '(hw-sim hl7-monitor --help for usage)',
    parse: parseMonitorArgs,
    start: (config, emit) => startMonitorSimulator(config, { emit }),
    startFields: (c) => ({
      scenario: c.scenario, seed: c.seed, periodMs: c.periodMs, messages: c.messages, patientId: c.patientId, equipmentId: c.equipmentId,
      alerts: c.alerts, spo2LowLimitPercent: c.spo2LowLimitPercent, alertContinueEvery: c.alertContinueEvery, transport: c.transport,
    }),
    exitWhenFinished: (c) => c.exitAfter,
    ptyExitIsFailure: true,
  });
}
