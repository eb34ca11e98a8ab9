/**
 * `vigil --version` / `vigil version [--json]`: what this installation is made of, so that a
 * report from a gateway names exactly what ran: the agent (package.json), the Rust core inside
 * the native addon, the wire protocol (the proto package and its schema_version), the parameter
 * table that maps device codes, the Node runtime, and each HL7 device profile with its version.
 *
 * Text: one `name version` line each. JSON: one object. The native addon is loaded (as `vigil run`
 * loads it); when it cannot be, the other versions are still printed and the exit code is 1.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { loadHl7Profiles } from '../drivers/hl7-pcd01/profile';
import { PARAMETER_TABLE_VERSION } from '../model/parameters';
import { coreVersion } from '../native/addon';
import { PROJECT_ROOT } from '../paths';
import { PROTO_FILE, SCHEMA_VERSION } from '../proto/codec';

export interface VersionReport {
  /** The agent, from package.json. */
  agent: string;
  /** The `vigil-core` crate inside the native addon; null when the addon cannot be loaded. */
  nativeAddon: string | null;
  /** The proto package (`vigil.v1`) and the `schema_version` the agent writes in every message. */
  protocol: { package: string; schemaVersion: number };
  /** PARAMETER_TABLE_VERSION of agent/src/model/parameters.ts (also in the gateway's status). */
  parameterTable: string;
  /** The Node runtime running the agent (without the leading "v"). */
  node: string;
  /** Each HL7 device profile of agent/profiles/hl7, by name: its profileVersion. */
  hl7Profiles: Record<string, string>;
}

/** The `package` statement of the proto file the agent loads at run time. */
function protoPackage(): string {
  const match = /^\s*package\s+([A-Za-z0-9_.]+)\s*;/m.exec(readFileSync(PROTO_FILE, 'utf8'));
  return match?.[1] ?? 'unknown';
}

/** Collects the versions; `nativeError` says why the addon could not be loaded. */
export function versionReport(): { report: VersionReport; nativeError: Error | undefined } {
  const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version?: unknown };
  let nativeAddon: string | null = null;
  let nativeError: Error | undefined;
  try {
    nativeAddon = coreVersion();
  } catch (err) {
    nativeError = err instanceof Error ? err : new Error(String(err));
  }
  const hl7Profiles: Record<string, string> = {};
  for (const [name, profile] of loadHl7Profiles()) hl7Profiles[name] = profile.profileVersion;
  return {
    report: {
      agent: String(pkg.version),
      nativeAddon,
      protocol: { package: protoPackage(), schemaVersion: SCHEMA_VERSION },
      parameterTable: PARAMETER_TABLE_VERSION,
      node: process.versions.node,
      hl7Profiles,
    },
    nativeError,
  };
}

/** The text form: one `name version` line each. */
export function versionLines(r: VersionReport): string[] {
  return [
    `vigil ${r.agent}`,
    `vigil-core ${r.nativeAddon ?? 'unavailable'}`,
    `protocol ${r.protocol.package}/${r.protocol.schemaVersion}`,
    `parameter-table ${r.parameterTable}`,
    `node ${r.node}`,
    ...Object.entries(r.hl7Profiles).map(([name, version]) => `hl7-profile/${name} ${version}`),
  ];
}

export function runVersion(opts: { json: boolean }, out: Writable, err: Writable): number {
  const { report, nativeError } = versionReport();
  out.write(opts.json ? `${JSON.stringify(report)}\n` : `${versionLines(report).join('\n')}\n`);
  if (nativeError !== undefined) {
    err.write(`vigil: the native addon cannot be loaded: ${nativeError.message}\n`);
    return 1;
  }
  return 0;
}
