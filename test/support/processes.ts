/**
 * Starting the real processes (hw-sim, the agent, the station) from their built
 * commands, for the system tests and for `make run`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const ROOT = join(__dirname, '..', '..', '..');
export const VIGIL_CLI = join(ROOT, 'dist', 'agent', 'src', 'cli.js');
export const HWSIM_CLI = join(ROOT, 'dist', 'hw-sim', 'src', 'cli.js');
/** The test-only agent entry whose NEWS2 scorer panics in Rust every second call (fault-agent.ts). */
export const FAULT_AGENT = join(ROOT, 'dist', 'test', 'support', 'fault-agent.js');

/** Runs a command to its end, collecting its standard output and error. */
export async function runCollecting(command: string, args: string[], cwd?: string): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const code = await exitOf(child);
  return { code, out, err };
}

export interface HwSim {
  process: ChildProcess;
  path: string;
  /** Ground-truth frame events hw-sim printed on stderr. */
  frames: Array<Record<string, unknown>>;
  /** Every JSON event hw-sim printed on stderr (frames, ACKs read back, port events...). */
  events: Array<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** hw-sim devices that take `--link`. */
const LINKABLE_DEVICES = new Set(['masimo-ascii', 'hl7-monitor', 'vigil-patch']);

/**
 * Starts `hw-sim <device> ...` and resolves once it printed the device path.
 *
 * Unless the arguments name a `--link`, the device is reached through a symbolic link in a
 * private temporary directory, and `path` is that link. A bare /dev/pts/N is reused by the
 * kernel for the next pty anyone opens: an agent still retrying an unplugged device's
 * /dev/pts/N would open another test's device (tests run in parallel). socat removes the
 * link when it ends, so a retry after the unplug fails as it would for an unplugged cable.
 */
export function startHwSim(args: string[], timeoutMs = 10_000): Promise<HwSim> {
  // A device over TCP (`hl7-monitor --transport tcp`) has no pty to link.
  const overTcp = args.some((a, i) => (a === '--transport' && args[i + 1] === 'tcp') || a === '--transport=tcp');
  const ownLinkDir = LINKABLE_DEVICES.has(args[0] ?? '') && !overTcp && !args.some((a) => a === '--link' || a.startsWith('--link=')) ? mkdtempSync(join(tmpdir(), 'vigil-hwsim-')) : null;
  const ownLink = ownLinkDir === null ? null : join(ownLinkDir, 'tty');
  const child = spawn(process.execPath, [HWSIM_CLI, ...args, ...(ownLink === null ? [] : ['--link', ownLink])], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (ownLinkDir !== null) child.once('exit', () => rmSync(ownLinkDir, { recursive: true, force: true }));
  const frames: Array<Record<string, unknown>> = [];
  const events: Array<Record<string, unknown>> = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    try {
      const event = JSON.parse(line) as Record<string, unknown>;
      events.push(event);
      if (event.event === 'frame') frames.push(event);
    } catch {
      /* a human-readable log line */
    }
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('hw-sim did not print its device path'));
    }, timeoutMs);
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (path) => {
      clearTimeout(timer);
      resolve({
        process: child,
        path: ownLink ?? path.trim(),
        frames,
        events,
        async stop(signal: NodeJS.Signals = 'SIGTERM') {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          await exitOf(child);
        },
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`hw-sim exited with ${code} before printing its device path`));
    });
  });
}

export interface AgentConfigOptions {
  brokerUrl: string;
  devicePath: string;
  bedId?: string;
  gatewayId?: string;
  heartbeatIntervalMs?: number;
  quietTimeMs?: number;
  /** Mutual TLS (test/support/pki.ts): the broker URL is then mqtts:// and `insecure` is not set. */
  tls?: { caFile: string; certFile: string; keyFile: string };
  protocolVersion?: 4 | 5;
  /** The durable queue's directory; default `<dir>/queue` (one per agent: LevelDB locks it). */
  queueDir?: string;
  /** The first interface, written as given (default: a masimo-ascii interface `spo2` on devicePath). */
  interface?: Record<string, unknown>;
  /** Further interfaces of the same bed, written as given (`make run`: the sensor patch). */
  moreInterfaces?: Record<string, unknown>[];
  /** End-to-end delivery: the stations whose receipts queued messages wait for (queue.confirmBy). */
  confirmBy?: string[];
  resendUnconfirmedAfterMs?: number;
  /** Distributed alarm system: an alarm change queued this long raises gateway.alarm-undelivered. */
  alarmDeliveryBoundMs?: number;
}

export function writeAgentConfig(dir: string, o: AgentConfigOptions): string {
  const file = join(dir, 'vigil.json');
  const config = {
    gateway: { gatewayId: o.gatewayId ?? 'gw-test', siteId: 'site1', wardId: 'ward7', bedId: o.bedId ?? 'bed12' },
    mqtt: {
      url: o.brokerUrl,
      ...(o.tls ? o.tls : { insecure: true }),
      ...(o.protocolVersion ? { protocolVersion: o.protocolVersion } : {}),
      heartbeatIntervalMs: o.heartbeatIntervalMs ?? 1000,
      keepaliveSec: 5,
      reconnectPeriodMs: 500,
    },
    interfaces: [o.interface ?? { id: 'spo2', driver: 'masimo-ascii', path: o.devicePath, quietTimeMs: o.quietTimeMs ?? 3000 }, ...(o.moreInterfaces ?? [])],
    queue: {
      dir: o.queueDir ?? join(dir, 'queue'),
      ...(o.confirmBy ? { confirmBy: o.confirmBy } : {}),
      ...(o.resendUnconfirmedAfterMs ? { resendUnconfirmedAfterMs: o.resendUnconfirmedAfterMs } : {}),
      ...(o.alarmDeliveryBoundMs ? { alarmDeliveryBoundMs: o.alarmDeliveryBoundMs } : {}),
    },
    log: { level: 'info' },
  };
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

export interface AgentProcess {
  process: ChildProcess;
  logs: string[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts the agent, `vigil run --config <configFile>`, with `env` added to this process's
 * environment. `entry` replaces `vigil run` by a test-only entry point taking `--config`
 * (`FAULT_AGENT`).
 */
export function startAgentProcess(configFile: string, env: NodeJS.ProcessEnv = {}, entry?: string): AgentProcess {
  const command = entry === undefined ? [VIGIL_CLI, 'run'] : [entry];
  const child = spawn(process.execPath, [...command, '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const logs: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => logs.push(l));
  createInterface({ input: child.stdout! }).on('line', (l) => logs.push(l));
  return {
    process: child,
    logs,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exitOf(child);
    },
  };
}
