/**
 * The EOF-aware serial binding (agent/src/io/serial.ts) when the port is closed while a read
 * is in flight: the read comes back EAGAIN after the close, and the binding must not wait on
 * the closed port's poller (bindings-cpp destroyed it: Poller::poll on it is a SIGSEGV, seen
 * when the agent stopped mid-read). A real non-blocking FIFO gives the real EAGAIN; the port
 * object around it is a stand-in whose "open" flag turns false once the read has started.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { SerialPort } from 'serialport';
import { EOF_AWARE_BINDING } from '../../agent/src/io/serial';

t.test('REQ-SERIAL-004 a port closed while a read is in flight: the read is cancelled and the destroyed poller is not touched', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-fifo-'));
  const fifo = join(dir, 'tty');
  execFileSync('mkfifo', [fifo]);
  const readFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const writeFd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK); // a writer that sends nothing: reads give EAGAIN
  t.teardown(() => {
    closeSync(readFd);
    closeSync(writeFd);
    rmSync(dir, { recursive: true, force: true });
  });
  let openChecks = 0;
  let polls = 0;
  const stand_in = {
    fd: readFd as number | null,
    // Open when the read starts; closed by the time its EAGAIN comes back.
    get isOpen() {
      openChecks += 1;
      return openChecks === 1;
    },
    poller: {
      once(): void {
        polls += 1;
      },
    },
    read: async () => ({ bytesRead: 0, buffer: Buffer.alloc(0) }),
  };
  const binding = SerialPort.binding as unknown as { open: (o: unknown) => Promise<unknown> };
  const realOpen = binding.open;
  binding.open = async () => stand_in;
  t.teardown(() => {
    binding.open = realOpen;
  });
  const port = (await EOF_AWARE_BINDING.open({ path: fifo, baudRate: 9600 } as never)) as unknown as typeof stand_in & {
    read(b: Buffer, o: number, l: number): Promise<unknown>;
  };
  const err = await port.read(Buffer.alloc(64), 0, 64).then(
    () => null,
    (e: Error & { canceled?: boolean }) => e,
  );
  t.ok(err, 'the read fails');
  t.equal(err?.canceled, true, 'as cancelled (the port is closed), not as a device error');
  t.equal(polls, 0, 'the closed port\'s poller is never polled');
});
