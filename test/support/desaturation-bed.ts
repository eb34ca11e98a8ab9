/**
 * One bed for the system tests of alarms seen at the station: a real Mosquitto, a subscriber,
 * hw-sim's pulse oximeter (or HL7 monitor) playing the `desaturation` scenario (seed 7, a line every 150 ms) on a
 * pseudo-terminal, the real agent, and the real station (`vigil station --json`) whose views are
 * collected. Each part started is handed to `t.teardown`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { BedView } from '../../agent/src/station/station';
import { startBroker } from './broker';
import type { Observer } from './observer';
import { observe } from './observer';
import type { AgentConfigOptions, AgentProcess, HwSim } from './processes';
import { startAgentProcess, startHwSim, VIGIL_CLI, writeAgentConfig } from './processes';

export interface DesaturationBed {
  brokerUrl: string;
  sub: Observer;
  sim: HwSim;
  agent: AgentProcess;
  /** Every view the station printed, in order. */
  views: Array<{ beds: BedView[] }>;
}

/** Which device plays the scenario: the oximeter (interface `spo2`) or the HL7 monitor (interface `monitor`, serial MLLP). */
export interface BedDevice {
  device: 'masimo-ascii' | 'hl7-monitor';
  /** More hw-sim arguments (faults, alert options). */
  simArgs?: string[];
  /** Added to the agent's configuration (e.g. the stations it waits for, queue.confirmBy). */
  agent?: Partial<AgentConfigOptions>;
}

export async function startDesaturationBed(t: { teardown(fn: () => unknown): void }, name: string, bed: BedDevice = { device: 'masimo-ascii' }): Promise<DesaturationBed> {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const sub = await observe(broker.url);
  t.teardown(() => sub.end());
  const sim = await startHwSim([bed.device, '--scenario', 'desaturation', '--seed', '7', '--period-ms', '150', ...(bed.simArgs ?? [])]);
  t.teardown(() => sim.stop('SIGKILL'));
  const dir = mkdtempSync(join(tmpdir(), `vigil-${name}-`));
  const monitor = { id: 'monitor', driver: 'hl7-pcd01', transport: 'serial', path: sim.path, quietTimeMs: 5000, scoreUnverified: true };
  const agent = startAgentProcess(
    writeAgentConfig(dir, { brokerUrl: broker.url, devicePath: sim.path, heartbeatIntervalMs: 1000, ...(bed.device === 'hl7-monitor' ? { interface: monitor } : {}), ...bed.agent }),
  );
  t.teardown(() => agent.stop('SIGKILL'));
  const station = spawn(process.execPath, [VIGIL_CLI, 'station', '--url', broker.url, '--json', '--refresh-ms', '200'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    station.kill('SIGKILL');
  });
  const views: Array<{ beds: BedView[] }> = [];
  createInterface({ input: station.stdout! }).on('line', (l) => views.push(JSON.parse(l)));
  return { brokerUrl: broker.url, sub, sim, agent, views };
}
