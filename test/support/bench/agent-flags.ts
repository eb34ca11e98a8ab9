/**
 * The agent is measured as its systemd unit runs it: the Node.js flags of the unit's
 * ExecStart (agent/systemd/vigil.service, e.g. the V8 heap settings) are given to the agent
 * process the benchmarks start, through NODE_OPTIONS.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../processes';

export const UNIT_FILE = join(ROOT, 'agent', 'systemd', 'vigil.service');

/** The flags between the node binary and the script in the unit's ExecStart. */
export function unitNodeFlags(unitText: string = readFileSync(UNIT_FILE, 'utf8')): string[] {
  const line = /^ExecStart=(.*)$/m.exec(unitText)?.[1];
  if (!line) return [];
  const words = line.trim().split(/\s+/).slice(1);
  const flags: string[] = [];
  for (const w of words) {
    if (!w.startsWith('-')) break;
    flags.push(w);
  }
  return flags;
}

/**
 * The environment that gives the agent process the unit's flags. BENCH_AGENT_NODE_OPTIONS, when
 * set (even empty), replaces them: for comparing flags, never for the published figures.
 */
export function agentNodeOptions(): NodeJS.ProcessEnv {
  const override = process.env.BENCH_AGENT_NODE_OPTIONS;
  if (override !== undefined) return { NODE_OPTIONS: override };
  const flags = unitNodeFlags();
  return flags.length > 0 ? { NODE_OPTIONS: flags.join(' ') } : {};
}
