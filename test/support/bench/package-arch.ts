/**
 * The packaged agent on each architecture (for `make bench`, after `make package`; issue 15): the
 * amd64 package natively and the arm64 package under qemu-aarch64-static user-mode emulation, each
 * installed into a scratch root and started as its unit starts it, against the same load: hw-sim's
 * pulse oximeter at 1 Hz on a pseudo-terminal and a real Mosquitto with mutual TLS.
 *
 *   node dist/test/support/bench/package-arch.js [--window-s 60]
 *
 * Figures: agent CPU as a share of one core over the window (utime + stime of the process, for
 * arm64 the qemu process that runs the arm64 Node), and time from start to the first observation
 * at a subscriber. The ratio arm64/amd64 is what emulation costs on this machine: it is NOT a
 * Raspberry Pi's figure (qemu translates every arm64 instruction, V8's generated code included;
 * a Pi 4 core is slower than this machine's, by a different factor).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { DebArch } from '../package/build-deb';
import { startOximeterBed, startPackagedAgent, unpackDeb } from '../package/installed';
import { until } from '../observer';
import { writeAgentConfig } from '../processes';
import { CpuWindow, LoadSampler, machine, round, sleep } from './measure';
import { figure, fmt, printFigures, table, writeResult, type BenchResult } from './result';

interface ArchRun {
  arch: DebArch;
  firstObservationS: number;
  cpuShare: number;
  windowS: number;
  observations: number;
}

async function runArch(arch: DebArch, windowS: number, log: (s: string) => void): Promise<ArchRun> {
  const cleanup: Array<() => unknown> = [];
  try {
    const { root, remove } = unpackDeb(arch);
    cleanup.push(remove);
    const gatewayId = `gw-bench-${arch}`;
    const { bed, pki, broker, sub, sim } = await startOximeterBed({ gatewayId, bedId: `bed-${arch}`, seed: 5, periodMs: 1000 }, (fn) => cleanup.push(fn));
    const dir = mkdtempSync(join(tmpdir(), `vigil-bench-pkg-${arch}-`));
    const config = writeAgentConfig(dir, { brokerUrl: broker.url, devicePath: sim.path, tls: pki.clientTls(gatewayId), gatewayId, bedId: bed.bedId });
    const started = performance.now();
    const agent = startPackagedAgent(arch, root, config, dir);
    cleanup.push(() => agent.stop());
    const isObs = (topic: string): boolean => topic.includes('/obs/');
    await until(`${arch}: the first observation`, () => sub.got.some((r) => isObs(r.topic)), 300_000);
    const firstObservationS = (performance.now() - started) / 1000;
    log(`${arch}: first observation after ${fmt(firstObservationS, 1)} s; measuring ${windowS} s`);
    // Settled: start-up work (JIT of the hot paths) is over before the window opens.
    await sleep(10_000);
    const before = sub.got.filter((r) => isObs(r.topic)).length;
    const cpu = new CpuWindow({ agent: agent.process.pid! });
    await sleep(windowS * 1000);
    const share = cpu.shares().agent ?? NaN;
    const observations = sub.got.filter((r) => isObs(r.topic)).length - before;
    return { arch, firstObservationS: round(firstObservationS, 2), cpuShare: round(share, 5), windowS: round(cpu.seconds, 1), observations };
  } finally {
    for (const c of cleanup.reverse()) await c();
  }
}

export async function runPackageArch(o: { windowS: number; log: (s: string) => void }): Promise<BenchResult> {
  const started = Date.now();
  const load = new LoadSampler();
  const amd64 = await runArch('amd64', o.windowS, o.log);
  const arm64 = await runArch('arm64', o.windowS, o.log);
  const l = load.stop();
  const ratio = arm64.cpuShare / amd64.cpuShare;
  const figures = [
    figure('Packaged agent, amd64 native: CPU at 1 Hz SpO2 (share of one core)', amd64.cpuShare * 100, '%', l, undefined, 2),
    figure('Packaged agent, arm64 under qemu user-mode emulation: CPU at 1 Hz SpO2 (share of one core)', arm64.cpuShare * 100, '%', l, undefined, 2),
    figure('CPU ratio arm64 under emulation / amd64 native (emulation, not a Pi)', ratio, 'x', l, undefined, 1),
  ];
  const rows = [amd64, arm64].map((r) => [
    r.arch === 'amd64' ? 'amd64, native' : 'arm64, qemu-aarch64-static',
    fmt(r.cpuShare * 100, 2),
    fmt(r.firstObservationS, 1),
    String(r.observations),
    fmt(r.windowS, 0),
  ]);
  const markdown = [
    'Each package installed into a scratch root (`dpkg-deb -x`) and its agent started as its unit starts it, on the packaged',
    'Node runtime, against hw-sim\'s pulse oximeter at 1 Hz on a pseudo-terminal and a real Mosquitto with mutual TLS;',
    `CPU measured over ${o.windowS} s after the first observation and 10 s of settling. arm64 ran under qemu-aarch64-static`,
    '(user-mode emulation of every instruction, on this amd64 machine): the ratio says what emulation costs here, not what a',
    'Raspberry Pi costs. Nothing here was measured on a Pi.',
    '',
    table(['package', 'agent CPU (% of one core)', 'start to first observation (s)', 'observations in the window', 'window (s)'], rows, ['l', 'r', 'r', 'r', 'r']),
    '',
    `Ratio arm64 (emulated) / amd64 (native): ${fmt(ratio, 1)} x.`,
  ].join('\n');
  return {
    name: 'package-arch',
    title: 'The packaged agent on amd64 and on arm64 under emulation',
    measuredAt: new Date(started).toISOString(),
    machine: machine(),
    command: `node dist/test/support/bench/package-arch.js --window-s ${o.windowS}`,
    seconds: round((Date.now() - started) / 1000, 0),
    figures,
    markdown,
    details: { amd64, arm64, ratio: round(ratio, 2) },
  };
}

if (require.main === module) {
  const { values } = parseArgs({ options: { 'window-s': { type: 'string', default: '60' } } });
  const windowS = Number(values['window-s']);
  if (!Number.isFinite(windowS) || windowS < 5) {
    process.stderr.write('usage: package-arch [--window-s N>=5]\n');
    process.exit(2);
  }
  void runPackageArch({ windowS, log: (s) => void process.stderr.write(`${s}\n`) }).then((result) => {
    writeResult(result);
    printFigures(result);
    process.exit(0);
  });
}
