/**
 * The ward broker's ACL (agent/src/publish/broker-acl.ts) and `vigil broker-acl`: the shipped
 * docs/deploy/mosquitto.acl is its output, and bad input is refused with every problem as `path: message`.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokerAcl } from '../../agent/src/publish/broker-acl';
import { ROOT, VIGIL_CLI, writeAgentConfig } from '../support/processes';

const SHIPPED = join(ROOT, 'docs', 'deploy', 'mosquitto.acl');
const BED12 = { gatewayId: 'gw-ward7-bed12', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' };
const BED13 = { gatewayId: 'gw-ward7-bed13', siteId: 'site1', wardId: 'ward7', bedId: 'bed13' };

const vigil = (args: string[]) => spawnSync(process.execPath, [VIGIL_CLI, 'broker-acl', ...args], { encoding: 'utf8' });

t.test('REQ-INST-036 vigil broker-acl for the two beds of docs/deploy/mosquitto.acl prints that very file', async (t) => {
  const r = vigil(['--station', 'station', '--station', 'station-cli', '--gateway', 'gw-ward7-bed12=site1/ward7/bed12', '--gateway', 'gw-ward7-bed13=site1/ward7/bed13']);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, readFileSync(SHIPPED, 'utf8'), 'byte for byte');
  t.equal(brokerAcl({ stations: ['station', 'station-cli'], gateways: [BED12, BED13] }), r.stdout, 'the function the tests\' brokers use writes the same');
});

t.test('REQ-INST-036 a gateway read from its vigil.json gets the same block as one given on the command line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-acl-'));
  const config = writeAgentConfig(dir, { brokerUrl: 'mqtts://broker:8883', devicePath: '/dev/vigil-spo2', gatewayId: BED13.gatewayId, bedId: BED13.bedId });
  const r = vigil(['--station', 'station', '--station', 'station-cli', '--gateway', 'gw-ward7-bed12=site1/ward7/bed12', '--config', config]);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, readFileSync(SHIPPED, 'utf8'));
});

t.test('REQ-INST-036 the rules: a gateway writes only its bed\'s message topics and reads its command and receipts; a station reads all and writes commands and its own receipts', async (t) => {
  const rules = brokerAcl({ stations: ['nurses'], gateways: [{ gatewayId: 'gw1', siteId: 's', wardId: 'w', bedId: 'b' }] })
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'));
  t.same(rules, [
    'user nurses',
    'topic read vigil/v1/#',
    'topic write vigil/v1/+/+/+/cmd',
    'topic write vigil/v1/+/+/+/receipt/nurses',
    'user gw1',
    'topic write vigil/v1/s/w/b/status',
    'topic write vigil/v1/s/w/b/obs/#',
    'topic write vigil/v1/s/w/b/score',
    'topic write vigil/v1/s/w/b/alarm/#',
    'topic write vigil/v1/s/w/b/cmd-result',
    'topic read vigil/v1/s/w/b/cmd',
    'topic read vigil/v1/s/w/b/receipt/#',
  ]);
});

t.test('REQ-INST-036 bad input exits 2 with every problem as `path: message`, and prints no ACL', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-acl-'));
  const badConfig = join(dir, 'vigil.json');
  writeFileSync(badConfig, JSON.stringify({ gateway: { gatewayId: 'gw9', siteId: 'site1', wardId: 'ward/7', bedId: 'bed9' } }));
  const r = vigil([
    '--station', 'station',
    '--station', 'ward+',
    '--gateway', 'gw-a=site1/ward7',
    '--gateway', 'gw-b=site1/ward7/bed1',
    '--gateway', 'gw-b=site1/ward7/bed2',
    '--gateway', 'gw-c=site1/ward7/bed1',
    '--gateway', 'station=site1/ward7/bed3',
    '--gateway', 'gw#=site1/ward7/bed4',
    '--config', badConfig,
    '--config', join(dir, 'missing.json'),
  ]);
  t.equal(r.status, 2, 'exit code 2');
  t.equal(r.stdout, '', 'no ACL on stdout');
  const problems = r.stderr.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.trim());
  t.same(problems, [
    '--gateway[0]: must be ID=site/ward/bed',
    `--config[0] ${badConfig}: gateway.wardId: must be 1-64 letters, digits, "-" or "_", starting with a letter or digit`,
    `--config[1] ${join(dir, 'missing.json')}: cannot read: ENOENT`,
    '--station[1]: must be 1-64 letters, digits, "-" or "_", starting with a letter or digit',
    '--gateway[2]: identity "gw-b" is already used by --gateway[1]',
    '--gateway[3]: bed site1/ward7/bed1 already has a gateway (--gateway[1])',
    '--gateway[4]: identity "station" is already used by --station[0]',
    '--gateway[5].gatewayId: must be 1-64 letters, digits, "-" or "_", starting with a letter or digit',
  ]);
  const none = vigil([]);
  t.equal(none.status, 2, 'no station and no gateway: exit code 2');
  t.match(none.stderr, /stations: at least one station/);
  t.match(none.stderr, /gateways: at least one gateway/);
  t.throws(() => brokerAcl({ stations: ['a b'], gateways: [] }), { code: 'CONFIG_INVALID' }, 'the function refuses what would break out of a line');
});
