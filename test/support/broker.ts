/**
 * A private Mosquitto broker for the system tests and `make run`: its own config in a
 * temporary directory, a free port on the loopback interface, no persistence by default.
 * It is the real broker (Debian's `mosquitto`), not a mock.
 *
 * Options: `tls` (a listener with the test PKI of test/support/pki.ts, client
 * certificates required, the certificate's common name as the user name and as the client
 * id, and an ACL file), `persistence` (sessions and queued messages survive a restart), and
 * `pause()`/`resume()` to stop the broker and start it again on the same port (an
 * outage, not a new broker).
 *
 * `startBrokerFromFile` starts it instead with a configuration file of the repository (the
 * shipped example, docs/deploy/mosquitto.conf), its paths and port replaced.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function findMosquitto(): string {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin']) {
    const candidate = join(dir, 'mosquitto');
    if (dir && existsSync(candidate)) return candidate;
  }
  throw new Error('mosquitto is not installed: run `make deps` (installs Debian\'s mosquitto)');
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`port ${port} did not open within ${timeoutMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

export interface Broker {
  port: number;
  url: string;
  /** The running broker process (replaced by resume()). */
  process: ChildProcess;
  /** Everything the broker logged (notices, warnings, errors). */
  log: string[];
  stop(): Promise<void>;
  /**
   * Stops the broker process, keeping its directory: SIGTERM (it saves its persistence file
   * first), or SIGKILL (a crash: what it last saved is all it will know).
   */
  pause(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts it again on the same port with the same configuration. */
  resume(): Promise<void>;
}

export interface BrokerOptions {
  port?: number;
  log?: (line: string) => void;
  /** A TLS listener requiring client certificates, with this ACL file content. */
  tls?: { caFile: string; certFile: string; keyFile: string; acl: string };
  /** Keep sessions, subscriptions and queued messages across pause()/resume(). */
  persistence?: boolean;
}

export async function startBroker(opts: BrokerOptions = {}): Promise<Broker> {
  const bin = findMosquitto();
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'vigil-mosquitto-'));
  const conf = join(dir, 'mosquitto.conf');
  const lines = [`listener ${port} 127.0.0.1`];
  if (opts.tls) {
    const acl = join(dir, 'acl');
    writeFileSync(acl, opts.tls.acl);
    lines.push(
      `cafile ${opts.tls.caFile}`,
      `certfile ${opts.tls.certFile}`,
      `keyfile ${opts.tls.keyFile}`,
      'require_certificate true',
      'use_identity_as_username true',
      // The client id a client sends is replaced by its certificate's common name: no
      // certificate can take over another client's session (HAZ-016, REQ-SEC-006).
      'use_username_as_clientid true',
      `acl_file ${acl}`,
      'allow_anonymous false',
    );
  } else {
    lines.push('allow_anonymous true');
  }
  if (opts.persistence) {
    lines.push('persistence true', `persistence_location ${dir}/`, 'autosave_interval 0');
  } else {
    lines.push('persistence false');
  }
  lines.push(
    'max_queued_messages 100000',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
  );
  writeFileSync(conf, `${[...lines, ...asTestUser()].join('\n')}\n`);
  return runBroker(bin, conf, dir, port, `${opts.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`, opts.log);
}

/**
 * Started as root, Mosquitto would drop to the `mosquitto` user and could then not
 * read the test's temporary key files or write its persistence file.
 */
function asTestUser(): string[] {
  return process.getuid?.() === 0 ? ['user root'] : [];
}

/**
 * Mosquitto with the configuration file `file` of the repository, unchanged but for: its
 * `listener` (a free port on the loopback interface), the options of `set` (each must be in
 * the file: paths of certificates, ACL, persistence), the log sent to stderr, and the user
 * it runs as. `persistence_location` is the broker's own temporary directory.
 */
export async function startBrokerFromFile(file: string, set: Record<string, string>, opts: { log?: (line: string) => void } = {}): Promise<Broker> {
  const bin = findMosquitto();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'vigil-mosquitto-'));
  const values: Record<string, string> = { listener: `${port} 127.0.0.1`, persistence_location: `${dir}/`, log_dest: 'stderr', ...set };
  const found = new Set<string>();
  const lines = readFileSync(file, 'utf8').split('\n').map((line) => {
    const key = /^([a-z_]+)\s/.exec(line)?.[1];
    if (key === undefined || values[key] === undefined) return line;
    found.add(key);
    return `${key} ${values[key]}`;
  });
  const missing = Object.keys(values).filter((k) => !found.has(k));
  if (missing.length > 0) throw new Error(`${file} has no ${missing.join(', ')}`);
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `${[...lines, ...asTestUser()].join('\n')}\n`);
  const tls = lines.some((l) => /^cafile\s/.test(l));
  return runBroker(bin, conf, dir, port, `${tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`, opts.log);
}

/** Runs Mosquitto on the configuration `conf` (in its directory `dir`), listening on `port`. */
async function runBroker(bin: string, conf: string, dir: string, port: number, url: string, onLog?: (line: string) => void): Promise<Broker> {
  const log: string[] = [];
  let child!: ChildProcess;
  let exited!: Promise<void>;
  const launch = async (): Promise<void> => {
    child = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      log.push(chunk);
      onLog?.(chunk);
    });
    const c = child;
    exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    try {
      await waitForPort(port);
    } catch (err) {
      c.kill('SIGKILL');
      throw new Error(`${(err as Error).message}; mosquitto said: ${log.join('')}`);
    }
  };
  const halt = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      await exited;
    }
  };
  await launch();
  const broker: Broker = {
    port,
    url,
    process: child,
    log,
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
    async pause(signal) {
      await halt(signal);
    },
    async resume() {
      await launch();
      broker.process = child;
    },
  };
  return broker;
}
