/**
 * `make run`: the whole system on one machine. Starts a private Mosquitto on a free
 * local port, hw-sim's pulse oximeter, sensor patch and bedside monitor on real pseudo-terminals, the
 * agent reading them, two more beds (an agent and an oximeter each), the station view in this
 * terminal, and the ward board in a browser (`vigil station serve`, docs/interfaces/station-web.md):
 * its URL and a demo user's credentials, made for this run, are printed. Ctrl-C stops them all.
 *
 * Secure as a ward would run it (docs/interfaces/mqtt.md): a throw-away CA made for this run,
 * Mosquitto with TLS, `require_certificate`, client ids bound to certificates and the ACL, and
 * one client certificate per client process: the agent (`gw-local`), the console station view
 * (`station`) and the station's command tool run from another terminal (`station-cli`). Two
 * processes with one certificate would take each other's session in turn. The certificates
 * are in the run's directory, printed at start.
 *
 *   node dist/test/support/run-local.js [--scenario stable|desaturation|sensor-off] [--seed N]
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, startBroker } from './broker';
import { createPki, STATIONS, vigilAcl } from './pki';
import { startAgentProcess, startHwSim, VIGIL_CLI, writeAgentConfig, exitOf } from './processes';

/** The ward board's station process has a certificate of its own (one per client process). */
const WEB_STATION = 'station-web';
/** The other beds of the ward: a gateway and an oximeter each, on scenarios of their own. */
const MORE_BEDS = [
  { gatewayId: 'gw-bed13', bedId: 'bed13', scenario: 'stable', seed: '2' },
  { gatewayId: 'gw-bed14', bedId: 'bed14', scenario: 'desaturation', seed: '3' },
] as const;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { scenario: { type: 'string', default: 'desaturation' }, seed: { type: 'string', default: '1' } },
  });
  const dir = mkdtempSync(join(tmpdir(), 'vigil-run-'));
  const log = createWriteStream(join(dir, 'system.log'));
  const bed = { gatewayId: 'gw-local', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' };
  const stations = [STATIONS.view, STATIONS.cli, WEB_STATION];
  const beds = [bed, ...MORE_BEDS.map((b) => ({ gatewayId: b.gatewayId, siteId: bed.siteId, wardId: bed.wardId, bedId: b.bedId }))];
  const pki = createPki([...beds.map((b) => b.gatewayId), ...stations]);
  const broker = await startBroker({
    log: (l) => log.write(`[mosquitto] ${l}`),
    tls: { caFile: pki.caFile, ...pki.broker, acl: vigilAcl(beds, stations) },
  });
  const sim = await startHwSim(['masimo-ascii', '--scenario', values.scenario ?? 'desaturation', '--seed', values.seed ?? '1']);
  sim.process.stderr?.on('data', (d: Buffer) => log.write(d));
  // The Vigil sensor patch on the same bed: its ECG gives the heart rate, its accelerometer the
  // respiration rate (docs/interfaces/vigil-patch.md).
  const patch = await startHwSim(['vigil-patch', '--scenario', values.scenario ?? 'desaturation', '--seed', values.seed ?? '1']);
  patch.process.stderr?.on('data', (d: Buffer) => log.write(d));
  // The bedside monitor over HL7 (IHE PCD-01, MLLP on a serial line): NIBP, temperature and
  // its own numerics (docs/interfaces/hl7-pcd01.md). NIBP and temperature come every 30 and
  // 60 messages on a real monitor; here every 5 and 10 so that the score fills up quickly.
  const monitor = await startHwSim([
    'hl7-monitor', '--scenario', values.scenario ?? 'desaturation', '--seed', values.seed ?? '1',
    '--period-ms', '2000', '--nibp-every', '5', '--temp-every', '10',
  ]);
  monitor.process.stderr?.on('data', (d: Buffer) => log.write(d));
  const configFile = writeAgentConfig(dir, {
    brokerUrl: broker.url,
    devicePath: sim.path,
    gatewayId: bed.gatewayId,
    bedId: bed.bedId,
    tls: pki.clientTls(bed.gatewayId),
    // End to end: queued messages wait for the station view's delivery receipts (HAZ-013).
    confirmBy: [STATIONS.view],
    moreInterfaces: [
      { id: 'patch', driver: 'vigil-patch', path: patch.path },
      { id: 'monitor', driver: 'hl7-pcd01', transport: 'serial', path: monitor.path, scoreUnverified: true },
    ],
  });
  const agent = startAgentProcess(configFile);
  agent.process.stderr?.on('data', (d: Buffer) => log.write(d));
  const more = await Promise.all(MORE_BEDS.map(async (b) => {
    const oximeter = await startHwSim(['masimo-ascii', '--scenario', b.scenario, '--seed', b.seed]);
    oximeter.process.stderr?.on('data', (d: Buffer) => log.write(d));
    const bedDir = mkdtempSync(join(dir, `${b.bedId}-`));
    const file = writeAgentConfig(bedDir, { brokerUrl: broker.url, devicePath: oximeter.path, gatewayId: b.gatewayId, bedId: b.bedId, tls: pki.clientTls(b.gatewayId) });
    const gateway = startAgentProcess(file);
    gateway.process.stderr?.on('data', (d: Buffer) => log.write(d));
    return { oximeter, gateway };
  }));
  const board = await startBoard(dir, broker.url, pki, log);
  process.stderr.write(
    `vigil: broker ${broker.url} (mutual TLS; CA and certificates in ${pki.dir}), pulse oximeter on ${sim.path}, sensor patch on ${patch.path}, monitor on ${monitor.path}, config ${configFile}, logs ${join(dir, 'system.log')}\n`,
  );
  // The command tool has its own certificate: with the view's, it would take the view's session.
  const cliTls = pki.clientTls(STATIONS.cli);
  process.stderr.write(
    `vigil: manual inputs from another terminal (with the command tool's own certificate, ${STATIONS.cli}: one certificate per client process): npx vigil station observe --url ${broker.url} --bed ${bed.siteId}/${bed.wardId}/${bed.bedId} --consciousness A --user nurse --ca ${cliTls.caFile} --cert ${cliTls.certFile} --key ${cliTls.keyFile}\n`,
  );
  const stationTls = pki.clientTls(STATIONS.view);
  const station = spawn(
    process.execPath,
    [VIGIL_CLI, 'station', '--url', broker.url, '--station-id', STATIONS.view, '--ca', stationTls.caFile, '--cert', stationTls.certFile, '--key', stationTls.keyFile],
    { stdio: 'inherit' },
  );
  let stopping: Promise<void> | null = null;
  // One stop, however many signals and exits ask for it; the process exits once it is done.
  const stopAll = (): Promise<void> => {
    stopping ??= (async () => {
      if (station.exitCode === null) station.kill('SIGTERM');
      if (board.exitCode === null) board.kill('SIGTERM');
      for (const m of more) {
        await m.gateway.stop('SIGTERM');
        await m.oximeter.stop('SIGTERM');
      }
      await agent.stop('SIGTERM');
      await sim.stop('SIGTERM');
      await patch.stop('SIGTERM');
      await monitor.stop('SIGTERM');
      await broker.stop();
      await exitOf(station);
      await exitOf(board);
      pki.remove();
      log.end();
      process.stderr.write(`vigil: stopped; logs kept in ${join(dir, 'system.log')}\n`);
    })();
    return stopping;
  };
  // Ctrl-C reaches every process of the terminal's group; a signal to this process
  // alone (make killed, terminal closed) must stop the others too.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => void stopAll().then(() => process.exit(0)));
  }
  station.once('exit', () => void stopAll().then(() => process.exit(0)));
  agent.process.once('exit', (code) => {
    if (stopping === null) process.stderr.write(`vigil: the agent exited (${code}); see ${join(dir, 'system.log')}\n`);
  });
}

