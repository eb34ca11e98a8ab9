/**
 * A real pseudo-terminal for the simulated device: the agent opens its path exactly as it would
 * open /dev/ttyUSB0, and hw-sim plays the device on the other side.
 *
 * The only file in hw-sim that spawns socat:
 *   [setpriv --pdeathsig TERM --] socat -d -d pty,raw,echo=0,wait-slave,pty-interval=0.02[,link=<link>] -
 * socat owns the pty master; its stdin is what the device sends, its stdout is what the agent
 * writes to the device. Killing socat closes the master, which the agent's open port sees as a
 * hang-up (the unplugged cable).
 *
 * wait-slave: socat starts moving bytes only once the agent has opened the slave (it polls every
 * pty-interval seconds) and logs it; hw-sim uses that notice to start the device, so no frame
 * waits stale in a buffer before the agent is there. socat's notices (socat 1.7.4):
 *   "N PTY is /dev/pts/7"                        the pty exists
 *   "N starting data transfer loop ..."          the agent opened the slave
 *   "N read(5, ...): ... (probably PTY closed)"  the agent closed it (socat keeps running)
 *
 * setpriv (util-linux) asks the kernel to send socat SIGTERM when hw-sim dies, even by SIGKILL:
 * while socat waits for the agent it does not read stdin, so it would not see the end of its
 * parent and would hold the pty (and the link) forever. Without setpriv, socat runs alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { readlink } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

export class PtyError extends Error {
  constructor(
    readonly code: 'SOCAT_MISSING' | 'SOCAT_FAILED' | 'SOCAT_TIMEOUT',
    message: string,
  ) {
    super(message);
    this.name = 'PtyError';
  }
}

export interface Pty {
  /** The slave device, e.g. /dev/pts/7. */
  readonly path: string;
  /** The symbolic link socat made to it, or null. */
  readonly link: string | null;
  /**
   * Sends bytes to the agent. Returns false when the bytes were dropped because nobody has
   * been reading the port for a while (the backlog is full), as a real serial line loses them.
   */
  write(bytes: Uint8Array): boolean;
  /** true once the agent has opened the port (it stays true after the agent closes it). */
  readonly opened: boolean;
  /** Called once, when the agent first opens the port (at once if it already has). */
  onOpened(cb: () => void): void;
  /**
   * Called when the agent closes the port. After that socat no longer relays what the agent
   * sends, and what the device writes stays in the pty (bounded) until the agent reopens it.
   */
  onAgentClosed(cb: () => void): void;
  /** Bytes the agent sends to the device. */
  onData(cb: (bytes: Buffer) => void): void;
  /** Called once if socat ends without close() having been called. */
  onExit(cb: (detail: string) => void): void;
  /**
   * Kills socat (the agent's port sees the unplug) and waits for it to end. By default the
   * hang-up comes at least `quietMs` (QUIET_BEFORE_HANGUP_MS) after the last write, i.e.
   * between two lines, as a real unplug of a 1 Hz device almost always does.
   *
   * Why the default: with serialport 13 on Linux, a hang-up that lands while the agent's
   * read is in flight is read as a 0-byte read, which bindings-cpp retries forever (serialport
   * /bindings-cpp issue #162, PR #164): no 'close', a spinning CPU. Between lines the port
   * waits in its poller, which reports the hang-up. `quietMs: 0` reproduces the race.
   */
  close(opts?: { quietMs?: number }): Promise<void>;
}

export interface OpenPtyOptions {
  /** Path of a symbolic link to create to the slave (replaced if it exists). */
  link?: string;
  /** socat executable; default `socat` from PATH. */
  socatPath?: string;
  /** How long to wait for socat to report the pty; default 5000 ms. */
  startTimeoutMs?: number;
  /**
   * Keep relaying in both directions after the agent closes and reopens the port, as a real
   * serial device does (socat `ignoreeof`). Without it socat takes the close for the end of
   * the agent's side and no longer passes on what the agent writes after a reopen (the
   * pulse oximeter never listens, the sensor patch needs its START and keep-alives).
   */
  survivesReopen?: boolean;
}

