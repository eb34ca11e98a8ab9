/**
 * The peer detector of `vigil eval qrs --peer gqrs`: PhysioNet's gqrs (G. Moody's single-lead
 * QRS detector, WFDB `gqrs`), as the `wfdb` Python package ports it
 * (`wfdb.processing.gqrs_detect`), run on the same records as Vigil's detector so that both
 * go through one scorer (`compareBeats`).
 *
 * The command makes its own Python virtual environment (`python3 -m venv`, then
 * `pip install wfdb==WFDB_PY_VERSION` from PyPI) under `build/peer-venv/` and reuses it while
 * it holds that version. When the environment cannot be made (no Python, no venv module, no
 * network), the command fails with a `PeerError` that says which step failed: it never skips
 * the peer in silence.
 *
 * gqrs runs with its published defaults (threshold 1.0, hr 75, RRdelta 0.2, RRmin 0.28,
 * RRmax 2.4, QS 0.07, QT 0.35, RTmin 0.25, RTmax 0.33, QRSa 750, QRSamin 130), on the first
 * signal's ADC values with the header's gain and zero, as WFDB `gqrs -r RECORD -s 0` reads
 * them: no parameter is chosen per record.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { VigilError } from '../errors';

/** The `wfdb` package version installed from PyPI (pinned: the peer's figures depend on it). */
export const WFDB_PY_VERSION = '4.3.1';

/** pip may need minutes on a slow link; past this the step fails (ms). */
const PIP_TIMEOUT_MS = 15 * 60_000;
/** gqrs in Python takes about 8 s per 30 min record; a whole database stays far below this (ms). */
const RUN_TIMEOUT_MS = 60 * 60_000;

/** The peer could not be prepared or run (code PEER_UNAVAILABLE): the message names the step. */
export class PeerError extends VigilError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PEER_UNAVAILABLE', message, options);
  }
}

/** Where the peer runs: the virtual environment's interpreter. */
export interface PeerEnvironment {
  python: string;
  wfdbVersion: string;
}

/** One record's beats from the peer. */
export interface PeerBeats {
  path: string;
  sampleRateHz: number;
  beatSampleIndexes: number[];
}

/**
 * Reads each record named on the command line (WFDB record paths without extension) and
 * prints one JSON line per record: its path, its sampling frequency and the beats gqrs finds.
 */
export const GQRS_SCRIPT = `
import json, sys
import wfdb
from wfdb import processing
for path in sys.argv[1:]:
    rec = wfdb.rdrecord(path, channels=[0], physical=False)
    beats = processing.gqrs_detect(d_sig=rec.d_signal[:, 0], fs=rec.fs, adc_gain=rec.adc_gain[0], adc_zero=rec.adc_zero[0])
    print(json.dumps({"path": path, "fs": float(rec.fs), "beats": [int(b) for b in beats]}), flush=True)
`;

function tail(text: string | Buffer | null | undefined, max = 600): string {
  const s = (text ?? '').toString().trim();
  return s.length > max ? `...${s.slice(-max)}` : s;
}

/** Why a spawned step failed, in words. */
function failure(result: ReturnType<typeof spawnSync>): string {
  if (result.error) return result.error.message;
  if (result.signal) return `killed by ${result.signal}`;
  return `exit status ${String(result.status)}${tail(result.stderr) ? `: ${tail(result.stderr)}` : ''}`;
}

function installedVersion(venvPython: string): string | null {
  if (!existsSync(venvPython)) return null;
  const probe = spawnSync(venvPython, ['-c', 'import wfdb; print(wfdb.__version__)'], { encoding: 'utf8', timeout: 60_000 });
  return probe.status === 0 ? probe.stdout.trim() : null;
}

/**
 * Makes (or reuses) the virtual environment in `venvDir` with `wfdb==WFDB_PY_VERSION`,
 * using the interpreter `python` (default `python3`). Throws `PeerError` naming the failed step.
 */
export function preparePeerEnvironment(options: { venvDir: string; python?: string; log?: (line: string) => void }): PeerEnvironment {
  const python = options.python ?? 'python3';
  const venvPython = join(options.venvDir, 'bin', 'python');
  if (installedVersion(venvPython) === WFDB_PY_VERSION) return { python: venvPython, wfdbVersion: WFDB_PY_VERSION };
  options.log?.(`making the gqrs peer's Python environment in ${options.venvDir} (wfdb ${WFDB_PY_VERSION} from PyPI)`);
  const venv = spawnSync(python, ['-m', 'venv', options.venvDir], { encoding: 'utf8', timeout: 5 * 60_000 });
  if (venv.error || venv.status !== 0) {
    throw new PeerError(`gqrs peer: cannot make a Python virtual environment ("${python} -m venv ${options.venvDir}": ${failure(venv)})`, { cause: venv.error });
  }
  const pip = spawnSync(venvPython, ['-m', 'pip', 'install', '--disable-pip-version-check', '--quiet', `wfdb==${WFDB_PY_VERSION}`], {
    encoding: 'utf8',
    timeout: PIP_TIMEOUT_MS,
  });
  if (pip.error || pip.status !== 0) {
    throw new PeerError(`gqrs peer: cannot install wfdb==${WFDB_PY_VERSION} from PyPI into ${options.venvDir} (${failure(pip)})`, { cause: pip.error });
  }
  const version = installedVersion(venvPython);
  if (version !== WFDB_PY_VERSION) {
    throw new PeerError(`gqrs peer: wfdb ${WFDB_PY_VERSION} was installed into ${options.venvDir} but ${venvPython} cannot import it (found ${version ?? 'none'})`);
  }
  return { python: venvPython, wfdbVersion: version };
}

/** Runs gqrs on the records (paths without extension); throws `PeerError` when the run fails or its output is malformed. */
export function runGqrs(env: PeerEnvironment, recordPaths: readonly string[]): PeerBeats[] {
  if (recordPaths.length === 0) return [];
  const run = spawnSync(env.python, ['-c', GQRS_SCRIPT, ...recordPaths], { encoding: 'utf8', timeout: RUN_TIMEOUT_MS, maxBuffer: 512 * 1024 * 1024 });
  if (run.error || run.status !== 0) throw new PeerError(`gqrs peer: the run failed (${failure(run)})`, { cause: run.error });
  const byPath = new Map<string, PeerBeats>();
  for (const line of run.stdout.split('\n')) {
    if (line.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (err) {
      throw new PeerError(`gqrs peer: a line of its output is not JSON (${tail(line, 80)})`, { cause: err });
    }
    const p = parsed as { path?: unknown; fs?: unknown; beats?: unknown };
    if (typeof p.path !== 'string' || typeof p.fs !== 'number' || !Array.isArray(p.beats) || !p.beats.every((b) => Number.isInteger(b))) {
      throw new PeerError('gqrs peer: an output line lacks path, fs or integer beats');
    }
    byPath.set(p.path, { path: p.path, sampleRateHz: p.fs, beatSampleIndexes: p.beats as number[] });
  }
  return recordPaths.map((path) => {
    const found = byPath.get(path);
    if (!found) throw new PeerError(`gqrs peer: no result for ${path}`);
    return found;
  });
}