/**
 * The ward board: a users file with one demo user and a password made for this run, and
 * `vigil station serve` over HTTPS (the broker's certificate, for localhost, from this run's CA)
 * on a free local port. Prints where to point a browser and how to sign in.
 */
async function startBoard(dir: string, brokerUrl: string, pki: ReturnType<typeof createPki>, log: NodeJS.WritableStream) {
  const users = join(dir, 'station-users.json');
  const password = randomBytes(12).toString('base64url');
  const added = spawnSync(process.execPath, [VIGIL_CLI, 'station', 'add-user', '--users', users, '--name', 'nurse', '--display-name', 'Demo nurse', '--beds', 'site1/ward7/*'], { input: `${password}\n`, encoding: 'utf8' });
  if (added.status !== 0) throw new Error(`vigil station add-user failed: ${added.stderr}`);
  const port = await freePort();
  const tls = pki.clientTls(WEB_STATION);
  const board = spawn(
    process.execPath,
    [
      VIGIL_CLI, 'station', 'serve', '--url', brokerUrl, '--ca-file', tls.caFile, '--cert-file', tls.certFile, '--key-file', tls.keyFile,
      '--station-id', WEB_STATION, '--users', users, '--listen', `127.0.0.1:${port}`, '--tls-cert', pki.broker.certFile, '--tls-key', pki.broker.keyFile,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  board.stderr?.on('data', (d: Buffer) => log.write(d));
  process.stderr.write(
    `vigil: ward board https://localhost:${port}/  sign in as "nurse" with password "${password}" (made for this run); the certificate is from this run's CA ${pki.caFile}: let the browser trust it, or accept the warning\n`,
  );
  return board;
}

main().catch((err: unknown) => {
  process.stderr.write(`vigil run: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
