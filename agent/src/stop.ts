/**
 * A bounded stop: each step of stopping the agent (drivers, the offline status, closing the
 * broker session) may take at most STOP_STEP_MS, so that systemd's TimeoutStopSec (15 s) is
 * never reached by a port that does not close or a broker that vanished mid-stop.
 */
import type { Logger } from './log';

/** Longest one step of a stop may take (drivers, offline status, MQTT close); systemd allows 15 s in all. */
export const STOP_STEP_MS = 3000;

/** Waits for one stop step, at most `limitMs`; a failure or a timeout is logged, never thrown. */
export async function bounded(logger: Logger, step: string, work: Promise<unknown>, limitMs = STOP_STEP_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), limitMs)));
  try {
    if ((await Promise.race([work, late])) === 'late') logger.warn('stop-step-timeout', { step, afterMs: limitMs });
  } catch (err) {
    logger.warn('stop-step-failed', { step, error: (err as Error).message });
  } finally {
    clearTimeout(timer);
  }
}