/**
 * Bytes queued towards socat beyond which new writes are dropped. A pty whose slave is not
 * open keeps a few KiB then blocks socat; without this cap the queue in this process would grow
 * without bound while no agent reads.
 */
export const PTY_MAX_BACKLOG_BYTES = 64 * 1024;

/** socat -d -d reports e.g. "2026/01/01 10:00:00 socat[123] N PTY is /dev/pts/7". */
const PTY_REPORT = /PTY is (\/dev\/\S+)/;
const OPENED_REPORT = /starting data transfer loop/;
const AGENT_CLOSED_REPORT = /probably PTY closed/;
/** Seconds between socat's checks for the agent opening the slave (wait-slave). */
const SLAVE_POLL_INTERVAL_S = '0.02';
const STDERR_LINE_MAX_CHARS = 4096;
const STDERR_TAIL_CHARS = 2048;
/** Quiet time on the line before the hang-up in close(); see Pty.close. */
export const QUIET_BEFORE_HANGUP_MS = 100;
const CLOSE_BACKSTOP_MS = 2000;

const MISSING_MESSAGE = 'hw-sim: socat not found: run `make deps` (apt-get install socat)';

/** The executable `name` (a path, or looked up on PATH), or null. */
function findExecutable(name: string): string | null {
  const candidates = name.includes('/') ? [name] : (process.env['PATH'] ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export function openPty(opts: OpenPtyOptions = {}): Promise<Pty> {
  const socatPath = findExecutable(opts.socatPath ?? 'socat');
  if (socatPath === null) return Promise.reject(new PtyError('SOCAT_MISSING', MISSING_MESSAGE));
  const setprivPath = findExecutable('setpriv');
  const startTimeoutMs = opts.startTimeoutMs ?? 5000;
  const ptyAddress = [
    'pty',
    'raw',
    'echo=0',
    'wait-slave',
    `pty-interval=${SLAVE_POLL_INTERVAL_S}`,
    ...(opts.survivesReopen === true ? ['ignoreeof'] : []),
    ...(opts.link === undefined ? [] : [`link=${opts.link}`]),
  ].join(',');

  return new Promise<Pty>((resolve, reject) => {
    let child: ChildProcess;
    try {
      const socatArgs = ['-d', '-d', ptyAddress, '-'];
      child =
        setprivPath === null
          ? spawn(socatPath, socatArgs, { stdio: ['pipe', 'pipe', 'pipe'] })
          : spawn(setprivPath, ['--pdeathsig', 'TERM', '--', socatPath, ...socatArgs], { stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (err) {
      reject(spawnError(err));
      return;
    }
    let stderrTail = '';
    let partialLine = '';
    let path: string | null = null;
    let opened = false;
    let closing = false;
    let exited = false;
    let lastWriteMs = -Infinity;
    const exitWaiters: Array<() => void> = [];
    const dataCallbacks: Array<(bytes: Buffer) => void> = [];
    const exitCallbacks: Array<(detail: string) => void> = [];
    const openedCallbacks: Array<() => void> = [];
    const agentClosedCallbacks: Array<() => void> = [];

    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(new PtyError('SOCAT_TIMEOUT', `hw-sim: socat did not report a pty within ${startTimeoutMs} ms`));
    }, startTimeoutMs);

    child.on('error', (err) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      reject(spawnError(err));
    });

    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
      const lines = (partialLine + chunk).split('\n');
      partialLine = (lines.pop() ?? '').slice(-STDERR_LINE_MAX_CHARS);
      for (const line of lines) onSocatNotice(line);
    });

    function onSocatNotice(line: string): void {
      if (path === null) {
        const m = PTY_REPORT.exec(line);
        if (m?.[1] === undefined) return;
        path = m[1];
        const ready = pty(path);
        // socat reports the pty before it makes the link: resolve only once the link is there,
        // so that whoever reads the link line can open it at once.
        void waitForLink(opts.link, path, () => exited || settled).then((linked) => {
          if (!linked || exited) return;
          settled = true;
          clearTimeout(timer);
          resolve(ready);
        });
      } else if (!opened && OPENED_REPORT.test(line)) {
        opened = true;
        for (const cb of openedCallbacks.splice(0)) cb();
      } else if (AGENT_CLOSED_REPORT.test(line)) {
        for (const cb of agentClosedCallbacks) cb();
      }
    }

    child.stdout?.on('data', (chunk: Buffer) => {
      for (const cb of dataCallbacks) cb(chunk);
    });
    // EPIPE after socat died is reported through 'exit'; do not let it crash the simulator.
    child.stdin?.on('error', () => undefined);

    // If this process exits without close() (uncaught error, process.exit), take socat along:
    // while it waits for the agent (wait-slave) it does not read stdin, so it would not notice.
    const killOnExit = (): void => {
      if (!exited) child.kill('SIGKILL');
    };
    process.once('exit', killOnExit);

    child.on('exit', (code, signal) => {
      process.removeListener('exit', killOnExit);
      exited = true;
      clearTimeout(timer);
      const detail = `socat ended (code ${code ?? 'none'}, signal ${signal ?? 'none'}): ${lastLine(stderrTail)}`;
      if (!settled) {
        settled = true;
        reject(new PtyError('SOCAT_FAILED', `hw-sim: ${detail}`));
      } else if (!closing) {
        for (const cb of exitCallbacks) cb(detail);
      }
      for (const waiter of exitWaiters.splice(0)) waiter();
    });

    function pty(ptyPath: string): Pty {
      return {
        path: ptyPath,
        link: opts.link ?? null,
        get opened() {
          return opened;
        },
        onOpened(cb) {
          if (opened) cb();
          else openedCallbacks.push(cb);
        },
        onAgentClosed(cb) {
          agentClosedCallbacks.push(cb);
        },
        write(bytes: Uint8Array): boolean {
          const stdin = child.stdin;
          if (exited || stdin === null || stdin.destroyed) return false;
          if (stdin.writableLength + bytes.length > PTY_MAX_BACKLOG_BYTES) return false;
          stdin.write(bytes);
          lastWriteMs = performance.now();
          return true;
        },
        onData(cb) {
          dataCallbacks.push(cb);
        },
        onExit(cb) {
          exitCallbacks.push(cb);
        },
        close(closeOpts = {}): Promise<void> {
          closing = true;
          if (exited) return Promise.resolve();
          const quietMs = closeOpts.quietMs ?? QUIET_BEFORE_HANGUP_MS;
          const waitMs = Math.max(0, lastWriteMs + quietMs - performance.now());
          return new Promise<void>((done) => {
            let backstop: NodeJS.Timeout | null = null;
            exitWaiters.push(() => {
              if (backstop !== null) clearTimeout(backstop);
              done();
            });
            const hangUp = (): void => {
              if (exited) return;
              // socat ends on SIGTERM; SIGKILL is the backstop so that close() always settles.
              backstop = setTimeout(() => child.kill('SIGKILL'), CLOSE_BACKSTOP_MS);
              child.kill('SIGTERM');
            };
            if (waitMs === 0) hangUp();
            else setTimeout(hangUp, waitMs);
          });
        },
      };
    }
  });
}

const LINK_POLL_MS = 5;

/** Resolves true once `link` points to `target` (at once without a link); false once `giveUp()`. */
async function waitForLink(link: string | undefined, target: string, giveUp: () => boolean): Promise<boolean> {
  if (link === undefined) return true;
  for (;;) {
    if (giveUp()) return false;
    try {
      if ((await readlink(link)) === target) return true;
    } catch {
      // Not there yet (or a stale file socat is about to replace).
    }
    await new Promise((r) => setTimeout(r, LINK_POLL_MS));
  }
}

function spawnError(err: unknown): PtyError {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return new PtyError('SOCAT_MISSING', MISSING_MESSAGE);
  return new PtyError('SOCAT_FAILED', `hw-sim: cannot start socat: ${String(err)}`);
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}
