/**
 * System tests of the security set-up of docs/interfaces/mqtt.md against a real
 * Mosquitto: TLS with client certificates required, the certificate's common name as
 * the identity and the client id, and the ACL (a gateway publishes only under its own bed
 * and reads only its command topic; the station reads everything and writes commands).
 */
import t from 'tap';
import type { Test } from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeCommand } from '../../agent/src/proto/codec';
import { topics } from '../../agent/src/publish/topics';
import { buildCommand } from '../../agent/src/station/commands';
import { startBroker } from '../support/broker';
import { attemptConnect, connectLink, observe, sleep, until } from '../support/observer';
import { createPki, STATIONS, vigilAcl } from '../support/pki';
import type { Pki } from '../support/pki';
import { startAgentProcess, startHwSim, writeAgentConfig } from '../support/processes';
import { connectionsLogged, sessionDisturbance, takeoverAttack, watchStationView } from '../support/takeover';

const BED = { gatewayId: 'gw-test', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' };
const OTHER = { gatewayId: 'gw-other', siteId: 'site1', wardId: 'ward7', bedId: 'bed13' };

async function secureBroker(t: Test, brokerCert?: (pki: Pki) => { certFile: string; keyFile: string }) {
  const pki = createPki([BED.gatewayId, OTHER.gatewayId, ...Object.values(STATIONS)]);
  t.teardown(() => pki.remove());
  const broker = await startBroker({ tls: { caFile: pki.caFile, ...(brokerCert ? brokerCert(pki) : pki.broker), acl: vigilAcl([BED, OTHER], Object.values(STATIONS)) } });
  t.teardown(() => broker.stop());
  return { pki, broker };
}

t.test('REQ-SEC-002 a client without a valid certificate is refused', async (t) => {
  const { pki, broker } = await secureBroker(t);
  t.equal(await attemptConnect(broker.url, pki.clientTls(STATIONS.view)), 'connected', 'the station with its certificate connects');
  t.match(await attemptConnect(broker.url, { caFile: pki.caFile }), /certificate required|alert|closed|ECONNRESET/i, 'no client certificate: refused in the TLS handshake');
  t.not(await attemptConnect(broker.url, { caFile: pki.caFile, ...pki.rogue }), 'connected', 'a certificate from another CA (same common name): refused');
  t.not(await attemptConnect(broker.url.replace('mqtts:', 'mqtt:'), {}), 'connected', 'plain TCP to the TLS listener: refused');
  t.match(await attemptConnect(broker.url, { ...pki.clientTls(STATIONS.view), caFile: pki.rogue.certFile }), /certificate|verify|issuer/i, 'a broker the client cannot verify: the client refuses it');
  t.ok(broker.log.join('').includes('peer did not return a certificate'), 'the broker logged the refusal');

  // The real agent with a CA but no client certificate never gets in; its data stays queued.
  const sim = await startHwSim(['masimo-ascii', '--seed', '2', '--scenario', 'stable', '--period-ms', '250']);
  t.teardown(() => sim.stop('SIGKILL'));
  const sub = await observe(broker.url, { tls: pki.clientTls(STATIONS.observer) });
  t.teardown(() => sub.end());
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sec-'));
  const file = writeAgentConfig(dir, { brokerUrl: broker.url, devicePath: sim.path, tls: pki.clientTls(BED.gatewayId) });
  const config = JSON.parse(readFileSync(file, 'utf8')) as { mqtt: Record<string, unknown> };
  delete config.mqtt.certFile;
  delete config.mqtt.keyFile;
  writeFileSync(file, JSON.stringify(config));
  const agent = startAgentProcess(file);
  t.teardown(() => agent.stop('SIGKILL'));
  await until('the agent to be refused a few times', () => agent.logs.filter((l) => l.includes('"event":"mqtt-error"')).length >= 2);
  await sleep(1000);
  t.equal(sub.got.filter((r) => r.env.gatewayId === BED.gatewayId).length, 0, 'nothing from it reached the station');
  t.notOk(agent.logs.some((l) => l.includes('"event":"mqtt-connected"')), 'it never connected');
});

t.test('REQ-SEC-003 the gateway checks the broker host name against its certificate', async (t) => {
  const { pki, broker } = await secureBroker(t, (p) => p.wrongHost);
  t.match(await attemptConnect(broker.url, pki.clientTls(STATIONS.view)), /altnames|does not match/i, 'a certificate from the right CA but for another host: refused');
  const sim = await startHwSim(['masimo-ascii', '--seed', '2', '--scenario', 'stable', '--period-ms', '250']);
  t.teardown(() => sim.stop('SIGKILL'));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sec-'));
  const agent = startAgentProcess(writeAgentConfig(dir, { brokerUrl: broker.url, devicePath: sim.path, tls: pki.clientTls(BED.gatewayId) }));
  t.teardown(() => agent.stop('SIGKILL'));
  const line = await until('the agent refusing the broker', () => agent.logs.find((l) => l.includes('"event":"mqtt-error"') && /altnames|does not match/.test(l)));
  t.match(line, /127\.0\.0\.1/, 'the refusal names the host it expected');
  t.notOk(agent.logs.some((l) => l.includes('"event":"mqtt-connected"')), 'the agent never connected to it');
});

t.test('REQ-SEC-004 a gateway publishing outside its bed is refused by the broker; it reads only its command topic', async (t) => {
  const { pki, broker } = await secureBroker(t);
  const sub = await observe(broker.url, { tls: pki.clientTls(STATIONS.observer) });
  t.teardown(() => sub.end());
  const gw = await connectLink(broker.url, { tls: pki.clientTls(BED.gatewayId) });
  t.teardown(() => gw.end(true));
  const heard: string[] = [];
  gw.on('message', (topic) => heard.push(topic));
  await gw.subscribe('vigil/v1/#', 1); // asks for everything; the ACL lets through only its command topic
  const refusedCode = (topic: string) =>
    gw.publish(topic, Uint8Array.from([1]), { qos: 1, retain: false }).then(
      () => 0,
      (e: Error & { brokerReasonCode?: number }) => e.brokerReasonCode ?? -1,
    );
  t.equal(await refusedCode(topics.observation(OTHER, 'spo2')), 0x87, 'observation for another bed: not authorized');
  t.equal(await refusedCode(topics.status(OTHER)), 0x87, 'status for another bed: not authorized');
  t.equal(await refusedCode('vigil/v1/site1/ward7/bed12/anything-else'), 0x87, 'a topic of its own bed outside the tree: not authorized');
  t.equal(await refusedCode(topics.observation(BED, 'spo2')), 0, 'its own bed: accepted');

  const other = await connectLink(broker.url, { tls: pki.clientTls(OTHER.gatewayId) });
  t.teardown(() => other.end(true));
  await other.publish(topics.observation(OTHER, 'spo2'), Uint8Array.from([2]), { qos: 1, retain: false });
  const station = await connectLink(broker.url, { tls: pki.clientTls(STATIONS.view) });
  t.teardown(() => station.end(true));
  const cmd = (bed: typeof BED) => encodeCommand(buildCommand({ kind: 'ack', alarmId: 'x.y' }, bed, 'nurse', 'station-1', Date.now()));
  await station.publish(topics.command(OTHER), cmd(OTHER), { qos: 1, retain: false });
  await station.publish(topics.command(BED), cmd(BED), { qos: 1, retain: false });
  await until('its own command', () => heard.includes(topics.command(BED)));
  await sleep(500);
  t.same([...new Set(heard)], [topics.command(BED)], 'the gateway received its own command topic and nothing else');
  t.notOk(
    sub.got.some((r) => r.topic.startsWith('vigil/v1/site1/ward7/bed13/') && r.env.gatewayId === BED.gatewayId),
    'nothing it tried to publish for another bed reached the station',
  );

  // The real agent configured for a bed its certificate does not own: every message refused, counted, logged.
  // It connects with gw-test's certificate, so the client standing for gw-test leaves first (one
  // certificate per client process: the second connection would take the first one's session).
  await gw.end(true);
  const sim = await startHwSim(['masimo-ascii', '--seed', '2', '--scenario', 'stable', '--period-ms', '250']);
  t.teardown(() => sim.stop('SIGKILL'));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sec-'));
  const agent = startAgentProcess(writeAgentConfig(dir, { brokerUrl: broker.url, devicePath: sim.path, bedId: OTHER.bedId, tls: pki.clientTls(BED.gatewayId) }));
  t.teardown(() => agent.stop('SIGKILL'));
  const refused = await until('the agent told of refusals', () => agent.logs.filter((l) => l.includes('"event":"publish-refused"')).length >= 4 && agent.logs.filter((l) => l.includes('"event":"publish-refused"')));
  t.ok(refused.every((l) => l.includes('"reasonCode":135')), 'refused as not authorized (0x87)');
  t.notOk(sub.got.some((r) => r.env.gatewayId === BED.gatewayId && r.topic.includes('/bed13/')), 'the station received none of it');
});

t.test('REQ-SEC-005 certificate and key contents never appear in the agent log', async (t) => {
  const { pki, broker } = await secureBroker(t);
  const sub = await observe(broker.url, { tls: pki.clientTls(STATIONS.observer) });
  t.teardown(() => sub.end());
  const sim = await startHwSim(['masimo-ascii', '--seed', '2', '--scenario', 'stable', '--period-ms', '250']);
  t.teardown(() => sim.stop('SIGKILL'));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sec-'));
  const tls = pki.clientTls(BED.gatewayId);
  const agent = startAgentProcess(writeAgentConfig(dir, { brokerUrl: broker.url, devicePath: sim.path, tls }));
  t.teardown(() => agent.stop('SIGKILL'));
  await until('data over mutual TLS', () => sub.got.some((r) => r.env.gatewayId === BED.gatewayId && r.env.observation));
  await agent.stop('SIGTERM');
  const log = agent.logs.join('\n');
  const secrets = [tls.keyFile, tls.certFile].flatMap((f) => readFileSync(f, 'utf8').split('\n').filter((l) => l.length > 20 && !l.startsWith('-----')));
  t.ok(secrets.length > 0, 'key and certificate bodies to look for');
  t.notOk(secrets.some((s) => log.includes(s)), 'no line of the key or the certificate is in the log');
  t.notOk(/PRIVATE KEY|BEGIN CERTIFICATE/.test(log), 'no PEM block in the log');
  t.notOk(log.includes('mqtt-insecure'), 'no insecure warning over TLS');
});

t.test("HAZ-016 REQ-SEC-006 another certificate connecting with a gateway's client id cannot take over its session; the station never sees the bed offline", async (t) => {
  const { pki, broker } = await secureBroker(t);
  const sub = await observe(broker.url, { tls: pki.clientTls(STATIONS.observer) });
  t.teardown(() => sub.end());
  const view = watchStationView(broker.url, pki.clientTls(STATIONS.view));
  t.teardown(() => view.stop());
  const sim = await startHwSim(['masimo-ascii', '--seed', '2', '--scenario', 'stable', '--period-ms', '250']);
  t.teardown(() => sim.stop('SIGKILL'));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sec-'));
  const agent = startAgentProcess(writeAgentConfig(dir, { brokerUrl: broker.url, devicePath: sim.path, tls: pki.clientTls(BED.gatewayId) }));
  t.teardown(() => agent.stop('SIGKILL'));
  await until('the station showing the bed online', () => view.latest(BED.gatewayId)?.gateway === 'online');
  const subFrom = sub.got.length;
  const viewsFrom = view.views.length;

  // Another gateway's certificate and the station command tool's take turns: 10 attempts in 5 s.
  const outcomes = await takeoverAttack({ url: broker.url, gatewayId: BED.gatewayId, attackers: [pki.clientTls(OTHER.gatewayId), pki.clientTls(STATIONS.cli)], attempts: 10, periodMs: 500 });
  await sleep(2000); // a gateway thrown off reconnects within 0.5 s (the tests' mqtt.reconnectPeriodMs); its will is published at once
  t.same(outcomes, Array<string>(10).fill('connected'), 'each of the 10 attempts was let in by the broker: each could have taken the session');
  t.equal(connectionsLogged(broker.log, OTHER.gatewayId), 5, "the other gateway's certificate was given its own client id each time");
  t.equal(connectionsLogged(broker.log, STATIONS.cli), 5, "the station command tool's certificate was given its own client id each time");
  const seen = sessionDisturbance(agent.logs, sub.got.slice(subFrom), BED);
  t.comment(`the gateway connected ${seen.connections} time(s), went offline ${seen.offline} time(s); the broker logged ${connectionsLogged(broker.log, BED.gatewayId)} connection(s) as ${BED.gatewayId}`);
  t.equal(connectionsLogged(broker.log, BED.gatewayId), 1, 'the gateway was given its certificate name as client id, once');
  t.equal(seen.connections, 1, 'the gateway connected once: it was never thrown off');
  t.equal(seen.offline, 0, 'its link never went offline');
  t.same(seen.offlineStatuses, [], 'no offline status (no last will) was published for its bed');
  const shown = view.views.slice(viewsFrom).map((v) => v.beds.find((b) => b.gatewayId === BED.gatewayId)?.gateway);
  t.ok(shown.length >= 10, `the station view was watched throughout (${shown.length} views)`);
  t.same([...new Set(shown)], ['online'], 'the station view showed the bed online throughout');
  const late = await observe(broker.url, { tls: pki.clientTls(STATIONS.cli), filter: topics.status(BED) });
  t.teardown(() => late.end());
  const retained = await until('the retained status', () => late.got.find((r) => r.env.status)?.env.status);
  t.equal(retained.online, true, 'the retained status of the bed is online');
});
