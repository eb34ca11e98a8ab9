/**
 * What every `hw-sim <device>` command does around its device, in one place: parse the
 * options (the usage on --help, exit 2 on a bad one), start the device on its pseudo-terminal,
 * print the pty path on stdout (then `link <path>`), log a `start` event, and end:
 *   0  after SIGINT or SIGTERM, or once the device's frames are done when asked to exit then;
 *   1  when socat cannot start, or ends under the device (unless the device closes its pty on
 *      purpose, as the sensor patch's unplug injection does), or when a replay's capture cannot
 *      be read or its TCP connection cannot be made or is lost.
 * stderr carries one JSON event per line (the device's own events and these); fatal errors
 * are plain `hw-sim: ...` lines.
 */
import type { SplitResult } from './options';
import type { Pty } from './pty';
import { PtyError } from './pty';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A device playing on its line (the simulators' common face): a pty, or a TCP connection for a replay. */
export interface RunningDevice {
  /** Where the agent reaches the device: its path is printed first on stdout. */
  readonly pty: Pick<Pty, 'path' | 'link' | 'onExit'>;
  /** Settles once the asked number of frames (messages, seconds) was sent, or at stop(). */
  readonly finished: Promise<void>;
  stop(): Promise<void>;
}

export type ParseResult<C> = { ok: true; config: C } | Exclude<SplitResult, { ok: true }>;

export interface DeviceCommand<C> {
  /** The device name in the events, e.g. "vigil-patch". */
  device: string;
  usage: string;
  /** The line printed after a bad option, e.g. "(hw-sim vigil-patch --help for usage)". */
  helpHint: string;
  parse(argv: readonly string[]): ParseResult<C>;
  start(config: C, emit: (event: Record<string, unknown>) => void): Promise<RunningDevice>;
  /** What the `start` event says of the configuration, besides device, path and link. */
  startFields(config: C): Record<string, unknown>;
  /** Whether the command ends (0) once the device's frames are done. */
  exitWhenFinished(config: C): boolean;
  /** Whether socat ending under the device ends the command with 1. */
  ptyExitIsFailure: boolean;
}

function emit(event: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify(event)}\n`);
}

/** Runs one `hw-sim <device> ...` command; resolves with its exit code. */
export function runDeviceCommand<C>(argv: readonly string[], cmd: DeviceCommand<C>): Promise<number> {
  const parsed = cmd.parse(argv);
  if (!parsed.ok) {
    if (parsed.help) {
      process.stdout.write(cmd.usage);
      return Promise.resolve(EXIT_OK);
    }
    process.stderr.write(`${parsed.message}\n${cmd.helpHint}\n`);
    return Promise.resolve(EXIT_USAGE);
  }
  const config = parsed.config;
  return new Promise<number>((resolve) => {
    let ending = false;
    // A reader that stops reading stdout (e.g. `| head -1`) must not kill the simulator.
    process.stdout.on('error', () => undefined);
    const starting = cmd.start(config, emit);
    /** Stops the device and closes the pty (once started), then resolves with `code`. */
    const end = (code: number): void => {
      if (ending) return;
      ending = true;
      void starting
        .then((device) => device.stop(), () => undefined)
        .then(() => resolve(code));
    };
    process.once('SIGINT', () => end(EXIT_OK));
    process.once('SIGTERM', () => end(EXIT_OK));
    starting.then(
      (device) => {
        if (ending) return; // a signal arrived while socat was starting: end() closes it
        process.stdout.write(`${device.pty.path}\n`);
        if (device.pty.link !== null) process.stdout.write(`link ${device.pty.link}\n`);
        emit({ event: 'start', device: cmd.device, path: device.pty.path, link: device.pty.link, ...cmd.startFields(config) });
        device.pty.onExit((detail) => {
          if (ending) return;
          emit({ event: 'pty-exit', device: cmd.device, detail });
          if (cmd.ptyExitIsFailure) end(EXIT_FAILURE);
        });
        void device.finished.then(() => {
          if (ending) return;
          emit({ event: 'frames-done', device: cmd.device });
          if (cmd.exitWhenFinished(config)) end(EXIT_OK);
        });
      },
      (err: unknown) => {
        process.stderr.write(`${err instanceof PtyError ? err.message : `hw-sim: ${err instanceof Error ? err.message : String(err)}`}\n`);
        end(EXIT_FAILURE);
      },
    );
  });
}
