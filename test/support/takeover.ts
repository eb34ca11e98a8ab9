/**
 * The MQTT session takeover of issue 14 (HAZ-016): other certificates connecting, one after the
 * other, with a running gateway's client id. A broker that lets a client id be used by any
 * certificate disconnects the gateway at each attempt (MQTT v5 3.1.4: the existing session is
 * taken over), publishes its last will, and the station shows the bed offline. Used by the security
 * system tests on the tests' broker (test/support/broker.ts) and on the shipped example configuration
 * (docs/deploy/mosquitto.conf); the console station view is watched as a nurse would see it.
 */
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { createInterface } from 'node:readline';
import type { BedAddress } from '../../agent/src/publish/topics';
import { topics } from '../../agent/src/publish/topics';
import type { BedView } from '../../agent/src/station/station';
import type { Received, TlsFiles } from './observer';
import { attemptConnect, sleep } from './observer';
import { exitOf, VIGIL_CLI } from './processes';

export interface TakeoverAttack {
  url: string;
  /** The gateway whose session is attacked. */
  gatewayId: string;
  /** The certificate files the attempts take turns with (other identities of the same CA). */
  attackers: readonly TlsFiles[];
  attempts: number;
  periodMs: number;
}

/**
 * Connects `attempts` times, one every `periodMs` (each connects, then leaves), with the client
 * ids of the gateway in turn: the one the agent asks for (publish/mqtt-session.ts; whoever knows the
 * gateway's name and host name knows it) and its certificate name (the one a broker that binds ids
 * to certificates gives it). Resolves with each attempt's outcome: 'connected', or why it was refused.
 */
export async function takeoverAttack(a: TakeoverAttack): Promise<string[]> {
  const victimIds = [`vigil-${a.gatewayId}-${hostname()}`.slice(0, 64), a.gatewayId];
  const outcomes: string[] = [];
  for (let i = 0; i < a.attempts; i++) {
    const startedMs = Date.now();
    const tls = a.attackers[i % a.attackers.length]!;
    outcomes.push(await attemptConnect(a.url, { ...tls, clientId: victimIds[Math.floor(i / 2) % 2]! }));
    await sleep(Math.max(0, a.periodMs - (Date.now() - startedMs)));
  }
  return outcomes;
}

/** How often Mosquitto logged a new connection under this client id (`log_type notice`). */
export function connectionsLogged(brokerLog: readonly string[], clientId: string): number {
  return brokerLog.join('').match(new RegExp(`New client connected from \\S+ as ${clientId} \\(`, 'g'))?.length ?? 0;
}

/** What a gateway's agent and the station saw of its session: connections, losses, offline statuses. */
export function sessionDisturbance(agentLogs: readonly string[], got: readonly Received[], bed: BedAddress): { connections: number; offline: number; offlineStatuses: string[] } {
  return {
    connections: agentLogs.filter((l) => l.includes('"event":"mqtt-connected"')).length,
    offline: agentLogs.filter((l) => l.includes('"event":"mqtt-offline"')).length,
    offlineStatuses: got.filter((r) => r.topic === topics.status(bed) && r.env.status && !r.env.status.online).map((r) => r.env.status?.reason ?? ''),
  };
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
