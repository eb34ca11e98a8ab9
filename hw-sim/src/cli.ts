#!/usr/bin/env node
/**
 * hw-sim: plays a bedside device on a real pseudo-terminal.
 *
 *   hw-sim vigil-patch [options]          (the sensor patch: hw-sim vigil-patch --help)
 *   hw-sim hl7-monitor [options]          (the HL7 PCD-01 monitor: hw-sim hl7-monitor --help)
 *   hw-sim masimo-ascii [--scenario stable] [--seed 1] [--period-ms 1000] [--link /tmp/vigil-masimo]
 *                       [--frames N [--exit-after-frames]] [--inject kind@index,...]
 *                       [--start-time 2026-01-01T10:00:00] [--no-serial] [--pvi]
 *
 * Frames start when the agent first opens the port, then follow the period drift-free.
 * stdout: line 1 is the pty path (for `head -1`), line 2 `link <path>` when --link is given.
 * stderr: one JSON object per line (events; the "frame" events are the ground truth), and
 *         plain-text "hw-sim: ..." messages for fatal errors.
 * exit:   0 after SIGINT/SIGTERM or --exit-after-frames; 1 when socat fails or ends under us;
 *         2 for bad arguments.
 */
import { parseArgs, USAGE, type SimConfig } from './args';
import { PtyError } from './pty';
import { startSimulator, type Simulator } from './simulator';
import { runVigilPatch } from './vigil-patch-cli';
import { runHl7Monitor } from './hl7-monitor-cli';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

function emit(event: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify(event)}\n`);
}

export async function main(argv: readonly string[]): Promise<number> {
  // The sensor patch has its own options and event stream (hw-sim/src/vigil-patch-cli.ts).
  if (argv[0] === 'vigil-patch') return runVigilPatch(argv.slice(1));
  // The HL7 monitor likewise (hw-sim/src/hl7-monitor-cli.ts).
  if (argv[0] === 'hl7-monitor') return runHl7Monitor(argv.slice(1));
  const parsed = parseArgs(argv);
  if (!parsed.ok) {
    if (parsed.help) {
      process.stdout.write(USAGE);
      return EXIT_OK;
    }
    process.stderr.write(`${parsed.message}\n(hw-sim --help for usage)\n`);
    return EXIT_USAGE;
  }
  return run(parsed.config);
}

function run(config: SimConfig): Promise<number> {
  return new Promise<number>((resolve) => {
    let ending = false;
    // A reader that stops reading stdout (e.g. `| head -1`) must not kill the simulator.
    process.stdout.on('error', () => undefined);

    const starting = startSimulator(config, {
      onFrame: (event) => emit({ ...event }),
      onReceived: (bytes) => emit({ event: 'received', device: config.device, bytes: bytes.length }),
      onPortOpened: () => emit({ event: 'port-opened', device: config.device }),
      onPortClosed: () => emit({ event: 'port-closed', device: config.device }),
      onPtyExit: (detail) => {
        emit({ event: 'pty-exit', device: config.device, detail });
        end(EXIT_FAILURE);
      },
    });

    /** Stops the frames and closes the pty (once started), then resolves with `code`. */
    function end(code: number): void {
      if (ending) return;
      ending = true;
      void starting
        .then((sim: Simulator) => sim.stop(), () => undefined)
        .then(() => resolve(code));
    }
    process.once('SIGINT', () => end(EXIT_OK));
    process.once('SIGTERM', () => end(EXIT_OK));

    starting.then(
      (sim) => {
        if (ending) return; // a signal arrived while socat was starting: end() closes it
        process.stdout.write(`${sim.pty.path}\n`);
        if (sim.pty.link !== null) process.stdout.write(`link ${sim.pty.link}\n`);
        emit({
          event: 'start',
          device: config.device,
          path: sim.pty.path,
          link: sim.pty.link,
          scenario: config.scenario,
          seed: config.seed,
          periodMs: config.periodMs,
          frames: config.frames,
        });
        void sim.finished.then(() => {
          if (ending) return;
          emit({ event: 'frames-done', device: config.device });
          if (config.exitAfterFrames) end(EXIT_OK);
        });
      },
      (err: unknown) => {
        process.stderr.write(`${err instanceof PtyError ? err.message : `hw-sim: ${String(err)}`}\n`);
        end(EXIT_FAILURE);
      },
    );
  });
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
    // Signal listeners and any leftover handle must not keep the process alive.
    process.exit(code);
  });
}
