/**
 * `vigil broker-acl --station NAME ... --gateway ID=site/ward/bed ... --config FILE ...`: the ward
 * broker's Mosquitto ACL on stdout (agent/src/publish/broker-acl.ts). A `--config` is a gateway's
 * vigil.json, of which only `gateway` (gatewayId, siteId, wardId, bedId) is read: the ACL is written
 * where the broker is, without the gateways' certificates. Every problem is reported at once as
 * `path: message` (ConfigError: exit code 2).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { configSchema } from '../config';
import { ConfigError } from '../errors';
import { aclProblems, brokerAcl } from '../publish/broker-acl';
import type { AclGateway } from '../publish/broker-acl';

/** `ID=site/ward/bed`; each part is checked by the ACL's identifier rule afterwards. */
const GATEWAY_ARG = /^([^=]*)=([^/]*)\/([^/]*)\/([^/]*)$/;

interface Sourced {
  gateway: AclGateway;
  where: string;
}

function fromArgument(arg: string, i: number, problems: string[]): Sourced | null {
  const where = `--gateway[${i}]`;
  const m = GATEWAY_ARG.exec(arg);
  if (!m) {
    problems.push(`${where}: must be ID=site/ward/bed`);
    return null;
  }
  return { gateway: { gatewayId: m[1]!, siteId: m[2]!, wardId: m[3]!, bedId: m[4]! }, where };
}

function fromConfigFile(file: string, i: number, problems: string[]): Sourced | null {
  const where = `--config[${i}] ${file}`;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    problems.push(`${where}: ${e.code !== undefined ? `cannot read: ${e.code}` : `not valid JSON: ${e.message}`}`);
    return null;
  }
  const parsed = configSchema.shape.gateway.safeParse((raw as { gateway?: unknown } | null)?.gateway);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${where}: ${['gateway', ...issue.path.map(String)].join('.')}: ${issue.message}`);
    return null;
  }
  return { gateway: parsed.data, where };
}

export function runBrokerAcl(args: string[], out: NodeJS.WritableStream): number {
  const { values } = parseArgs({
    args,
    options: {
      station: { type: 'string', multiple: true, default: [] },
      gateway: { type: 'string', multiple: true, default: [] },
      config: { type: 'string', multiple: true, default: [] },
    },
    strict: true,
  });
  const problems: string[] = [];
  const sourced = [
    ...(values.gateway ?? []).map((a, i) => fromArgument(a, i, problems)),
    ...(values.config ?? []).map((f, i) => fromConfigFile(f, i, problems)),
  ].filter((s): s is Sourced => s !== null);
  const input = { stations: values.station ?? [], gateways: sourced.map((s) => s.gateway) };
  problems.push(...aclProblems(input, (i) => sourced[i]!.where, (i) => `--station[${i}]`));
  if (problems.length > 0) throw new ConfigError(problems);
  out.write(brokerAcl(input));
  return 0;
}
