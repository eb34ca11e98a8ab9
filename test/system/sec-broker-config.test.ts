/**
 * System tests of the shipped example broker configuration, docs/deploy/mosquitto.conf with its
 * ACL docs/deploy/mosquitto.acl: Mosquitto started with those very files, only their paths and
 * port replaced (test/support/broker.ts startBrokerFromFile), with the real agent and the real
 * station command tool on it. What the file's comments promise is what is checked: client
 * certificates required, the ACL, client ids bound to certificates, and a station's queued
 * messages kept across a broker crash.
 */
import t from 'tap';
import type { Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MqttLink } from '../../agent/src/io/mqtt';
import { memoryLogger } from '../../agent/src/log';
import { encodeCommand } from '../../agent/src/proto/codec';
import { topics } from '../../agent/src/publish/topics';
import { buildCommand } from '../../agent/src/station/commands';
import { startBrokerFromFile } from '../support/broker';
import { attemptConnect, connectLink, observe, sleep, until } from '../support/observer';
import { createPki, STATIONS, vigilAcl } from '../support/pki';
import { exitOf, ROOT, startAgentProcess, startHwSim, VIGIL_CLI, writeAgentConfig } from '../support/processes';
import { connectionsLogged, sessionDisturbance, takeoverAttack } from '../support/takeover';

const CONF = join(ROOT, 'docs', 'deploy', 'mosquitto.conf');
const ACL = join(ROOT, 'docs', 'deploy', 'mosquitto.acl');
/** The identities of the shipped ACL: two beds, the station view and its command tool. */
const BED = { gatewayId: 'gw-ward7-bed12', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' };
const OTHER = { gatewayId: 'gw-ward7-bed13', siteId: 'site1', wardId: 'ward7', bedId: 'bed13' };
const SHIPPED_STATIONS = [STATIONS.view, STATIONS.cli];

/** The rules of an ACL file, without comments and blank lines. */
const rules = (acl: string): string[] => acl.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));

async function shippedBroker(t: Test) {
  const pki = createPki([BED.gatewayId, OTHER.gatewayId, ...SHIPPED_STATIONS]);
  t.teardown(() => pki.remove());
  const broker = await startBrokerFromFile(CONF, { cafile: pki.caFile, certfile: pki.broker.certFile, keyfile: pki.broker.keyFile, acl_file: ACL });
  t.teardown(() => broker.stop());
  return { pki, broker };
}

