/**
 * A ward for the ward board's browser tests (test/system/station-web.test.ts): a real Mosquitto with
 * mutual TLS and the ACL, one real agent per bed fed by hw-sim's pulse oximeter on a real pty, the
 * real `vigil station serve` over HTTPS (the test PKI's 127.0.0.1 certificate), a users file written
 * by the real `vigil station add-user`, and Debian's Chromium (test/support/browser.ts). Nothing is
 * mocked. Each part started is handed to `t.teardown`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Broker } from './broker';
import { startBroker } from './broker';
import type { Browser, Page } from './browser';
import type { Observer } from './observer';
import { observe } from './observer';
import type { Pki } from './pki';
import { createPki, STATIONS, vigilAcl } from './pki';
import type { AgentProcess, HwSim } from './processes';
import { exitOf, startAgentProcess, startHwSim, VIGIL_CLI, writeAgentConfig } from './processes';

/** The demo nurse: may act on every bed of the ward. */
export const NURSE = { name: 'nurse-a', displayName: 'Nurse A', password: 'correct horse battery', beds: 'site1/ward7/*' };
/** A user who sees the ward but may act on no bed. */
export const VISITOR = { name: 'viewer-b', displayName: 'Viewer B', password: 'another long password', beds: '' };

export interface WardBed {
  bed: string;
  gatewayId: string;
  sim: HwSim;
  agent: AgentProcess;
  /** The agent's configuration file (to start it again). */
  config: string;
  quietTimeMs: number;
}

export interface Ward {
  pki: Pki;
  broker: Broker;
  /** Sees what the station sees (its own certificate). */
  sub: Observer;
  beds: WardBed[];
  station: ChildProcess;
  stationLog: string[];
  /** The board's address, https://127.0.0.1:PORT/. */
  url: string;
  usersFile: string;
}

export interface BedSpec {
  bedId: string;
  gatewayId: string;
  /** hw-sim masimo-ascii arguments after the device name. */
  simArgs: string[];
  quietTimeMs?: number;
}

async function addUser(usersFile: string, u: { name: string; displayName: string; password: string; beds: string }): Promise<void> {
  const child = spawn(process.execPath, [VIGIL_CLI, 'station', 'add-user', '--users', usersFile, '--name', u.name, '--display-name', u.displayName, '--beds', u.beds], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin!.end(`${u.password}\n`);
  const code = await exitOf(child);
  if (code !== 0) throw new Error(`vigil station add-user exited ${code}: ${err}`);
}

/** Starts the ward: broker, agents with their oximeters, the users file, and `vigil station serve`. */
export async function startWard(t: { teardown(fn: () => unknown): void }, beds: BedSpec[], o: { silentBedMs?: number; sessionTtlMs?: number } = {}): Promise<Ward> {
  const aclBeds = beds.map((b) => ({ gatewayId: b.gatewayId, siteId: 'site1', wardId: 'ward7', bedId: b.bedId }));
  const pki = createPki([...beds.map((b) => b.gatewayId), STATIONS.view, STATIONS.observer]);
  t.teardown(() => pki.remove());
  const broker = await startBroker({ tls: { caFile: pki.caFile, ...pki.broker, acl: vigilAcl(aclBeds, [STATIONS.view, STATIONS.observer]) } });
  t.teardown(() => broker.stop());
  const sub = await observe(broker.url, { tls: pki.clientTls(STATIONS.observer) });
  t.teardown(() => sub.end());
  const dir = mkdtempSync(join(tmpdir(), 'vigil-ward-board-'));
  const started: WardBed[] = [];
  for (const b of beds) {
    const sim = await startHwSim(['masimo-ascii', ...b.simArgs]);
    t.teardown(() => sim.stop('SIGKILL'));
    const bedDir = mkdtempSync(join(dir, `${b.bedId}-`));
    const quietTimeMs = b.quietTimeMs ?? 3000;
    const config = writeAgentConfig(bedDir, {
      brokerUrl: broker.url, devicePath: sim.path, gatewayId: b.gatewayId, bedId: b.bedId, heartbeatIntervalMs: 1000, quietTimeMs,
      tls: pki.clientTls(b.gatewayId),
    });
    const agent = startAgentProcess(config);
    t.teardown(() => agent.stop('SIGKILL'));
    started.push({ bed: `site1/ward7/${b.bedId}`, gatewayId: b.gatewayId, sim, agent, config, quietTimeMs });
  }
  const usersFile = join(dir, 'station-users.json');
  await addUser(usersFile, NURSE);
  await addUser(usersFile, VISITOR);
  const tls = pki.clientTls(STATIONS.view);
  const station = spawn(
    process.execPath,
    [
      VIGIL_CLI, 'station', 'serve', '--url', broker.url, '--ca-file', tls.caFile, '--cert-file', tls.certFile, '--key-file', tls.keyFile,
      '--station-id', STATIONS.view, '--users', usersFile, '--listen', '127.0.0.1:0',
      // The test PKI's server certificate is for 127.0.0.1: the board is served over HTTPS as on a ward.
      '--tls-cert', pki.broker.certFile, '--tls-key', pki.broker.keyFile,
      '--silent-bed-ms', String(o.silentBedMs ?? 5000),
      ...(o.sessionTtlMs ? ['--session-ttl-ms', String(o.sessionTtlMs)] : []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.teardown(() => {
    station.kill('SIGKILL');
  });
  const stationLog: string[] = [];
  createInterface({ input: station.stderr! }).on('line', (l) => stationLog.push(l));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`vigil station serve printed no URL within 20 s: ${stationLog.join('\n')}`)), 20_000);
    createInterface({ input: station.stdout! }).on('line', (line) => {
      stationLog.push(line);
      const m = /^ward board: (\S+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
    station.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`vigil station serve exited ${code}: ${stationLog.join('\n')}`));
    });
  });
  return { pki, broker, sub, beds: started, station, stationLog, url, usersFile };
}

/** A fresh browser context (no cookie of another test), a 1080p page on the board, signed out. */
export async function openBoard(t: { teardown(fn: () => unknown): void }, browser: Browser, url: string, viewport = { width: 1920, height: 1080 }): Promise<Page> {
  const context = await browser.createBrowserContext();
  t.teardown(() => context.close().catch(() => undefined));
  const page = await context.newPage();
  await page.setViewport(viewport);
  page.setDefaultTimeout(30_000);
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  return page;
}

/** Signs in through the form, as a nurse would, and waits for the live board. */
export async function signIn(page: Page, user: { name: string; password: string } = NURSE): Promise<void> {
  await page.waitForSelector('#login-name', { visible: true });
  await page.type('#login-name', user.name);
  await page.type('#login-password', user.password);
  await page.click('#login-submit');
  await page.waitForSelector('[data-testid=station-link][data-state=live]');
}

/** The CSS selector of a bed's tile. */
export const tileOf = (bed: string): string => `[data-testid=bed-tile][data-bed="${bed}"]`;
