/**
 * System test of the MQTT 3.1.1 fallback (`mqtt.protocolVersion: 4`) for older brokers:
 * the same envelopes, QoS 1, retained state, store and forward with backfill, and
 * commands, over mutual TLS, without the MQTT v5 properties (expiry, content type,
 * PUBACK reason codes) that 3.1.1 does not have.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker } from '../support/broker';
import { dedupe, observe, sleep, until } from '../support/observer';
import { createPki, STATIONS, vigilAcl } from '../support/pki';
import { exitOf, startAgentProcess, startHwSim, VIGIL_CLI, writeAgentConfig } from '../support/processes';

const BED = { gatewayId: 'gw-test', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' };

t.test('REQ-DELIV-004 MQTT 3.1.1 by configuration: delivery, backfill after an outage, retained status and commands all work', async (t) => {
  const pki = createPki([BED.gatewayId, ...Object.values(STATIONS)]);
  t.teardown(() => pki.remove());
  const broker = await startBroker({ tls: { caFile: pki.caFile, ...pki.broker, acl: vigilAcl([BED], Object.values(STATIONS)) }, persistence: true });
  t.teardown(() => broker.stop());
  const sub = await observe(broker.url, { tls: pki.clientTls(STATIONS.observer), persistent: true, protocolVersion: 4 });
  t.teardown(() => sub.end());
  const sim = await startHwSim(['masimo-ascii', '--seed', '9', '--scenario', 'stable', '--period-ms', '250']);
  t.teardown(() => sim.stop('SIGKILL'));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-311-'));
  const agent = startAgentProcess(writeAgentConfig(dir, { brokerUrl: broker.url, devicePath: sim.path, tls: pki.clientTls(BED.gatewayId), protocolVersion: 4 }));
  t.teardown(() => agent.stop('SIGKILL'));
  await until('live data over MQTT 3.1.1', () => sub.got.filter((r) => r.env.observation?.hasValue).length >= 8);
  // Mosquitto logs its protocol enum: p2 is MQTT 3.1.1 (p5 would be MQTT v5). The client id it logs
  // is the certificate's common name (use_username_as_clientid).
  t.match(broker.log.join(''), /as gw-test \(p2,/, 'the agent connected with MQTT 3.1.1');

  const stoppedAt = Date.now();
  await broker.pause();
  await sleep(4000);
  await broker.resume();
  const resumedAt = Date.now();
  await until('backfill and live data again', () => sub.got.some((r) => r.env.backfill) && sub.got.some((r) => r.atMs > resumedAt + 500 && r.env.observation && !r.env.backfill), 20_000);
  const { unique } = dedupe(sub.got.filter((r) => r.env.gatewayId === BED.gatewayId));
  const seqs = unique.map((r) => Number(r.env.sequence)).filter((n) => n > 0).sort((a, b) => a - b);
  t.same(seqs, seqs.map((_, i) => i + 1), `sequence 1..${seqs.length} complete across the outage`);
  const outage = unique.filter((r) => r.env.observation && Number(r.env.observation.receiveWallMs) > stoppedAt + 500 && Number(r.env.observation.receiveWallMs) < resumedAt - 500);
  t.ok(outage.length >= 30, `${outage.length} observations accepted during the outage arrived`);
  t.ok(outage.every((r) => r.env.backfill === true), 'all flagged backfill');

  // A late subscriber (a station view) gets the retained status at once (3.1.1 has retain, not expiry).
  const late = await observe(broker.url, { tls: pki.clientTls(STATIONS.view), protocolVersion: 4 });
  t.teardown(() => late.end());
  const retained = await until('the retained status', () => late.got.find((r) => r.topic.endsWith('/status'))?.env.status);
  t.equal(retained.online, true);

  const tls = pki.clientTls(STATIONS.cli);
  const child = spawn(
    process.execPath,
    [VIGIL_CLI, 'station', 'observe', '--url', broker.url, '--bed', 'site1/ward7/bed12', '--consciousness', 'C', '--user', 'nurse-d',
      '--protocol-version', '4', '--json', '--ca', tls.caFile, '--cert', tls.certFile, '--key', tls.keyFile],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  t.equal(await exitOf(child), 0, 'a command over MQTT 3.1.1 is accepted');
  t.match(out, /"outcome":"accepted"/);
  const score = await until('a score with the manual input', () => [...sub.got].reverse().find((r) => r.env.score?.inputs?.some((i) => i.field === 'consciousness'))?.env.score);
  t.equal(score.points.find((p) => p.parameter === 'consciousness')?.points, 3, 'new confusion scores 3 (RCP NEWS2 chart 1)');
});
