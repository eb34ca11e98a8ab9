/**
 * The serial boundary: the ONLY file that imports `serialport`. It opens a device
 * node (a USB serial adapter, a udev link, or hw-sim's pseudo-terminal, all alike),
 * splits the byte stream into frames with a bounded delimiter parser, and stamps
 * each frame with both clocks the moment it is complete.
 *
 * It knows nothing of any device protocol; drivers decode the frames.
 */
import { EventEmitter } from 'node:events';
import { read as fsReadCallback } from 'node:fs';
import { promisify } from 'node:util';
import type { TransformCallback } from 'node:stream';
import { SerialPort } from 'serialport';
import { DelimiterParser } from '@serialport/parser-delimiter';
import type { Clock } from '../clock';
import { DelimitedSplitter } from '../framing/delimited';
import type { SplitEvent } from '../framing/delimited';
import { SerialError } from '../errors';

const fsRead = promisify(fsReadCallback);

type BindingInterface = typeof SerialPort.binding;
interface UnixPortBinding {
  fd: number | null;
  isOpen: boolean;
  poller: { once(event: 'readable', cb: (err: Error | null) => void): unknown };
  read(buffer: Buffer, offset: number, length: number): Promise<{ bytesRead: number; buffer: Buffer }>;
}

/**
 * serialport's stock Linux binding with one change: a 0-byte read is a disconnect.
 *
 * In serialport 13 (bindings-cpp 13.0.0) a 0-byte read is retried at once, forever
 * (serialport/bindings-cpp issue #162, fix proposed in PR #164): a tty that has been hung up
 * (USB adapter unplugged, pty master closed) reads 0 bytes, so when the hang-up lands during
 * a read no 'close' ever comes and the CPU spins. Measured here: 28 of 30 simulated unplugs
 * were missed with the stock binding, 0 of 30 with this one. An unplug that goes unnoticed is
 * a silent failure (HAZ-003), so the agent always uses this binding on Linux.
 */
export const EOF_AWARE_BINDING: BindingInterface = {
  ...SerialPort.binding,
  async open(options: Parameters<BindingInterface['open']>[0]) {
    const port = await SerialPort.binding.open(options as never);
    const unix = port as unknown as UnixPortBinding;
    if (typeof unix.read !== 'function' || !('poller' in unix)) return port; // not the Unix binding
    unix.read = async (buffer, offset, length) => {
      for (;;) {
        if (!unix.isOpen || unix.fd === null) throw Object.assign(new Error('Port is not open'), { canceled: true });
        try {
          const { bytesRead } = await fsRead(unix.fd, buffer, offset, length, null);
          if (bytesRead === 0) throw Object.assign(new Error('end of file: the device hung up'), { disconnect: true });
          return { bytesRead, buffer };
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK' && code !== 'EINTR') throw err;
          // The port may have been closed while the read was in flight: its poller is then
          // destroyed, and polling it crashes the process (SIGSEGV in bindings-cpp's
          // Poller::poll). The stock binding checks this too.
          if (!unix.isOpen || unix.fd === null) throw Object.assign(new Error('Port is not open'), { canceled: true });
          await new Promise<void>((ok, fail) => unix.poller.once('readable', (e) => (e ? fail(e) : ok())));
        }
      }
    };
    return port;
  },
} as BindingInterface;

export interface FrameStamp {
  wallMs: number;
  monoNs: bigint;
}

/**
 * `@serialport/parser-delimiter` with a maximum frame size, and linear. The stock parser buffers
 * without limit while no delimiter arrives (a babbling or mis-configured device would exhaust
 * memory), and joins its whole buffer to each chunk and searches it again (a frame read in k
 * pieces costs O(k x frame)). Its split is replaced by the bounded, linear DelimitedSplitter
 * (framing/delimited.ts): past `maxFrameBytes` the partial frame is discarded, counted as an
 * overflow, and bytes are skipped up to the next delimiter, so the tail of an over-long line is
 * never mistaken for a frame; a complete frame longer than `maxFrameBytes` is an overflow too.
 */
export class BoundedDelimiterParser extends DelimiterParser {
  private readonly splitter: DelimitedSplitter;

