/**
 * System test of end-to-end delivery (HAZ-013, CTRL-025) through broker crashes: the real
 * agent reads hw-sim through a real pty and publishes over mutual TLS to a real Mosquitto,
 * which is killed with SIGKILL again and again under load and started again on the same port
 * and directory. The real console station (`vigil station --json --station-id station`)
 * confirms what it receives with delivery receipts; the agent waits for them
 * (`queue.confirmBy: ["station"]`).
 *
 * Mosquitto acknowledges a message (PUBACK) as soon as it holds it in memory. A broker that
 * saves its persistence only on a clean exit (`autosave_interval 0`, the first case) forgets on
 * a kill the station's session and everything queued for it; one that saves after every
 * change (the shipped docs/deploy/mosquitto.conf, the second case) can still lose what it
 * acknowledged since its last save. Before the receipts, the agent deleted what the broker
 * had acknowledged, and 20 kills lost 174 messages. Now nothing may be lost in either case:
 * every numbered message of the run reaches the station, and the agent's queue empties only
 * through the station's receipts.
 */
import t from 'tap';
import type { Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { BedView } from '../../agent/src/station/station';
import type { Broker } from '../support/broker';
import { startBroker, startBrokerFromFile } from '../support/broker';
import { lastCounters, observe, sleep, until } from '../support/observer';
import { createPki, STATIONS, vigilAcl } from '../support/pki';
import type { Pki } from '../support/pki';
import { recordFault } from '../support/single-fault';
import { ROOT, startAgentProcess, startHwSim, VIGIL_CLI, writeAgentConfig } from '../support/processes';

/** The identities of the shipped ACL (docs/deploy/mosquitto.acl), used in both cases. */
const BED = { gatewayId: 'gw-ward7-bed12', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' };
const KILLS = 5;

interface Run {
  kills: number;
  highest: number;
  received: number;
  accepted: number;
}

async function crashUnderLoad(t: Test, startBrokerFor: (pki: Pki) => Promise<Broker>, label: string): Promise<Run> {
  const pki = createPki([BED.gatewayId, STATIONS.view, STATIONS.cli]);
  t.teardown(() => pki.remove());
  const broker = await startBrokerFor(pki);
  t.teardown(() => broker.stop());
  const tls = pki.clientTls(STATIONS.view);
  const station = spawn(
    process.execPath,
    [VIGIL_CLI, 'station', '--url', broker.url, '--json', '--refresh-ms', '500', '--station-id', STATIONS.view, '--client-id', STATIONS.view,
      '--ca', tls.caFile, '--cert', tls.certFile, '--key', tls.keyFile],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  t.teardown(() => {
    station.kill('SIGKILL');
  });
  let bed: BedView | undefined;
  createInterface({ input: station.stdout }).on('line', (l) => {
    bed = (JSON.parse(l) as { beds: BedView[] }).beds.find((b) => b.gatewayId === BED.gatewayId) ?? bed;
  });
  // The gateway's own counters, read from its status by a second station-side identity.
  const statusSub = await observe(broker.url, { tls: pki.clientTls(STATIONS.cli), filter: 'vigil/v1/+/+/+/status' });
  t.teardown(() => statusSub.end());
  const sim = await startHwSim(['masimo-ascii', '--seed', '21', '--scenario', 'stable', '--period-ms', '250']);
  t.teardown(() => sim.stop('SIGKILL'));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-broker-crash-'));
  const agent = startAgentProcess(
    writeAgentConfig(dir, {
      brokerUrl: broker.url,
      devicePath: sim.path,
      gatewayId: BED.gatewayId,
      bedId: BED.bedId,
      tls: pki.clientTls(BED.gatewayId),
      confirmBy: [STATIONS.view],
      resendUnconfirmedAfterMs: 2000,
    }),
  );
  t.teardown(() => agent.stop('SIGKILL'));

  const run = (): BedView['runs'][number] | undefined => bed?.runs.at(-1);
  await until(`${label}: the station receives the stream`, () => (run()?.received ?? 0) >= 20, 30_000);
  for (let k = 0; k < KILLS; k += 1) {
    await sleep(1500 + ((k * 677) % 1500)); // under load: 4 frames (16 numbered messages) a second
    await broker.pause('SIGKILL');
    await sleep(300 + ((k * 331) % 900));
    await broker.resume();
  }
  await sleep(2000);
  await sim.stop('SIGKILL'); // the device goes: the stream ends with the link alarm
  const settled = await until(
    `${label}: every numbered message of the run received, and the agent's queue emptied by the receipts`,
    () => {
      const r = run();
      const c = lastCounters(statusSub.got);
      const done = r && r.received === r.highest && c['queue-accepted'] === r.highest && c['queue-depth'] === 0;
      return done ? { r, c } : null;
    },
    90_000,
  );
  const evicted = Object.entries(settled.c).filter(([k, v]) => k.startsWith('queue-evicted') && v > 0);
  t.same(evicted, [], `${label}: nothing evicted from the queue`);
  t.ok((settled.c['queue-confirmed'] ?? 0) >= settled.r.highest, `${label}: every message left the queue by a receipt (${settled.c['queue-confirmed']} confirmed)`);
  t.ok(bed?.alarms.some((a) => a.alarmId === 'spo2.link-lost'), `${label}: the link alarm raised after the crashes reached the station`);
  return { kills: KILLS, highest: settled.r.highest, received: settled.r.received, accepted: settled.c['queue-accepted'] ?? 0 };
}

t.test('REQ-DELIV-049 HAZ-013 broker killed 5 times under load, persistence saved only on a clean exit: every accepted message reaches the station', async (t) => {
  const killedAt = Date.now();
  const r = await crashUnderLoad(
    t,
    (pki) => startBroker({ tls: { caFile: pki.caFile, ...pki.broker, acl: vigilAcl([BED], [STATIONS.view, STATIONS.cli]) }, persistence: true }),
    'autosave_interval 0',
  );
  t.equal(r.received, r.accepted, `all ${r.accepted} numbered messages of the run received, none lost`);
  recordFault(t, {
    test: 'REQ-DELIV-049',
    fault: `broker killed (SIGKILL) ${r.kills} times under load; persistence saved only on clean exit`,
    expected: 'the gateway keeps each message until the station confirms it, re-sends what the broker forgot: nothing lost',
    quietTimeMs: null,
    detectionMs: null,
    alarm: `none (no data lost): ${r.received} of ${r.accepted} received in ${Math.round((Date.now() - killedAt) / 1000)} s`,
  });
});

t.test('REQ-DELIV-050 HAZ-013 broker killed 5 times under load with the shipped Mosquitto configuration: every accepted message reaches the station', async (t) => {
  const conf = join(ROOT, 'docs', 'deploy', 'mosquitto.conf');
  const acl = join(ROOT, 'docs', 'deploy', 'mosquitto.acl');
  const r = await crashUnderLoad(
    t,
    (pki) => startBrokerFromFile(conf, { cafile: pki.caFile, certfile: pki.broker.certFile, keyfile: pki.broker.keyFile, acl_file: acl }),
    'shipped configuration',
  );
  t.equal(r.received, r.accepted, `all ${r.accepted} numbered messages of the run received, none lost`);
});
