/**
 * The configuration as an installer meets it (issue 15): the JSON Schema for editors, the
 * `$schema` key, the files a configuration names, and the example configuration the package ships.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { configFileIssues, configJsonSchema, loadConfig, parseConfig } from '../../agent/src/config';
import { ConfigError } from '../../agent/src/errors';
import { ROOT } from '../support/processes';

const SCHEMA_FILE = join(ROOT, 'agent', 'packaging', 'vigil-config.schema.json');
const EXAMPLE_FILE = join(ROOT, 'agent', 'packaging', 'vigil.example.json');

const valid = {
  gateway: { gatewayId: 'gw-1', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' },
  mqtt: { url: 'mqtt://127.0.0.1:1883', insecure: true },
  interfaces: [{ id: 'spo2', driver: 'masimo-ascii', path: '/dev/ttyUSB0' }],
};

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return [...err.issues];
    throw err;
  }
  return [];
}

function writeJson(dir: string, name: string, value: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(value));
  return file;
}

t.test('REQ-INST-010 the committed JSON Schema is what the config schema generates (regenerate: node dist/agent/src/cli.js config-schema > agent/packaging/vigil-config.schema.json)', async (t) => {
  const generated = `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
  const committed = readFileSync(SCHEMA_FILE, 'utf8');
  t.equal(committed, generated, 'agent/packaging/vigil-config.schema.json is up to date with agent/src/config.ts');
});

t.test('REQ-INST-010 the JSON Schema is draft 2020-12, strict, and keys with a default are optional', async (t) => {
  const schema = configJsonSchema() as {
    $schema: string;
    additionalProperties: unknown;
    required: string[];
    properties: Record<string, { additionalProperties?: unknown; required?: string[]; type?: string }>;
  };
  t.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  t.equal(schema.additionalProperties, false, 'an unknown top-level key is invalid for editors too');
  t.same([...schema.required].sort(), ['gateway', 'interfaces', 'mqtt'], 'only the keys without a default are required');
  t.same(schema.properties.$schema, { type: 'string' }, 'the $schema key is allowed');
  t.equal(schema.properties.mqtt?.additionalProperties, false, 'nested objects stay strict');
  t.same(schema.properties.mqtt?.required, ['url'], 'mqtt: only the url is required');
  t.notMatch(JSON.stringify(schema), /"format":"starts_with"/, 'no zod-only format left for a validator to stumble on');
});

t.test('REQ-INST-010 a $schema key is accepted and ignored; other unknown keys are still refused', async (t) => {
  const withSchema = parseConfig({ $schema: '/usr/share/vigil/vigil-config.schema.json', ...valid });
  const without = parseConfig(valid);
  const { $schema, ...rest } = withSchema;
  t.equal($schema, '/usr/share/vigil/vigil-config.schema.json');
  t.same(rest, without, 'the rest of the configuration is the same with or without it');
  t.match(issuesOf(() => parseConfig({ ...valid, $schema: 42 })), [/^\$schema: /], 'it must be a string');
  t.match(issuesOf(() => parseConfig({ ...valid, $id: 'x' })), [/^\(root\): .*\$id/], 'only $schema, not any $ key');
  const nested = issuesOf(() => parseConfig({ ...valid, mqtt: { ...valid.mqtt, $schema: 'x' } }));
  t.match(nested, [/^mqtt: .*\$schema/], 'not inside another object');
});

t.test('REQ-INST-011 loadConfig reports unreadable TLS files with every other problem, as path: message', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cfgfiles-'));
  const ca = join(dir, 'ca.crt');
  writeFileSync(ca, 'not checked for content here');
  mkdirSync(join(dir, 'a-directory.key'));
  const file = writeJson(dir, 'vigil.json', {
    ...valid,
    gateway: { ...valid.gateway, colour: 'red' },
    mqtt: { url: 'mqtts://broker.example:8883', caFile: ca, certFile: join(dir, 'gateway.crt'), keyFile: join(dir, 'a-directory.key'), keepaliveSec: 'ten' },
    interfaces: [
      ...valid.interfaces,
      { id: 'monitor', driver: 'hl7-pcd01', transport: 'tcp', tls: { certFile: join(dir, 'mllp.crt'), keyFile: join(ca, 'under-a-file.key'), caFile: ca } },
    ],
  });
  const issues = issuesOf(() => loadConfig(file));
  t.same(issues, [
    'gateway: Unrecognized key: "colour"',
    'mqtt.keepaliveSec: Invalid input: expected number, received string',
    `mqtt.certFile: file not found: ${join(dir, 'gateway.crt')}`,
    `mqtt.keyFile: not a regular file: ${join(dir, 'a-directory.key')}`,
    `interfaces.1.tls.certFile: file not found: ${join(dir, 'mllp.crt')}`,
    `interfaces.1.tls.keyFile: file not found: ${join(ca, 'under-a-file.key')}`,
  ], 'schema problems and file problems at once; the readable CA is not reported');
});

t.test('REQ-INST-011 the broker credentials files are checked too; a config whose files are readable loads', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cfgfiles-'));
  for (const name of ['ca.crt', 'gw.crt', 'gw.key', 'user', 'mllp.crt', 'mllp.key']) writeFileSync(join(dir, name), 'x');
  const mqtt = { url: 'mqtts://broker.example:8883', caFile: join(dir, 'ca.crt'), certFile: join(dir, 'gw.crt'), keyFile: join(dir, 'gw.key'), usernameFile: join(dir, 'user'), passwordFile: join(dir, 'password') };
  const monitor = { id: 'monitor', driver: 'hl7-pcd01', transport: 'tcp', tls: { certFile: join(dir, 'mllp.crt'), keyFile: join(dir, 'mllp.key') } };
  const missingPassword = writeJson(dir, 'a.json', { ...valid, mqtt, interfaces: [monitor] });
  t.same(issuesOf(() => loadConfig(missingPassword)), [`mqtt.passwordFile: file not found: ${join(dir, 'password')}`]);
  writeFileSync(join(dir, 'password'), 'x');
  const config = loadConfig(missingPassword);
  t.equal(config.mqtt.passwordFile, join(dir, 'password'), 'loads once every named file can be read');
  t.same(configFileIssues({ mqtt: { certFile: 42 }, interfaces: 'none' }), [], 'values of the wrong type are left to the schema check');
});

t.test('REQ-INST-011 a file the agent\'s user cannot read is reported as such', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cfgperm-'));
  chmodSync(dir, 0o755);
  const key = join(dir, 'gateway.key');
  writeFileSync(key, 'secret');
  chmodSync(key, 0o000);
  const raw = { mqtt: { keyFile: key } };
  let issues: string[];
  if (process.getuid?.() === 0) {
    // root reads any file: ask as the unprivileged user `nobody` (uid 65534), as the service's own user would.
    const configModule = join(ROOT, 'dist', 'agent', 'src', 'config.js');
    const script = `process.stdout.write(JSON.stringify(require(${JSON.stringify(configModule)}).configFileIssues(${JSON.stringify(raw)})))`;
    // Through `env -i`: the test runner adds its loader hooks to any node child's environment.
    const child = spawnSync('env', ['-i', process.execPath, '-e', script], { uid: 65534, gid: 65534, encoding: 'utf8' });
    t.equal(child.status, 0, `the check ran as uid 65534 ${child.stderr}`);
    issues = JSON.parse(child.stdout) as string[];
  } else {
    issues = configFileIssues(raw);
  }
  t.same(issues, [`mqtt.keyFile: file not readable (permission denied): ${key}`]);
});

t.test('REQ-INST-013 the example configuration is valid and describes a real gateway', async (t) => {
  const raw = JSON.parse(readFileSync(EXAMPLE_FILE, 'utf8')) as Record<string, unknown>;
  // Schema level only: its certificates exist on a gateway, not here.
  const config = parseConfig(raw);
  t.equal(config.$schema, '/usr/share/vigil/vigil-config.schema.json', 'editors find the installed schema');
  t.match(config.mqtt.url, /^mqtts:\/\/[a-z][a-z0-9.-]*[a-z]:8883$/, 'the broker by host name, over TLS');
  t.equal(config.mqtt.insecure, false);
  for (const f of [config.mqtt.caFile, config.mqtt.certFile, config.mqtt.keyFile]) t.match(f, /^\/etc\/vigil\/certs\//);
  const spo2 = config.interfaces.find((i) => i.driver === 'masimo-ascii');
  t.equal(spo2?.driver === 'masimo-ascii' ? spo2.path : undefined, '/dev/vigil-spo2', 'the udev link of the oximeter');
  const monitor = config.interfaces.find((i) => i.driver === 'hl7-pcd01');
  t.ok(monitor?.driver === 'hl7-pcd01' && monitor.transport === 'tcp', 'an HL7 monitor over MLLP/TCP');
  if (monitor?.driver === 'hl7-pcd01' && monitor.transport === 'tcp') {
    t.equal(monitor.insecure, false);
    for (const f of [monitor.tls?.certFile, monitor.tls?.keyFile, monitor.tls?.caFile]) t.match(f, /^\/etc\/vigil\/certs\//);
  }
  t.match(config.queue.dir, /^\/var\/lib\/vigil\//, 'state under the StateDirectory of the unit');
});
