/**
 * The install path of the README on a fresh Debian 12 root (debootstrap minbase, amd64): the
 * package installed with the distribution's own tools (apt-get install ./vigil_<version>_amd64.deb
 * in a chroot; dpkg runs the maintainer scripts), then `vigil check-config` on the example
 * configuration, then the agent run as the `vigil` user with a real configuration against hw-sim
 * (its pseudo-terminal given to the root as /dev/vigil-spo2, group dialout, as the udev rule
 * does) and a real Mosquitto with mutual TLS on this machine.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { debFileName, LAYOUT } from '../support/package/build-deb';
import { chrootCommand, freshDebianRoot } from '../support/package/debian-root';
import { debOf, startOximeterBed } from '../support/package/installed';
import { until } from '../support/observer';

// debootstrap (once), apt in the chroot and an agent: longer than the suite's per-file timeout.
t.setTimeout(900_000);

/** Debian's dialout group (base-passwd: a fixed id on every Debian system). */
const DIALOUT_GID = 20;

t.test('REQ-INST-005 on a fresh Debian 12 root the package installs with apt, needs nothing else, and its agent runs as the vigil user', async (t) => {
  const deb = freshDebianRoot();
  t.teardown(() => deb.remove());
  const { root } = deb;
  copyFileSync(debOf('amd64'), join(root, 'tmp', debFileName('amd64')));
  const update = deb.run(['apt-get', 'update', '-qq']);
  t.equal(update.status, 0, `apt-get update in the root ${update.stderr}`);
  const install = deb.run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', `/tmp/${debFileName('amd64')}`]);
  t.equal(install.status, 0, `apt-get install ./${debFileName('amd64')} ${install.stderr.slice(-2000)}`);
  t.match(deb.run(['dpkg-query', '-W', '-f', '${Status}', 'vigil']).stdout, 'install ok installed', 'dpkg: vigil installed');

  // Nothing else: no compiler, npm, Node or broker came with it.
  for (const tool of ['node', 'nodejs', 'npm', 'gcc', 'cc', 'cargo', 'rustc', 'mosquitto']) {
    t.not(deb.run(['sh', '-c', `command -v ${tool}`]).status, 0, `no ${tool} on the gateway`);
  }
  // The maintainer scripts: the user, its state directory, the config readable by it only.
  t.match(deb.run(['id', 'vigil']).stdout, /groups=.*\(dialout\)/, 'the vigil user, a member of dialout (sysusers.d)');
  t.equal(deb.run(['stat', '-c', '%a %U %G', '/var/lib/vigil']).stdout.trim(), '700 vigil vigil', '/var/lib/vigil (tmpfiles.d)');
  t.equal(deb.run(['stat', '-c', '%a %U %G', '/etc/vigil/vigil.json']).stdout.trim(), '640 root vigil', 'the config: root writes, vigil reads');
  t.match(deb.run(['vigil', '--version']).stdout, /^vigil \d+\.\d+\.\d+$/m, '/usr/bin/vigil runs on the packaged runtime');

  // The example configuration names certificates that are not there yet: every problem is said.
  const check = deb.run(['runuser', '-u', 'vigil', '--', 'vigil', 'check-config', '--config', LAYOUT.config]);
  t.equal(check.status, 2, 'check-config exits 2 on the example before enrolment');
  for (const field of ['mqtt.caFile', 'mqtt.certFile', 'mqtt.keyFile']) {
    t.match(check.stderr, new RegExp(`^\\s*${field.replace('.', '\\.')}: file not found: /etc/vigil/certs/`, 'm'), `${field}: path: message`);
  }

  // Enrolment and a real configuration, then the agent as the service user.
  const gatewayId = 'gw-debian-root';
  const { broker, sub, sim, pki } = await startOximeterBed({ gatewayId, bedId: 'bed-root', seed: 3, periodMs: 500 }, (fn) => t.teardown(fn));
  const pty = realpathSync(sim.path);
  chownSync(pty, 0, DIALOUT_GID);
  chmodSync(pty, 0o660);
  deb.bindDevice(pty, '/dev/vigil-spo2');

  const vigilGid = Number(deb.run(['id', '-g', 'vigil']).stdout.trim());
  const certs = join(root, 'etc', 'vigil', 'certs');
  mkdirSync(certs, { recursive: true });
  chownSync(certs, 0, vigilGid);
  chmodSync(certs, 0o750);
  const tls = pki.clientTls(gatewayId);
  for (const [from, name] of [[tls.caFile, 'ca.crt'], [tls.certFile, 'gateway.crt'], [tls.keyFile, 'gateway.key']] as const) {
    copyFileSync(from, join(certs, name));
    chownSync(join(certs, name), 0, vigilGid);
    chmodSync(join(certs, name), 0o640);
  }
  const config = {
    $schema: LAYOUT.schema,
    gateway: { gatewayId, siteId: 'site1', wardId: 'ward7', bedId: 'bed-root' },
    mqtt: { url: broker.url, caFile: '/etc/vigil/certs/ca.crt', certFile: '/etc/vigil/certs/gateway.crt', keyFile: '/etc/vigil/certs/gateway.key', heartbeatIntervalMs: 1000 },
    interfaces: [{ id: 'spo2', driver: 'masimo-ascii', path: '/dev/vigil-spo2' }],
    queue: { dir: '/var/lib/vigil/queue' },
    log: { level: 'info' },
  };
  writeFileSync(join(root, 'etc', 'vigil', 'vigil.json'), `${JSON.stringify(config, null, 2)}\n`);
  const ok = deb.run(['runuser', '-u', 'vigil', '--', 'vigil', 'check-config', '--config', LAYOUT.config]);
  t.equal(ok.status, 0, `check-config accepts it as the vigil user ${ok.stderr}`);

  const agent = spawn('chroot', [root, ...chrootCommand(['runuser', '-u', 'vigil', '--', 'vigil', 'run', '--config', LAYOUT.config])], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  createInterface({ input: agent.stderr! }).on('line', (l) => logs.push(l));
  t.teardown(async () => {
    if (agent.exitCode === null && agent.signalCode === null) {
      // runuser passes SIGTERM on to the agent, which stops cleanly.
      const exited = new Promise((done) => agent.once('exit', done));
      agent.kill('SIGTERM');
      await Promise.race([exited, new Promise((done) => setTimeout(done, 15_000))]);
      if (agent.exitCode === null) agent.kill('SIGKILL');
    }
  });
  const spo2 = () => sub.got.filter((r) => r.topic.endsWith('/obs/spo2') && r.env.observation?.hasValue);
  try {
    await until('SpO2 from the agent installed in the Debian root', () => spo2().length >= 3, 120_000);
  } catch (err) {
    t.comment(logs.slice(-30).join('\n'));
    throw err;
  }
  const truth = new Set(sim.frames.map((f) => f.spo2Percent));
  t.ok(spo2().slice(0, 3).every((r) => truth.has(r.env.observation!.value)), 'values hw-sim sent');
  const score = await until('a NEWS2 score', () => sub.got.find((r) => r.env.score)?.env.score, 60_000);
  t.ok(score.missing.includes('respRatePerMin'), 'the NEWS2 score, with what it is missing');
  t.equal(deb.run(['stat', '-c', '%U', '/var/lib/vigil/queue']).stdout.trim(), 'vigil', 'the durable queue is in the state directory, made by the vigil user');
});
