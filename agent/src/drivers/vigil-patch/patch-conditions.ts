/**
 * The technical conditions the patch driver detects by itself, each a technical alarm while
 * active (DriverCondition): what the patch reports in its STATUS frame (a low battery, a
 * sensor fault), and what the driver counts in a window on the monotonic clock (signal
 * processing failing repeatedly, frames lost in sequence gaps). An edge is emitted only when
 * a condition changes.
 */
import type { Clock } from '../../clock';
import { RateWindow } from '../../safety/alarms';
import type { DriverConditionKey } from '../../safety/conditions';
import type { DriverCondition } from '../driver';
import type { PatchCondition } from './frame-layout';

/** Native failures within NATIVE_FAILURE_WINDOW_MS that raise the technical condition. */
export const NATIVE_FAILURE_ALARM_COUNT = 3;
export const NATIVE_FAILURE_WINDOW_MS = 60_000;
/** Frames lost (sequence gaps) within LOST_FRAMES_WINDOW_MS that raise the technical condition. */
export const LOST_FRAMES_ALARM_COUNT = 16;
export const LOST_FRAMES_WINDOW_MS = 10_000;

export class PatchConditions {
  /** Native failures (a batch or the fusion), added by the signal processing. */
  readonly nativeFailures: RateWindow;
  private readonly lostFrames: RateWindow;
  private readonly active = new Set<DriverConditionKey>();

  constructor(
    private readonly interfaceId: string,
    clock: Clock,
    private readonly emit: (condition: DriverCondition) => void,
  ) {
    this.nativeFailures = new RateWindow(clock, NATIVE_FAILURE_WINDOW_MS);
    this.lostFrames = new RateWindow(clock, LOST_FRAMES_WINDOW_MS, 1000);
  }

  /** What the patch reports in a STATUS frame. */
  fromStatus(conditions: readonly PatchCondition[]): void {
    this.setCondition('low-battery', conditions.includes('low-battery'), 'the patch reports a low battery: replace or charge it');
    this.setCondition('device-fault', conditions.includes('sensor-fault'), 'the patch reports a sensor fault');
  }

  /** A sequence gap: `missing` frames lost (at most the alarm count is kept, the window is bounded). */
  framesLost(missing: number): void {
    for (let i = 0; i < Math.min(missing, LOST_FRAMES_ALARM_COUNT); i++) this.lostFrames.add();
  }

  /** Signal processing failing repeatedly: the values from the patch are unavailable. */
  checkSignalProcessing(): void {
    this.setCondition(
      'signal-processing-failed',
      this.nativeFailures.count() >= NATIVE_FAILURE_ALARM_COUNT,
      `signal processing failed ${NATIVE_FAILURE_ALARM_COUNT} times within ${NATIVE_FAILURE_WINDOW_MS / 1000} s: values from the patch are unavailable`,
    );
  }

  /** On every tick: the windowed conditions, which also clear as their window empties. */
  tick(): void {
    this.checkSignalProcessing();
    this.setCondition(
      'frames-lost',
      this.lostFrames.count() >= LOST_FRAMES_ALARM_COUNT,
      `${LOST_FRAMES_ALARM_COUNT} or more frames lost within ${LOST_FRAMES_WINDOW_MS / 1000} s (sequence gaps)`,
    );
  }

  /** The priority is the catalogue's (safety/conditions.ts), not the driver's. */
  private setCondition(condition: DriverConditionKey, active: boolean, detail: string): void {
    if (active === this.active.has(condition)) return;
    if (active) this.active.add(condition);
    else this.active.delete(condition);
    this.emit({ interfaceId: this.interfaceId, condition, active, detail });
  }
}
