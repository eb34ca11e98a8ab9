/**
 * N sensor patches at real time in one process, for the headroom benchmark: each is hw-sim's
 * patch exactly as `hw-sim vigil-patch` runs it (startPatchSimulator: its own pseudo-terminal,
 * device, timing and answers to the agent's commands), with its own seed and serial number.
 * N patches at real time are N times one patch's data rate, with every clock consistent
 * (a single patch sped up would also speed up its host timeout and its device clock).
 *
 *   node dist/test/support/bench/patch-fleet.js --patches 100 [--seed 1] [--leads-off-every 20]
 *
 * `--leads-off-every S`: patch i has its electrodes off for 2 s every S device seconds,
 * from second 8 + (i mod S) on: a technical alarm raised and cleared, so that alarms are part
 * of the load and any lost one is seen.
 *
 * stdout: `{"paths":[...]}` once every pty exists, then one JSON line per device second per
 * patch: {"p": patch index, "tick": tick of the STATUS frame, "sent": sentWallMs,
 *         "streaming": bool, "dropped": bool, "late": lateMs, "leadOff": bool}
 */
import { parseArgs } from 'node:util';
import { startPatchSimulator, type PatchSimulator } from '../../../hw-sim/src/vigil-patch-cli';
import type { PatchInjection } from '../../../hw-sim/src/devices/vigil-patch';

const U32 = 0x1_0000_0000;

export interface FleetSecond {
  p: number;
  tick: number;
  sent: number;
  streaming: boolean;
  dropped: boolean;
  late: number;
  leadOff: boolean;
}

/** Patch i's serial number: 8 upper-case hex digits, distinct per patch. */
export function fleetSerial(i: number): string {
  return (0x00c0f000 + i).toString(16).toUpperCase().padStart(8, '0');
}

export function leadsOffInjections(i: number, everyS: number, horizonS = 3600): PatchInjection[] {
  if (everyS <= 0) return [];
  const out: PatchInjection[] = [];
  for (let at = 8 + (i % everyS); at < horizonS; at += everyS) out.push({ kind: 'leads-off', atS: at, durationS: 2 });
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { patches: { type: 'string', default: '1' }, seed: { type: 'string', default: '1' }, 'leads-off-every': { type: 'string', default: '0' } },
  });
  const n = Number(values.patches);
  const seed = Number(values.seed);
  const everyS = Number(values['leads-off-every']);
  if (!Number.isInteger(n) || n < 1 || n > 1000 || !Number.isInteger(seed) || !Number.isInteger(everyS) || everyS < 0) {
    process.stderr.write('usage: patch-fleet --patches N(1-1000) [--seed S] [--leads-off-every S]\n');
    process.exit(2);
  }
  // Each pty registers an exit handler on the process (hw-sim/src/pty.ts): N of them here.
  process.setMaxListeners(0);
  const out: string[] = [];
  const flush = (): void => {
    if (out.length > 0) process.stdout.write(`${out.join('\n')}\n`);
    out.length = 0;
  };
  const sims: PatchSimulator[] = [];
  for (let i = 0; i < n; i += 1) {
    const sim = await startPatchSimulator(
      {
        scenario: 'stable',
        seed: seed + i,
        link: null,
        serial: fleetSerial(i),
        injections: leadsOffInjections(i, everyS),
        seconds: null,
        exitAfter: false,
        replay: null,
        autoStart: false,
        unplugQuietMs: 0,
      },
      {
        emit: (e) => {
          if (e.event !== 'frame') return;
          const line: FleetSecond = {
            p: i,
            // The frame event gives the tick of the second's last 200 ms block; its STATUS frame is 200 ms later.
            tick: ((Number(e.tickMs) + 200) % U32 + U32) % U32,
            sent: Number(e.sentWallMs),
            streaming: e.streaming === true,
            dropped: e.dropped === true,
            late: Number(e.lateMs),
            leadOff: e.leadOff === true,
          };
          out.push(JSON.stringify(line));
        },
      },
    );
    sims.push(sim);
  }
  process.stdout.write(`${JSON.stringify({ paths: sims.map((s) => s.pty.path) })}\n`);
  const timer = setInterval(flush, 100);
  const stop = (): void => {
    clearInterval(timer);
    flush();
    void Promise.all(sims.map((s) => s.stop())).then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`patch-fleet: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
