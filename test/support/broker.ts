/**
 * A private Mosquitto broker for the system tests and `make run`: its own config in a
 * temporary directory, a free port on the loopback interface, no persistence by default.
 * It is the real broker (Debian's `mosquitto`), not a mock.
 *
 * Options: `tls` (a listener with the test PKI of test/support/pki.ts, client
 * certificates required, the certificate's common name as the user name, and an ACL
 * file), `persistence` (sessions and queued messages survive a restart), and
 * `pause()`/`resume()` to stop the broker and start it again on the same port (an
 * outage, not a new broker).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
  /** Stops the broker process (SIGTERM: it saves its persistence file), keeping its directory. */
  pause(): Promise<void>;
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
  // Started as root, Mosquitto would drop to the `mosquitto` user and could then not
  // read the test's temporary key files or write its persistence file.
  if (process.getuid?.() === 0) lines.push('user root');
  lines.push(
    'max_queued_messages 100000',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    '',
  );
  writeFileSync(conf, lines.join('\n'));
  const log: string[] = [];
  let child!: ChildProcess;
  let exited!: Promise<void>;
  const launch = async (): Promise<void> => {
    child = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      log.push(chunk);
      opts.log?.(chunk);
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
  const halt = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };
  await launch();
  const broker: Broker = {
    port,
    url: `${opts.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    process: child,
    log,
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
    async pause() {
      await halt();
    },
    async resume() {
      await launch();
      broker.process = child;
    },
  };
  return broker;
}
