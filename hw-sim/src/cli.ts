#!/usr/bin/env node
/**
 * hw-sim: plays a bedside device on a real pseudo-terminal.
 *
 *   hw-sim vigil-patch [options]          (the sensor patch: hw-sim vigil-patch --help)
 *   hw-sim hl7-monitor [options]          (the HL7 PCD-01 monitor: hw-sim hl7-monitor --help)
 *   hw-sim replay <capture> --device ...  (a recorded capture, on a pty or MLLP/TCP: hw-sim replay --help)
 *   hw-sim masimo-ascii [--scenario stable] [--seed 1] [--period-ms 1000] [--link /tmp/vigil-masimo]
 *                       [--frames N [--exit-after-frames]] [--inject kind@index,...]
 *                       [--start-time 2026-01-01T10:00:00] [--no-serial] [--pvi]
 *
 * Frames start when the agent first opens the port, then follow the period drift-free.
 * stdout: line 1 is the pty path (for `head -1`), line 2 `link <path>` when --link is given.
 * stderr: one JSON object per line (events; the "frame" events are the ground truth, an "alarm-bits"
 *         event follows each frame whose ALARM field changed, with its onset's time), and
 *         plain-text "hw-sim: ..." messages for fatal errors.
 * exit:   0 after SIGINT/SIGTERM or --exit-after-frames; 1 when socat fails or ends under us;
 *         2 for bad arguments.
 */
import { parseArgs, USAGE } from './args';
import { runDeviceCommand } from './command';
import { startSimulator } from './simulator';
import { runVigilPatch } from './vigil-patch-cli';
import { runHl7Monitor } from './hl7-monitor-cli';
import { runReplay } from './replay-cli';

export { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './command';

function emitEvent(event: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify(event)}\n`);
}

export async function main(argv: readonly string[]): Promise<number> {
  // The sensor patch has its own options and event stream (hw-sim/src/vigil-patch-cli.ts).
  if (argv[0] === 'vigil-patch') return runVigilPatch(argv.slice(1));
  // The HL7 monitor likewise (hw-sim/src/hl7-monitor-cli.ts).
  if (argv[0] === 'hl7-monitor') return runHl7Monitor(argv.slice(1));
  // A recorded capture played back (hw-sim/src/replay-cli.ts).
  if (argv[0] === 'replay') return runReplay(argv.slice(1));
  return runDeviceCommand(argv, {
    device: 'masimo-ascii',
    usage: USAGE,
    helpHint: '(hw-sim --help for usage)',
    parse: parseArgs,
    start: (config) =>
      startSimulator(config, {
        onFrame: (event) => emitEvent({ ...event }),
        onAlarmBits: (event) => emitEvent({ ...event }),
        onReceived: (bytes) => emitEvent({ event: 'received', device: config.device, bytes: bytes.length }),
        onPortOpened: () => emitEvent({ event: 'port-opened', device: config.device }),
        onPortClosed: () => emitEvent({ event: 'port-closed', device: config.device }),
      }),
    startFields: (c) => ({ scenario: c.scenario, seed: c.seed, periodMs: c.periodMs, frames: c.frames }),
    exitWhenFinished: (c) => c.exitAfterFrames,
    ptyExitIsFailure: true,
  });
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
    // Signal listeners and any leftover handle must not keep the process alive.
    process.exit(code);
  });
}
