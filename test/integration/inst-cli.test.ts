/**
 * The installer's commands through the built CLI, as a biomedical engineer runs them on a
 * gateway (issue 15): `vigil check-config` and `vigil run` on a bad configuration,
 * `vigil config-schema`, `vigil --version`.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { SOFTWARE_VERSION } from '../../agent/src/main';
import { PARAMETER_TABLE_VERSION } from '../../agent/src/model/parameters';
import { ROOT, runCollecting, VIGIL_CLI } from '../support/processes';

const vigil = (args: string[]) => runCollecting(process.execPath, [VIGIL_CLI, ...args]);

/** A configuration with an unknown key, a wrong type and a missing client certificate. */
function badConfig(): { file: string; certFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-inst-'));
  const caFile = join(dir, 'ca.crt');
  const keyFile = join(dir, 'gateway.key');
  writeFileSync(caFile, 'x');
  writeFileSync(keyFile, 'x');
  const certFile = join(dir, 'certs', 'gateway.crt');
  const file = join(dir, 'vigil.json');
  writeFileSync(
    file,
    JSON.stringify({
      $schema: '/usr/share/vigil/vigil-config.schema.json',
      gateway: { gatewayId: 'gw-1', siteId: 'site1', wardId: 'ward7', bedId: 'bed12', room: '7' },
      mqtt: { url: 'mqtts://broker.example:8883', caFile, certFile, keyFile },
      interfaces: [{ id: 'spo2', driver: 'masimo-ascii', path: '/dev/vigil-spo2', baudRate: '9600' }],
    }),
  );
  return { file, certFile };
}

for (const command of ['check-config', 'run']) {
  t.test(`REQ-INST-011 vigil ${command}: an unknown key, a wrong type and a missing certificate, each on its own line, exit 2`, async (t) => {
    const { file, certFile } = badConfig();
    const r = await vigil([command, '--config', file]);
    t.equal(r.code, 2, 'a configuration error');
    const lines = r.err.split('\n').map((l) => l.trim());
    t.ok(lines.includes('gateway: Unrecognized key: "room"'), 'the unknown key');
    t.ok(lines.includes('interfaces.0.baudRate: Invalid option: expected one of 9600|19200|38400'), 'the wrong type, with the values allowed');
    t.ok(lines.includes(`mqtt.certFile: file not found: ${certFile}`), 'the missing certificate');
    t.notOk(lines.some((l) => /^mqtt\.(caFile|keyFile)/.test(l)), 'the readable CA and key are not reported');
    t.equal(r.out, '', 'nothing on stdout: not "config ok", no agent start');
  });
}

t.test('REQ-INST-011 vigil check-config: a configuration whose files are readable is ok', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-inst-'));
  for (const f of ['ca.crt', 'gw.crt', 'gw.key']) writeFileSync(join(dir, f), 'x');
  const file = join(dir, 'vigil.json');
  writeFileSync(
    file,
    JSON.stringify({
      $schema: '/usr/share/vigil/vigil-config.schema.json',
      gateway: { gatewayId: 'gw-1', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' },
      mqtt: { url: 'mqtts://broker.example:8883', caFile: join(dir, 'ca.crt'), certFile: join(dir, 'gw.crt'), keyFile: join(dir, 'gw.key') },
      interfaces: [{ id: 'spo2', driver: 'masimo-ascii', path: '/dev/vigil-spo2' }],
    }),
  );
  const r = await vigil(['check-config', '--config', file]);
  t.equal(r.code, 0, r.err);
  t.equal(r.out, 'config ok: gateway gw-1, 1 interface(s)\n');
});

t.test('REQ-INST-010 vigil config-schema prints the committed JSON Schema', async (t) => {
  const r = await vigil(['config-schema']);
  t.equal(r.code, 0, r.err);
  t.equal(r.out, readFileSync(join(ROOT, 'agent', 'packaging', 'vigil-config.schema.json'), 'utf8'));
  t.equal((JSON.parse(r.out) as { $schema: string }).$schema, 'https://json-schema.org/draft/2020-12/schema');
  t.equal((await vigil(['config-schema', 'extra'])).code, 2, 'no arguments');
});

t.test('REQ-INST-012 vigil --version names the agent, the addon, the protocol, the parameter table, Node and every HL7 profile', async (t) => {
  // Expected values read from their sources, not from the code under test.
  const agentVersion = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const coreVersion = /\[workspace\.package\][^[]*?\nversion = "([^"]+)"/.exec(readFileSync(join(ROOT, 'native', 'Cargo.toml'), 'utf8'))?.[1];
  const protoPackage = /^package ([\w.]+);/m.exec(readFileSync(join(ROOT, 'proto', 'vigil', 'v1', 'vigil.proto'), 'utf8'))?.[1];
  const profileDir = join(ROOT, 'agent', 'profiles', 'hl7');
  const profiles = readdirSync(profileDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [f.replace(/\.json$/, ''), (JSON.parse(readFileSync(join(profileDir, f), 'utf8')) as { profileVersion: string }).profileVersion] as const);
  t.ok(profiles.length >= 3, 'the shipped profiles are there to be named');
  t.equal(protoPackage, 'vigil.v1');
  t.equal(SOFTWARE_VERSION, agentVersion, 'the gateway status reports the same agent version as --version');

  const expected = [
    `vigil ${agentVersion}`,
    `vigil-core ${coreVersion}`,
    'protocol vigil.v1/1',
    `parameter-table ${PARAMETER_TABLE_VERSION}`,
    `node ${process.versions.node}`,
    ...profiles.map(([name, version]) => `hl7-profile/${name} ${version}`),
  ];
  for (const args of [['--version'], ['version']]) {
    const r = await vigil(args);
    t.equal(r.code, 0, `${args.join(' ')} ${r.err}`);
    t.same(r.out.split('\n').slice(0, -1), expected, `vigil ${args.join(' ')}: one "name version" line each`);
  }
  const json = await vigil(['--version', '--json']);
  t.equal(json.code, 0, json.err);
  t.same(JSON.parse(json.out), {
    agent: agentVersion,
    nativeAddon: coreVersion,
    protocol: { package: 'vigil.v1', schemaVersion: 1 },
    parameterTable: PARAMETER_TABLE_VERSION,
    node: process.versions.node,
    hl7Profiles: Object.fromEntries(profiles),
  });
  t.equal((await vigil(['version', '--yaml'])).code, 2, 'an unknown option is a usage error');
});
