/**
 * A built Debian package installed into a scratch root (`dpkg-deb -x`, what `dpkg -i` unpacks) and
 * its agent started the way its systemd unit starts it, with the scratch root in place of `/`.
 * Used by the package tests (test/package/) and the architecture benchmark (bench/package-arch.ts).
 *
 * arm64 runs on this amd64 machine under qemu-aarch64-static (user-mode emulation): the packaged
 * arm64 Node and addon, with the C library of Debian's libc6-arm64-cross standing in for the
 * gateway's own (`-L /usr/aarch64-linux-gnu`).
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { debFileName, LAYOUT } from './build-deb';
import type { DebArch } from './build-deb';
import type { Broker } from '../broker';
import { startBroker } from '../broker';
import type { Observer } from '../observer';
import { observe } from '../observer';
import type { Pki } from '../pki';
import { createPki, STATIONS, vigilAcl } from '../pki';
import type { HwSim } from '../processes';
import { ROOT, startHwSim } from '../processes';

export const PACKAGE_DIR = join(ROOT, 'build', 'package');
/** The gateway's C library for the arm64 Node under emulation (Debian's libc6-arm64-cross). */
export const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';

export function debOf(arch: DebArch): string {
  const file = join(PACKAGE_DIR, debFileName(arch));
  if (!existsSync(file)) throw new Error(`${file} is missing: run make package`);
  return file;
}

export interface ScratchRoot {
  root: string;
  remove(): void;
}

export function unpackDeb(arch: DebArch): ScratchRoot {
  const root = mkdtempSync(join(tmpdir(), `vigil-deb-${arch}-`));
  execFileSync('dpkg-deb', ['-x', debOf(arch), root]);
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/**
 * The command that runs the packaged Node of `arch` on this (amd64) machine, without the Node
 * options of the process that starts it (the test runner adds NODE_OPTIONS naming its own loaders
 * to every child process): the packaged agent runs as the unit runs it, on its own files only.
 */
export function packagedNode(arch: DebArch, root: string): string[] {
  const node = join(root, LAYOUT.runtime, 'bin', 'node');
  const clean = ['env', '-u', 'NODE_OPTIONS', '-u', 'NODE_V8_COVERAGE'];
  return arch === 'arm64' ? [...clean, 'qemu-aarch64-static', '-L', ARM64_SYSROOT, node] : [...clean, node];
}

/**
 * The installed unit's ExecStart as a command for this scratch root: its program and the paths
 * under /usr moved under `root`, its `--config` replaced by `configFile`.
 */
export function unitCommand(arch: DebArch, root: string, configFile: string): { program: string; args: string[] } {
  const unit = readFileSync(join(root, LAYOUT.unit), 'utf8');
  const exec = /^ExecStart=(\S+)(.*)$/m.exec(unit);
  if (!exec) throw new Error('the installed unit has no ExecStart');
  if (exec[1] !== `${LAYOUT.runtime}/bin/node`) throw new Error(`the unit runs ${exec[1]}, not the packaged runtime`);
  const args = (exec[2] ?? '').trim().split(/\s+/).map((w) => (w.startsWith('/usr/') ? join(root, w) : w));
  const at = args.indexOf('--config');
  if (at < 0) throw new Error('the unit names no --config');
  args[at + 1] = configFile;
  const node = packagedNode(arch, root);
  return { program: node[0]!, args: [...node.slice(1), ...args] };
}

export interface PackagedAgent {
  process: ChildProcess;
  logs: string[];
  stop(): Promise<void>;
}

export function startPackagedAgent(arch: DebArch, root: string, configFile: string, cwd: string): PackagedAgent {
  const { program, args } = unitCommand(arch, root, configFile);
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd });
  const logs: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => logs.push(l));
  createInterface({ input: child.stdout! }).on('line', (l) => logs.push(l));
  return {
    process: child,
    logs,
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGKILL');
      }),
  };
}

export interface OximeterBed {
  bed: { gatewayId: string; siteId: string; wardId: string; bedId: string };
  pki: Pki;
  broker: Broker;
  /** A station-side subscriber (its own certificate) on everything. */
  sub: Observer;
  /** hw-sim's pulse oximeter on a pseudo-terminal. */
  sim: HwSim;
}

/**
 * One bed's outside world for a packaged agent: a PKI with the gateway's and a station
 * subscriber's certificates, a real Mosquitto with mutual TLS and the ACL, the subscriber, and
 * hw-sim's pulse oximeter (stable scenario) on a pseudo-terminal. Every part started is handed to
 * `onCleanup` (a test's teardown, or a list a benchmark runs).
 */
export async function startOximeterBed(
  o: { gatewayId: string; bedId: string; seed: number; periodMs: number },
  onCleanup: (fn: () => unknown) => void,
): Promise<OximeterBed> {
  const bed = { gatewayId: o.gatewayId, siteId: 'site1', wardId: 'ward7', bedId: o.bedId };
  const pki = createPki([o.gatewayId, STATIONS.observer]);
  onCleanup(() => pki.remove());
  const broker = await startBroker({ tls: { caFile: pki.caFile, ...pki.broker, acl: vigilAcl([bed], [STATIONS.observer]) } });
  onCleanup(() => broker.stop());
  const sub = await observe(broker.url, { tls: pki.clientTls(STATIONS.observer) });
  onCleanup(() => sub.end());
  const sim = await startHwSim(['masimo-ascii', '--seed', String(o.seed), '--scenario', 'stable', '--period-ms', String(o.periodMs)]);
  onCleanup(() => sim.stop('SIGKILL'));
  return { bed, pki, broker, sub, sim };
}
