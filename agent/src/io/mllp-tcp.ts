/**
 * The network boundary for device data: the ONLY file that opens a TCP (or TLS) listener for
 * devices. It accepts monitors that send HL7 v2 over MLLP (docs/interfaces/hl7-pcd01.md),
 * splits each connection's byte stream into frames with the bounded MLLP splitter, stamps
 * each frame with both clocks the moment it is complete, and lets the driver answer on the
 * same connection. It knows nothing of HL7 beyond the end block of the frame.
 *
 * Off by default: a listener exists only for an interface configured with transport "tcp".
 * TLS (Node's tls module, TLS 1.2 minimum) unless the interface says "insecure"; with a CA
 * file, a monitor must present a certificate from that CA.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Clock } from '../clock';
import { MllpSplitter } from '../framing/mllp';
import { VigilError } from '../errors';
import type { FrameStamp } from './serial';

/** The listener could not be set up (files unreadable, address in use). */
export class MllpTcpError extends VigilError {
  constructor(code: 'TCP_TLS_FILES' | 'TCP_LISTEN', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export interface MllpTcpOptions {
  host: string;
  port: number;
  tls?: { certFile: string; keyFile: string; caFile?: string } | undefined;
  maxFrameBytes: number;
  /** Connections beyond this are closed at once (counted): one bed has one or two monitors. */
  maxConnections: number;
  clock: Clock;
}

export interface MllpConnection {
  readonly id: number;
  /** "address:port" of the device, for logs. */
  readonly remote: string;
  write(bytes: Uint8Array): Promise<void>;
}

export interface MllpTcpEvents {
  frame: [bytes: Uint8Array, stamp: FrameStamp, connection: MllpConnection];
  overflow: [connection: MllpConnection];
  truncated: [connection: MllpConnection];
  connected: [connection: MllpConnection, open: number];
  disconnected: [connection: MllpConnection, open: number];
  /** A connection beyond maxConnections was closed. */
  refused: [remote: string];
  /** A TLS handshake failed (no or wrong client certificate, wrong protocol). */
  'tls-refused': [detail: string];
  /** The listener failed after it was listening; it is closed. */
  failed: [detail: string];
}

/**
 * "address:port" of a connected device, for logs; "?" for a part the socket no longer knows (a
 * device that disconnected before it was accepted).
 */
export function remoteName(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}

export class MllpTcpServer extends EventEmitter<MllpTcpEvents> {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private nextId = 1;

  constructor(private readonly options: MllpTcpOptions) {
    super();
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  listen(): Promise<{ host: string; port: number }> {
    const o = this.options;
    let server: Server;
    if (o.tls) {
      let files: { cert: Buffer; key: Buffer; ca: Buffer | undefined };
      try {
        files = {
          cert: readFileSync(o.tls.certFile),
          key: readFileSync(o.tls.keyFile),
          ca: o.tls.caFile === undefined ? undefined : readFileSync(o.tls.caFile),
        };
      } catch (cause) {
        // fs errors carry a code (ENOENT, EACCES, EISDIR): named, the path is in the configuration.
        return Promise.reject(new MllpTcpError('TCP_TLS_FILES', `cannot read the listener's TLS files: ${String((cause as NodeJS.ErrnoException).code)}`, { cause }));
      }
      const tlsServer = createTlsServer({
        cert: files.cert,
        key: files.key,
        ...(files.ca ? { ca: files.ca, requestCert: true, rejectUnauthorized: true } : {}),
        minVersion: 'TLSv1.2',
      });
      tlsServer.on('secureConnection', (socket) => this.accept(socket));
      tlsServer.on('tlsClientError', (err) => this.emit('tls-refused', err.message));
      server = tlsServer;
    } else {
      server = createServer((socket) => this.accept(socket));
    }
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(new MllpTcpError('TCP_LISTEN', `cannot listen on ${o.host}:${o.port}: ${err.message}`, { cause: err }));
      };
      server.once('error', onError);
      server.listen(o.port, o.host, () => {
        server.removeListener('error', onError);
        server.on('error', (err) => {
          this.emit('failed', err.message);
          void this.close();
        });
        this.server = server;
        // A TCP listener's address is an AddressInfo (a string only for a pipe or socket file).
        const address = server.address() as AddressInfo;
        resolve({ host: address.address, port: address.port });
      });
    });
  }

  /** Closes the listener and every connection. */
  close(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server === null) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    const remote = remoteName(socket);
    if (this.sockets.size >= this.options.maxConnections) {
      this.emit('refused', remote);
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.setNoDelay(true);
    // A monitor that vanished without closing is noticed by TCP keepalive, not only by the
    // driver's quiet time.
    socket.setKeepAlive(true, 30_000);
    const connection: MllpConnection = {
      id: this.nextId++,
      remote,
      write: (bytes) =>
        new Promise((resolve, reject) => {
          if (socket.destroyed) {
            reject(new Error('connection closed'));
            return;
          }
          socket.write(bytes, (err) => (err ? reject(err) : resolve()));
        }),
    };
    const splitter = new MllpSplitter(this.options.maxFrameBytes);
    const { clock } = this.options;
    const handle = (events: ReturnType<MllpSplitter['push']>): void => {
      for (const e of events) {
        if (e.kind === 'frame') this.emit('frame', e.bytes, { wallMs: clock.wallMs(), monoNs: clock.monoNs() }, connection);
        else if (e.kind === 'overflow') this.emit('overflow', connection);
        else this.emit('truncated', connection);
      }
    };
    socket.on('data', (chunk: Buffer) => handle(splitter.push(chunk)));
    // Errors end in 'close'; listening keeps an 'error' from becoming an uncaught exception.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      handle(splitter.end());
      this.sockets.delete(socket);
      this.emit('disconnected', connection, this.sockets.size);
    });
    this.emit('connected', connection, this.sockets.size);
  }
}
