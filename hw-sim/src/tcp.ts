/**
 * A TCP connection to the gateway's MLLP listener, as a monitor on the device network opens it
 * (docs/interfaces/hl7-pcd01.md, "Link settings": the monitor connects to the gateway). The only
 * file in hw-sim that opens a socket. Plain TCP: a listener that requires TLS refuses it.
 */
import { connect, type Socket } from 'node:net';

export class TcpError extends Error {
  constructor(readonly code: 'TCP_CONNECT_TIMEOUT', message: string) {
    super(message);
    this.name = 'TcpError';
  }
}

export interface TcpLink {
  /** `tcp <host>:<port>`, printed where a pty command prints its device path. */
  readonly path: string;
  readonly link: null;
  /** Returns false when the socket's buffer is full (the bytes are still queued). */
  write(bytes: Uint8Array): boolean;
  onData(cb: (bytes: Buffer) => void): void;
  /** Called once if the gateway closes the connection, or it fails, before close(). */
  onExit(cb: (detail: string) => void): void;
  close(): Promise<void>;
}

export interface ConnectOptions {
  host: string;
  port: number;
  /** Keep retrying a refused connection this long (the agent may still be starting). */
  timeoutMs: number;
  retryMs?: number;
}

function attempt(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      socket.destroy();
      reject(err);
    });
  });
}

/** Connects, retrying every `retryMs` until `timeoutMs`; rejects with TcpError after that. */
export async function connectTcp(o: ConnectOptions): Promise<TcpLink> {
  const deadline = performance.now() + o.timeoutMs;
  let socket: Socket | null = null;
  let lastError = '';
  while (socket === null) {
    try {
      socket = await attempt(o.host, o.port);
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
      if (performance.now() >= deadline) throw new TcpError('TCP_CONNECT_TIMEOUT', `cannot connect to ${o.host}:${o.port} within ${o.timeoutMs} ms (${lastError})`);
      await new Promise((r) => setTimeout(r, o.retryMs ?? 200));
    }
  }
  const s = socket;
  s.setNoDelay(true);
  let closing = false;
  let exitCb: ((detail: string) => void) | null = null;
  let exited = false;
  const exit = (detail: string): void => {
    if (closing || exited) return;
    exited = true;
    exitCb?.(detail);
  };
  s.on('error', (err) => exit(`connection failed: ${err.message}`));
  s.on('close', () => exit('the gateway closed the connection'));
  return {
    path: `tcp ${o.host}:${o.port}`,
    link: null,
    write: (bytes) => s.write(bytes),
    onData: (cb) => void s.on('data', cb),
    onExit: (cb) => {
      exitCb = cb;
    },
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        if (s.destroyed) return resolve();
        s.once('close', () => resolve());
        s.end();
        // A peer that never closes its side must not hold us.
        setTimeout(() => s.destroy(), 1000).unref();
      }),
  };
}