  constructor(
    delimiter: Buffer,
    maxFrameBytes: number,
    private readonly onOverflow: () => void,
    private readonly onTruncated: () => void,
  ) {
    super({ delimiter });
    this.splitter = new DelimitedSplitter(delimiter, maxFrameBytes);
  }

  /** Bytes read or copied so far by the splitter (DelimitedSplitter.workBytes). */
  get workBytes(): number {
    return this.splitter.workBytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, cb: TransformCallback): void {
    this.emitAll(this.splitter.push(chunk));
    cb();
  }

  /** At end of stream a partial frame is counted and dropped, never passed on as a frame. */
  override _flush(cb: TransformCallback): void {
    this.emitAll(this.splitter.end());
    cb();
  }

  private emitAll(events: SplitEvent[]): void {
    for (const e of events) {
      if (e.kind === 'frame') this.push(e.bytes);
      else if (e.kind === 'overflow') this.onOverflow();
      else this.onTruncated();
    }
  }
}

export interface SerialLineOptions {
  path: string;
  baudRate: number;
  delimiter: Buffer;
  maxFrameBytes: number;
  clock: Clock;
}

export interface SerialLineEvents {
  frame: [bytes: Buffer, stamp: FrameStamp];
  overflow: [];
  truncated: [];
  open: [];
  close: [reason: string];
}

/**
 * One open serial device. Emits `frame` for every complete frame, `overflow` and
 * `truncated` for discarded bytes, and `close` (with a reason) when the port closes
 * for any cause, including an unplug. It never reopens by itself: the driver decides.
 */
export class SerialLinePort extends EventEmitter<SerialLineEvents> {
  private port: SerialPort | null = null;

  constructor(private readonly options: SerialLineOptions) {
    super();
  }

  get isOpen(): boolean {
    return this.port?.isOpen ?? false;
  }

  /** Opens the device 8N1 at the configured rate; rejects with SerialError('SERIAL_OPEN'). */
  open(): Promise<void> {
    const { path, baudRate, delimiter, maxFrameBytes, clock } = this.options;
    return new Promise((resolve, reject) => {
      const port = new SerialPort({
        path,
        baudRate,
        dataBits: 8,
        parity: 'none',
        stopBits: 1,
        autoOpen: false,
        // serialport's constructor honours `binding` (it spreads the options over its
        // default), though its type leaves it out.
        ...({ binding: EOF_AWARE_BINDING } as object),
      });
      const parser = new BoundedDelimiterParser(
        delimiter,
        maxFrameBytes,
        () => this.emit('overflow'),
        () => this.emit('truncated'),
      );
      port.pipe(parser);
      parser.on('data', (bytes: Buffer) => {
        this.emit('frame', bytes, { wallMs: clock.wallMs(), monoNs: clock.monoNs() });
      });
      port.on('close', (err: (Error & { disconnected?: boolean }) | null) => {
        if (this.port === port) this.port = null;
        this.emit('close', err?.disconnected ? 'disconnected' : 'closed');
      });
      // Errors after open also end in 'close' (serialport closes on a read error);
      // listening here keeps an 'error' from becoming an uncaught exception.
      port.on('error', () => undefined);
      port.open((err) => {
        if (err) {
          reject(new SerialError('SERIAL_OPEN', `cannot open ${path}: ${err.message}`, { cause: err }));
          return;
        }
        this.port = port;
        this.emit('open');
        resolve();
      });
    });
  }

  /** Writes bytes to the device (start commands); rejects with SerialError('SERIAL_IO'). */
  write(bytes: Buffer): Promise<void> {
    const port = this.port;
    if (!port) return Promise.reject(new SerialError('SERIAL_IO', `${this.options.path} is not open`));
    return new Promise((resolve, reject) => {
      port.write(bytes, (err) => {
        if (err) reject(new SerialError('SERIAL_IO', `write to ${this.options.path} failed: ${err.message}`, { cause: err }));
        else resolve();
      });
    });
  }

  close(): Promise<void> {
    const port = this.port;
    this.port = null;
    if (!port?.isOpen) return Promise.resolve();
    return new Promise((resolve) => port.close(() => resolve()));
  }
}