t.test('REQ-SEC-007 HAZ-016 the shipped Mosquitto configuration: client certificates required, the ACL, and client ids bound to certificates', async (t) => {
  t.same(rules(readFileSync(ACL, 'utf8')), rules(vigilAcl([BED, OTHER], SHIPPED_STATIONS)), "the shipped ACL is the tests' ACL (vigilAcl) for its two beds");
  const { pki, broker } = await shippedBroker(t);
  t.match(broker.url, /^mqtts:/, 'a TLS listener');
  t.not(await attemptConnect(broker.url, { caFile: pki.caFile }), 'connected', 'no client certificate: refused');
  t.not(await attemptConnect(broker.url, { caFile: pki.caFile, ...pki.rogue }), 'connected', 'a certificate from another CA: refused');
  t.not(await attemptConnect(broker.url.replace('mqtts:', 'mqtt:'), {}), 'connected', 'plain TCP: refused');

  const sub = await observe(broker.url, { tls: pki.clientTls(STATIONS.view) });
  t.teardown(() => sub.end());
  const sim = await startHwSim(['masimo-ascii', '--seed', '4', '--scenario', 'stable', '--period-ms', '250']);
  t.teardown(() => sim.stop('SIGKILL'));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-shipped-'));
  const agent = startAgentProcess(
    writeAgentConfig(dir, { brokerUrl: broker.url, devicePath: sim.path, gatewayId: BED.gatewayId, bedId: BED.bedId, tls: pki.clientTls(BED.gatewayId) }),
  );
  t.teardown(() => agent.stop('SIGKILL'));
  await until('the gateway streaming', () => sub.got.some((r) => r.env.gatewayId === BED.gatewayId && r.env.observation) && sub.got.some((r) => r.env.status?.online));

  // The ACL: the other bed's gateway publishes only for its bed and writes no command.
  const other = await connectLink(broker.url, { tls: pki.clientTls(OTHER.gatewayId) });
  const refusal = (topic: string, payload: Uint8Array) =>
    other.publish(topic, payload, { qos: 1, retain: false }).then(
      () => 0,
      (e: Error & { brokerReasonCode?: number }) => e.brokerReasonCode ?? -1,
    );
  t.equal(await refusal(topics.observation(BED, 'spo2'), Uint8Array.from([1])), 0x87, "an observation for another bed: not authorized");
  t.equal(await refusal(topics.observation(OTHER, 'spo2'), Uint8Array.from([1])), 0, 'its own bed: accepted');
  const forged = encodeCommand(buildCommand({ kind: 'observe', consciousness: 'U' }, BED, 'mallory', 'station-x', Date.now()));
  t.equal(await refusal(topics.command(BED), forged), 0x87, 'a command from a gateway certificate: not authorized');
  t.equal(await refusal(topics.receipt(BED, STATIONS.view), Uint8Array.from([1])), 0x87, "a delivery receipt from a gateway certificate, in the station's name: not authorized (CTRL-025)");
  // It leaves before the attack below, which uses its certificate (one certificate per client process).
  await other.end(true);

  // The station's command tool, with its own certificate, writes a command and reads the answer.
  const cli = pki.clientTls(STATIONS.cli);
  const child = spawn(
    process.execPath,
    [VIGIL_CLI, 'station', 'observe', '--url', broker.url, '--bed', 'site1/ward7/bed12', '--consciousness', 'A', '--user', 'nurse-e', '--json',
      '--ca', cli.caFile, '--cert', cli.certFile, '--key', cli.keyFile],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  t.equal(await exitOf(child), 0, 'vigil station observe with the station-cli certificate: accepted');
  t.match(out, /"outcome":"accepted"/);

  // Session takeover (HAZ-016): the other gateway's and the command tool's certificates, 10 attempts in 5 s.
  const subFrom = sub.got.length;
  const outcomes = await takeoverAttack({ url: broker.url, gatewayId: BED.gatewayId, attackers: [pki.clientTls(OTHER.gatewayId), cli], attempts: 10, periodMs: 500 });
  await sleep(2000); // a gateway thrown off reconnects within 0.5 s (the tests' mqtt.reconnectPeriodMs); its will is published at once
  t.same(outcomes, Array<string>(10).fill('connected'), 'each attempt was let in, under its own identity');
  t.equal(connectionsLogged(broker.log, OTHER.gatewayId), 5 + 1, "the other gateway's certificate was given its own client id (and before, for the ACL checks)");
  t.equal(connectionsLogged(broker.log, STATIONS.cli), 5 + 1, "the command tool's certificate was given its own client id (and before, for the command)");
  const seen = sessionDisturbance(agent.logs, sub.got.slice(subFrom), BED);
  t.comment(`the gateway connected ${seen.connections} time(s), went offline ${seen.offline} time(s)`);
  t.equal(seen.connections, 1, 'the gateway connected once: it was never thrown off');
  t.equal(seen.offline, 0, 'its link never went offline');
  t.same(seen.offlineStatuses, [], 'no offline status (no last will) was published for its bed');
});

t.test("REQ-SEC-007 the shipped configuration keeps a station's session and what is queued for it across a broker crash (kill -9)", async (t) => {
  const { pki, broker } = await shippedBroker(t);
  const heard: number[] = [];
  // The station's persistent session; its handler is in place before it connects, so that what the
  // broker kept is counted however soon after the connection it comes.
  const station = (): Promise<MqttLink> => {
    const link = new MqttLink(
      { url: broker.url, protocolVersion: 5, clientId: `station-${Math.random()}`, keepaliveSec: 5, reconnectPeriodMs: 200, insecure: false, clean: false, sessionExpirySec: 600, ...pki.clientTls(STATIONS.view) },
      memoryLogger(),
    );
    link.on('message', (topic, payload) => {
      if (topic === topics.observation(BED, 'spo2')) heard.push(payload[0]!);
    });
    link.on('error', () => undefined);
    return new Promise((resolve) => link.once('connect', () => resolve(link)));
  };
  const first = await station();
  await first.subscribe(topics.all, 1);
  await first.end(); // a clean DISCONNECT: the session stays, for 600 s

  const gw = await connectLink(broker.url, { tls: pki.clientTls(BED.gatewayId) });
  const sent = Array.from({ length: 20 }, (_, i) => i + 1);
  for (const n of sent) await gw.publish(topics.observation(BED, 'spo2'), Uint8Array.from([n]), { qos: 1, retain: false });
  await gw.end(true);
  // Each change is saved at the end of the broker's loop pass that made it, which may come just
  // after the acknowledgement: the shipped file says so. This test checks the save, not that race.
  await sleep(300);
  await broker.pause('SIGKILL');
  await broker.resume();

  // Another client id, the same certificate: the broker gives it the session of that certificate.
  const again = await station();
  t.teardown(() => again.end(true));
  await until('what was queued for the station', () => heard.length >= sent.length, 10_000);
  await sleep(300);
  t.same(heard, sent, 'the 20 messages queued for the away station before the crash were delivered after it, in order, once');
});
