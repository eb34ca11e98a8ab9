/**
 * The MQTT session takeover of issue 14 (HAZ-016): other certificates connecting, one after the
 * other, with a running gateway's client id. A broker that lets a client id be used by any
 * certificate disconnects the gateway at each attempt (MQTT v5 3.1.4: the existing session is
 * taken over), publishes its last will, and the station shows the bed offline. Used by the security
 * system tests on the tests' broker (test/support/broker.ts) and on the shipped example configuration
 * (docs/deploy/mosquitto.conf); the console station view is watched as a nurse would see it.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { BedView } from '../../agent/src/station/station';
import type { TlsFiles } from './observer';
import { attemptConnect, sleep } from './observer';
import { exitOf, VIGIL_CLI } from './processes';

export interface TakeoverAttempt {
  tls: TlsFiles;
  clientId: string;
}

/**
 * Runs the attempts one after the other, one every `periodMs` (each connects, then leaves);
 * resolves with each attempt's outcome: 'connected', or why it was refused.
 */
export async function takeoverAttempts(url: string, attempts: readonly TakeoverAttempt[], periodMs: number): Promise<string[]> {
  const outcomes: string[] = [];
  for (const a of attempts) {
    const startedMs = Date.now();
    outcomes.push(await attemptConnect(url, { ...a.tls, clientId: a.clientId }));
    await sleep(Math.max(0, periodMs - (Date.now() - startedMs)));
  }
  return outcomes;
}

export interface StationViewWatch {
  /** Every view the station printed (`vigil station --json`), in order. */
  views: Array<{ t: number; connected: boolean; beds: BedView[] }>;
  /** The bed of this gateway in the latest view. */
  latest(gatewayId: string): BedView | undefined;
  stop(): Promise<void>;
}

/** Starts the console station view (`vigil station --json`) with these certificate files. */
export function watchStationView(url: string, tls: TlsFiles, refreshMs = 200): StationViewWatch {
  const child = spawn(
    process.execPath,
    [VIGIL_CLI, 'station', '--url', url, '--json', '--refresh-ms', String(refreshMs), '--ca', tls.caFile, '--cert', tls.certFile, '--key', tls.keyFile],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const views: StationViewWatch['views'] = [];
  createInterface({ input: child.stdout }).on('line', (line) => views.push(JSON.parse(line) as StationViewWatch['views'][number]));
  return {
    views,
    latest: (gatewayId) => views.at(-1)?.beds.find((b) => b.gatewayId === gatewayId),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exitOf(child);
    },
  };
}
