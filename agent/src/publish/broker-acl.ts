/**
 * The Mosquitto ACL of a ward's broker (docs/interfaces/mqtt.md, Security), written from the list
 * of station identities and gateways: a gateway may publish only the message types of its own bed
 * and read only its bed's command and receipt topics; a station reads everything, writes commands,
 * and writes delivery receipts under its own name only. Identities are client certificate common
 * names (Mosquitto `use_identity_as_username`), which are also the client ids
 * (`use_username_as_clientid`): one certificate, and one block, per client process.
 *
 * Pure: `vigil broker-acl` (agent/src/commands/broker-acl.ts) prints it, docs/deploy/mosquitto.acl is
 * its output for two beds, and the tests' brokers use it (test/support/pki.ts vigilAcl).
 */
import { configSchema } from '../config';
import { ConfigError } from '../errors';
import { bedTopic, topics } from './topics';
import type { BedAddress } from './topics';

export interface AclGateway extends BedAddress {
  gatewayId: string;
}

export interface AclInput {
  /** Station-side identities: the console view, the command tool, any other subscriber. */
  stations: readonly string[];
  gateways: readonly AclGateway[];
}

/** The identifier rule of the config file (gatewayId, siteId, ...): it keeps `+`, `#`, `/` and line breaks out of the ACL. */
const ID = configSchema.shape.gateway.shape.gatewayId;
const GATEWAY_FIELDS = ['gatewayId', 'siteId', 'wardId', 'bedId'] as const;
/** Every bed, as an ACL pattern: one `+` per level of the topic tree. */
const ANY_BED: BedAddress = { siteId: '+', wardId: '+', bedId: '+' };

function idProblem(value: unknown): string | null {
  const r = ID.safeParse(value);
  return r.success ? null : (r.error.issues[0]?.message ?? 'is not a valid identifier');
}

/**
 * Every problem of an ACL input, as `path: message`. `gatewayPath(i)` and `stationPath(i)` name where
 * the i-th entry came from (default `gateways[i]`, `stations[i]`); the command line names its flags.
 */
export function aclProblems(
  input: AclInput,
  gatewayPath: (i: number) => string = (i) => `gateways[${i}]`,
  stationPath: (i: number) => string = (i) => `stations[${i}]`,
): string[] {
  const problems: string[] = [];
  if (input.stations.length === 0) problems.push('stations: at least one station is needed (nothing else reads the beds)');
  if (input.gateways.length === 0) problems.push('gateways: at least one gateway is needed');
  // One identity, one block: Mosquitto merges the blocks of a repeated user, so a station named like
  // a gateway would give that gateway's certificate the station's rights.
  const identities = new Map<string, string>();
  const claim = (identity: string, where: string): void => {
    const first = identities.get(identity);
    if (first !== undefined) problems.push(`${where}: identity "${identity}" is already used by ${first}`);
    else identities.set(identity, where);
  };
  input.stations.forEach((s, i) => {
    const problem = idProblem(s);
    if (problem !== null) problems.push(`${stationPath(i)}: ${problem}`);
    else claim(s, stationPath(i));
  });
  const beds = new Map<string, string>();
  input.gateways.forEach((g, i) => {
    const bad = GATEWAY_FIELDS.map((f) => [f, idProblem(g[f])] as const).filter(([, p]) => p !== null);
    for (const [f, p] of bad) problems.push(`${gatewayPath(i)}.${f}: ${p}`);
    if (bad.length > 0) return;
    claim(g.gatewayId, gatewayPath(i));
    // Two gateways writing one bed's topics would mix two patients' data under one bed.
    const bed = `${g.siteId}/${g.wardId}/${g.bedId}`;
    const first = beds.get(bed);
    if (first !== undefined) problems.push(`${gatewayPath(i)}: bed ${bed} already has a gateway (${first})`);
    else beds.set(bed, gatewayPath(i));
  });
  return problems;
}

/** The ACL file's text for `input`; throws ConfigError listing every problem (`aclProblems`). */
export function brokerAcl(input: AclInput): string {
  const problems = aclProblems(input);
  if (problems.length > 0) throw new ConfigError(problems);
  const lines = [
    '# Vigil ACL for Mosquitto (acl_file of the broker\'s configuration, docs/deploy/mosquitto.conf).',
    '# `user` is a client certificate\'s common name (use_identity_as_username), which is also its client id',
    '# (use_username_as_clientid): one certificate, and one block here, per client process.',
    '# docs/interfaces/mqtt.md (Security) explains the rules. Written by `vigil broker-acl` from:',
    ...input.stations.map((s) => `#   --station ${s}`),
    ...input.gateways.map((g) => `#   --gateway ${g.gatewayId}=${g.siteId}/${g.wardId}/${g.bedId}`),
  ];
  lines.push(
    '',
    '# Stations, one block per client process: each reads every bed and writes commands; its delivery',
    '# receipts go under its own name only (the gateway checks that the receipt names it too).',
  );
  input.stations.forEach((s, i) => {
    lines.push(
      ...(i > 0 ? [''] : []),
      `user ${s}`,
      `topic read ${topics.all}`,
      `topic write ${topics.command(ANY_BED)}`,
      `topic write ${topics.receipt(ANY_BED, s)}`,
    );
  });
  lines.push('', '# Gateways, one block per bed: its own bed\'s messages, and its own command and receipt topics to read.');
  input.gateways.forEach((g, i) => {
    const bed = bedTopic(g);
    lines.push(
      ...(i > 0 ? [''] : []),
      `user ${g.gatewayId}`,
      `topic write ${topics.status(g)}`,
      `topic write ${bed}/obs/#`,
      `topic write ${topics.score(g)}`,
      `topic write ${bed}/alarm/#`,
      `topic write ${topics.commandResult(g)}`,
      `topic read ${topics.command(g)}`,
      `topic read ${bed}/receipt/#`,
    );
  });
  return `${lines.join('\n')}\n`;
}
