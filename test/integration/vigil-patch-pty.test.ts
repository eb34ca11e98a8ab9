/**
 * The vigil-patch driver on a real pseudo-terminal: hw-sim's patch in-process (socat owns the
 * pty) and the driver with its real serial port, host commands and timers. What cannot be
 * shown without a port: START and the keep-alive reaching the patch, the quiet-time
 * escalation (START again, then close and reopen the port), and the recovery after it.
 *
 * Needs socat (`make deps`); without it these tests fail, they are not skipped.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { systemClock } from '../../agent/src/clock';
import { parseConfig } from '../../agent/src/config';
import type { LinkChange } from '../../agent/src/drivers/driver';
import { VigilPatchDriver } from '../../agent/src/drivers/vigil-patch/driver';
import { memoryLogger } from '../../agent/src/log';
import type { Observation } from '../../agent/src/model/observation';
import { startPatchSimulator } from '../../hw-sim/src/vigil-patch-cli';
import type { PatchSimConfig } from '../../hw-sim/src/vigil-patch-cli';

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The driver opens a symbolic link socat makes in a private directory, never the bare
 * /dev/pts/N: the kernel reuses that number for the next pty anyone opens, so a retry after
 * the unplug could open another test's device. socat removes the link when it ends.
 */
function simConfig(over: Partial<PatchSimConfig>): PatchSimConfig {
  return { scenario: 'stable', seed: 5, link: join(mkdtempSync(join(tmpdir(), 'vigil-patch-pty-')), 'tty'), serial: '00C0FFEE', injections: [], seconds: null, exitAfter: false, replay: null, autoStart: false, unplugQuietMs: 100, ...over };
}

t.test('REQ-PATCH-030 HAZ-003 quiet time: stale, START sent again, then the port is reopened; streaming resumes', async (t) => {
  const events: Array<Record<string, unknown>> = [];
  const sim = await startPatchSimulator(simConfig({ injections: [{ kind: 'silence', atS: 3, durationS: 4 }] }), { emit: (e) => events.push(e) });
  t.teardown(() => sim.stop());
  const config = parseConfig({
    gateway: { gatewayId: 'gw', siteId: 's', wardId: 'w', bedId: 'b' },
    mqtt: { url: 'mqtt://127.0.0.1:1883', insecure: true },
    interfaces: [{ id: 'patch', driver: 'vigil-patch', path: sim.pty.link!, quietTimeMs: 600, reopenDelayMs: 200, keepAliveIntervalMs: 500 }],
  }).interfaces[0];
  if (config?.driver !== 'vigil-patch') throw new Error('config');
  const driver = new VigilPatchDriver(config, systemClock, memoryLogger());
  const links: LinkChange[] = [];
  const seconds: Observation[][] = [];
  driver.on('link', (c) => links.push(c));
  driver.on('observations', (o) => seconds.push(o));
  const ticker = setInterval(() => driver.tick(), 100);
  t.teardown(async () => {
    clearInterval(ticker);
    await driver.stop();
  });
  driver.start();

  await until('streaming', () => links.some((l) => l.to === 'streaming'), 5000);
  t.ok(events.some((e) => e.event === 'command' && e.type === 'start' && e.result === 'ok'), 'the patch acknowledged START');
  t.ok(events.some((e) => e.event === 'command' && e.type === 'identify'), 'the driver asked the patch who it is');
  await until('the identity answer', () => driver.deviceIdentity(), 2000);
  t.same(driver.deviceIdentity(), { firmware: '1.4.2', model: 'VIGIL-PATCH1', hardwareRevision: 3 });

  await until('stale', () => links.some((l) => l.to === 'stale'), 6000);
  await until('START sent again', () => driver.snapshot().counters['escalation-restart'], 2000);
  await until('the port reopened', () => driver.snapshot().counters['escalation-reopen'], 3000);
  await until('streaming again', () => links.filter((l) => l.to === 'streaming').length >= 2, 10_000);
  const order = links.map((l) => l.to).join(' -> ');
  t.match(order, /^negotiating -> streaming -> stale -> connecting -> negotiating( -> stale( -> connecting -> negotiating)?)* -> streaming$/, `link states: ${order}`);
  const c = driver.snapshot().counters;
  t.ok((c['escalation-restart'] ?? 0) >= 1 && (c['commands-sent.start'] ?? 0) >= 2, 'START was sent again before the reopen');
  t.ok((c['escalation-reopen'] ?? 0) >= 1, 'then the port was closed and reopened');
  t.ok((c['commands-acknowledged.keep-alive'] ?? 0) >= 2, 'keep-alives acknowledged');
  await until('values after the recovery', () => seconds.length > 0 && seconds[seconds.length - 1]!.some((o) => o.parameter === 'spo2'), 5000);
});

t.test('REQ-PATCH-031 HAZ-003 the patch unplugged (its pty gone): the link is lost, and the port is retried with backoff', async (t) => {
  const events: Array<Record<string, unknown>> = [];
  const sim = await startPatchSimulator(simConfig({ injections: [{ kind: 'unplug', atS: 2, durationS: null }] }), { emit: (e) => events.push(e) });
  t.teardown(() => sim.stop());
  const config = parseConfig({
    gateway: { gatewayId: 'gw', siteId: 's', wardId: 'w', bedId: 'b' },
    mqtt: { url: 'mqtt://127.0.0.1:1883', insecure: true },
    interfaces: [{ id: 'patch', driver: 'vigil-patch', path: sim.pty.link!, reopenDelayMs: 200 }],
  }).interfaces[0];
  if (config?.driver !== 'vigil-patch') throw new Error('config');
  const driver = new VigilPatchDriver(config, systemClock, memoryLogger());
  const links: LinkChange[] = [];
  driver.on('link', (c) => links.push(c));
  const ticker = setInterval(() => driver.tick(), 100);
  t.teardown(async () => {
    clearInterval(ticker);
    await driver.stop();
  });
  driver.start();
  await until('streaming', () => links.some((l) => l.to === 'streaming'), 5000);
  const lost = await until('lost', () => links.find((l) => l.to === 'lost'), 6000);
  t.ok(events.some((e) => e.event === 'unplugged'), 'hw-sim unplugged the patch');
  t.match(lost.reason, /port (disconnected|closed)|cannot open/, `reason: ${lost.reason}`);
  await until('two reopen attempts', () => (driver.snapshot().counters['port-open-failed'] ?? 0) >= 2, 6000);
  t.equal(driver.snapshot().state, 'lost', 'still lost while the patch is away, retrying');
});
