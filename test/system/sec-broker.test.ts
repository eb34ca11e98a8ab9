/**
 * System tests of the security set-up of docs/interfaces/mqtt.md against a real
 * Mosquitto: TLS with client certificates required, the certificate's common name as
 * the identity, and the ACL (a gateway publishes only under its own bed and reads only
 * its command topic; the station reads everything and writes commands).
 */
import t from 'tap';
import type { Test } from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MqttLink } from '../../agent/src/io/mqtt';
import type { MqttLinkOptions } from '../../agent/src/io/mqtt';
import { memoryLogger } from '../../agent/src/log';
import { encodeCommand } from '../../agent/src/proto/codec';
import { topics } from '../../agent/src/publish/topics';
import { buildCommand } from '../../agent/src/station/commands';
import { startBroker } from '../support/broker';
import { connectLink, observe, sleep, until } from '../support/observer';
import { createPki, vigilAcl } from '../support/pki';
import type { Pki } from '../support/pki';
import { startAgentProcess, startHwSim, writeAgentConfig } from '../support/processes';

const BED = { gatewayId: 'gw-test', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' };
const OTHER = { gatewayId: 'gw-other', siteId: 'site1', wardId: 'ward7', bedId: 'bed13' };

async function secureBroker(t: Test, brokerCert?: (pki: Pki) => { certFile: string; keyFile: string }) {
  const pki = createPki([BED.gatewayId, OTHER.gatewayId, 'station']);
  t.teardown(() => pki.remove());
  const broker = await startBroker({ tls: { caFile: pki.caFile, ...(brokerCert ? brokerCert(pki) : pki.broker), acl: vigilAcl([BED, OTHER], ['station']) } });
  t.teardown(() => broker.stop());
  return { pki, broker };
}

/** One connection attempt without retry: 'connected', or the error that refused it. */
function attempt(url: string, o: Partial<MqttLinkOptions>): Promise<string> {
  const link = new MqttLink(
    { url, protocolVersion: 5, clientId: `attempt-${Math.random()}`, keepaliveSec: 5, reconnectPeriodMs: 0, insecure: !url.startsWith('mqtts'), ...o },
    memoryLogger(),
  );
  return new Promise((resolve) => {
    let settled = false;
    const done = (what: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void link.end(true).then(() => resolve(what));
    };
    const timer = setTimeout(() => done('no answer'), 5000);
    link.on('connect', () => done('connected'));
    link.on('error', (err) => done(err.message)); // kept: later errors of the same attempt are expected
    link.on('close', () => setTimeout(() => done('closed by the broker'), 100)); // an error, if any, comes first
  });
}

t.test('REQ-SEC-002 a client without a valid certificate is refused', async (t) => {
  const { pki, broker } = await secureBroker(t);
  t.equal(await attempt(broker.url, pki.clientTls('station')), 'connected', 'the station with its certificate connects');
  t.match(await attempt(broker.url, { caFile: pki.caFile }), /certificate required|alert|closed|ECONNRESET/i, 'no client certificate: refused in the TLS handshake');
  t.not(await attempt(broker.url, { caFile: pki.caFile, ...pki.rogue }), 'connected', 'a certificate from another CA (same common name): refused');
  t.not(await attempt(broker.url.replace('mqtts:', 'mqtt:'), {}), 'connected', 'plain TCP to the TLS listener: refused');
  t.match(await attempt(broker.url, { ...pki.clientTls('station'), caFile: pki.rogue.certFile }), /certificate|verify|issuer/i, 'a broker the client cannot verify: the client refuses it');
  t.ok(broker.log.join('').includes('peer did not return a certificate'), 'the broker logged the refusal');

  // The real agent with a CA but no client certificate never gets in; its data stays queued.
  const sim = await startHwSim(['masimo-ascii', '--seed', '2', '--scenario', 'stable', '--period-ms', '250']);
  t.teardown(() => sim.stop('SIGKILL'));
  const sub = await observe(broker.url, { tls: pki.clientTls('station') });
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
  t.match(await attempt(broker.url, pki.clientTls('station')), /altnames|does not match/i, 'a certificate from the right CA but for another host: refused');
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
  const sub = await observe(broker.url, { tls: pki.clientTls('station') });
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
  const station = await connectLink(broker.url, { tls: pki.clientTls('station') });
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
  const sub = await observe(broker.url, { tls: pki.clientTls('station') });
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
