/**
 * The systemd boundary (Type=notify, WatchdogSec=): READY when the agent is ready,
 * WATCHDOG pings only while every mandatory stage makes progress (safety/watchdog.ts
 * decides), STATUS text for `systemctl status`, STOPPING on shutdown. The datagram is
 * sent by the native addon (Node has no Unix datagram sockets).
 */
import type { Logger } from '../log';
import { sdNotify } from '../native/addon';

export interface Supervisor {
  /** The watchdog period systemd expects pings within, or null when not supervised. */
  readonly watchdogIntervalMs: number | null;
  ready(status: string): void;
  watchdog(): void;
  status(text: string): void;
  stopping(): void;
}

/** WATCHDOG_USEC (and WATCHDOG_PID, when set, must be us): the period in ms, or null. */
export function watchdogIntervalFromEnv(env: NodeJS.ProcessEnv, pid: number): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID !== undefined && Number(env.WATCHDOG_PID) !== pid) return null;
  return usec / 1000;
}

export function systemdSupervisor(logger: Logger, env: NodeJS.ProcessEnv = process.env): Supervisor {
  const send = (message: string): void => {
    try {
      sdNotify(message);
    } catch (err) {
      logger.warn('sd-notify-failed', { error: (err as Error).message });
    }
  };
  const supervised = typeof env.NOTIFY_SOCKET === 'string' && env.NOTIFY_SOCKET !== '';
  return {
    watchdogIntervalMs: supervised ? watchdogIntervalFromEnv(env, process.pid) : null,
    ready: (status) => send(`READY=1\nSTATUS=${status}\nMAINPID=${process.pid}`),
    watchdog: () => send('WATCHDOG=1'),
    status: (text) => send(`STATUS=${text}`),
    stopping: () => send('STOPPING=1'),
  };
}
