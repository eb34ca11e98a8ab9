/**
 * Wires one simulated device: scenario -> device emulation -> runner (pacing) -> pty.
 * Used by the CLI and, in-process, by tests.
 */
import type { MasimoDeviceTime } from './devices/masimo-ascii';
import type { SimConfig } from './args';
import { MasimoAsciiDevice } from './devices/masimo-ascii';
import { openPty, type OpenPtyOptions, type Pty } from './pty';
import { performanceClock, startRunner, type AlarmBitsEvent, type FrameEvent, type MonotonicClock, type Runner } from './runner';
import { createScenario } from './scenarios';

/** The serial number the simulated device reports (a made-up value). */
export const SIMULATED_SERIAL_NUMBER = '0000012345';

export interface SimulatorDeps {
  clock?: MonotonicClock;
  wallNowMs?: () => number;
  /** Device clock at frame 0 when the config has no --start-time. */
  defaultStartTime?: () => MasimoDeviceTime;
  onFrame?: (event: FrameEvent) => void;
  /** A line whose ALARM field differs from the previous line's (runner.ts AlarmBitsEvent). */
  onAlarmBits?: (event: AlarmBitsEvent) => void;
  /** Bytes the agent wrote to the device (the oximeter ignores them; reported for tests). */
  onReceived?: (bytes: Buffer) => void;
  /** The agent opened the port for the first time: frame 0 is sent now. */
  onPortOpened?: () => void;
  /** The agent closed the port (frames keep going, held by the pty until it reopens). */
  onPortClosed?: () => void;
  /** socat ended without stop(): the device is gone. */
  onPtyExit?: (detail: string) => void;
  pty?: Pick<OpenPtyOptions, 'socatPath' | 'startTimeoutMs'>;
}

export interface Simulator {
  readonly pty: Pty;
  /**
   * Settles when the configured number of frames has been sent, or at stop(). The frames
   * start when the agent first opens the port (a device is useful only once connected; it
   * also keeps the ground truth free of frames nobody could receive).
   */
  readonly finished: Promise<void>;
  /** Stops the frames and closes the pty (the agent sees the unplug). */
  stop(): Promise<void>;
}

export function localTimeNow(): MasimoDeviceTime {
  const d = new Date();
  return {
    year: d.getFullYear(),
    month: d.getMonth() + 1,
    day: d.getDate(),
    hour: d.getHours(),
    minute: d.getMinutes(),
    second: d.getSeconds(),
  };
}

export function createDevice(config: SimConfig, startTime: MasimoDeviceTime): MasimoAsciiDevice {
  return new MasimoAsciiDevice({
    scenario: createScenario(config.scenario, config.seed),
    seed: config.seed,
    startTime,
    serialNumber: config.includeSerial ? (config.serialNumber ?? SIMULATED_SERIAL_NUMBER) : null,
    includePvi: config.includePvi,
    alarmLimits: config.alarmLimits,
    injections: config.injections,
  });
}

export async function startSimulator(config: SimConfig, deps: SimulatorDeps = {}): Promise<Simulator> {
  const pty = await openPty({ ...deps.pty, ...(config.link === null ? {} : { link: config.link }) });
  const startTime = config.startTime ?? (deps.defaultStartTime ?? localTimeNow)();
  const device = createDevice(config, startTime);
  if (deps.onReceived !== undefined) pty.onData(deps.onReceived);
  let runner: Runner | null = null;
  let stopped = false;
  let settle: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    settle = resolve;
  });
  pty.onOpened(() => {
    if (stopped) return;
    deps.onPortOpened?.();
    runner = startRunner({
      device: config.device,
      source: device,
      write: (bytes) => pty.write(bytes),
      periodMs: config.periodMs,
      frames: config.frames,
      clock: deps.clock ?? performanceClock,
      wallNowMs: deps.wallNowMs ?? Date.now,
      onFrame: deps.onFrame ?? (() => undefined),
      ...(deps.onAlarmBits ? { onAlarmBits: deps.onAlarmBits } : {}),
    });
    void runner.finished.then(settle);
  });
  if (deps.onPortClosed !== undefined) pty.onAgentClosed(deps.onPortClosed);
  const halt = (): void => {
    stopped = true;
    runner?.stop();
    settle();
  };
  pty.onExit((detail) => {
    halt();
    deps.onPtyExit?.(detail);
  });
  return {
    pty,
    finished,
    async stop() {
      halt();
      await pty.close({ quietMs: config.unplugQuietMs });
    },
  };
}
