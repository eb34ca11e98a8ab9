import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseConfig } from '../../agent/src/config';
import { ConfigError } from '../../agent/src/errors';

const valid = {
  gateway: { gatewayId: 'gw-1', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' },
  mqtt: { url: 'mqtt://127.0.0.1:1883', insecure: true },
  interfaces: [{ id: 'spo2', driver: 'masimo-ascii', path: '/dev/ttyUSB0' }],
};

t.test('REQ-CONFIG-001 a valid config gets its documented defaults', async (t) => {
  const c = parseConfig(valid);
  const itf = c.interfaces[0];
  t.equal(itf?.driver === 'masimo-ascii' ? itf.baudRate : undefined, 9600);
  t.equal(c.interfaces[0]?.quietTimeMs, 3000);
  t.equal(itf?.driver === 'masimo-ascii' ? itf.deviceUtcOffset : undefined, '+00:00');
  t.equal(c.mqtt.protocolVersion, 5);
  t.equal(c.patient.spo2Scale, 1);
});

t.test('REQ-CONFIG-001 every problem is reported at once as path: message', async (t) => {
  const bad = {
    gateway: { gatewayId: '', siteId: 'site1', wardId: 'ward 7', bedId: 'bed12', colour: 'red' },
    mqtt: { url: 'http://x', insecure: true },
    interfaces: [{ id: 'spo2', driver: 'masimo-ascii', path: 'ttyUSB0', baudRate: 1234 }],
  };
  const err = t.throws(() => parseConfig(bad)) as unknown;
  t.ok(err instanceof ConfigError, 'a ConfigError');
  const issues = (err as ConfigError).issues;
  t.equal((err as ConfigError).code, 'CONFIG_INVALID');
  const paths = issues.map((i) => i.split(':')[0]);
  for (const p of ['gateway.gatewayId', 'gateway.wardId', 'gateway', 'mqtt.url', 'interfaces.0.path', 'interfaces.0.baudRate']) {
    t.ok(paths.includes(p), `reports ${p}`);
  }
  t.ok(issues.some((i) => /colour/.test(i)), 'names the unknown key');
  t.ok(issues.length >= 6, 'all at once');
});

t.test('REQ-CONFIG-002 plain TCP to the broker needs an explicit insecure setting', async (t) => {
  const err = t.throws(() => parseConfig({ ...valid, mqtt: { url: 'mqtt://127.0.0.1:1883' } })) as ConfigError;
  t.match(err.issues.join('\n'), /mqtt\.url: is plain TCP/);
  t.doesNotThrow(() => parseConfig({ ...valid, mqtt: { url: 'mqtts://broker.local:8883' } }));
});

t.test('REQ-CONFIG-001 duplicate interface ids and out-of-range timings are rejected', async (t) => {
  const err = t.throws(() =>
    parseConfig({
      ...valid,
      interfaces: [
        { id: 'spo2', driver: 'masimo-ascii', path: '/dev/a', quietTimeMs: 10 },
        { id: 'spo2', driver: 'masimo-ascii', path: '/dev/b' },
      ],
    }),
  ) as ConfigError;
  t.match(err.issues.join('\n'), /interfaces\.0\.quietTimeMs/);
  t.match(err.issues.join('\n'), /interfaces\.1\.id: is used twice/);
});

t.test('REQ-CONFIG-001 unreadable or non-JSON files are config errors, not crashes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-config-'));
  const file = join(dir, 'bad.json');
  writeFileSync(file, '{ "gateway": ');
  t.throws(() => loadConfig(file), { code: 'CONFIG_INVALID' });
  t.throws(() => loadConfig(join(dir, 'missing.json')), { code: 'CONFIG_INVALID' });
});

t.test('REQ-HL7-023 REQ-HL7-028 an HL7 interface is tolerant by default; conformance and profile are validated with every other problem', async (t) => {
  const hl7 = (extra: Record<string, unknown>) => ({ ...valid, interfaces: [{ id: 'monitor', driver: 'hl7-pcd01', transport: 'serial', path: '/dev/ttyUSB1', ...extra }] });
  const c = parseConfig(hl7({}));
  const itf = c.interfaces[0];
  t.equal(itf?.driver === 'hl7-pcd01' ? itf.conformance : undefined, 'tolerant');
  t.equal(itf?.driver === 'hl7-pcd01' ? itf.profile : 'absent', undefined, 'no profile unless configured');
  const strict = parseConfig(hl7({ conformance: 'pcd01-strict', profile: 'xh80x-monitor' })).interfaces[0];
  t.match(strict, { conformance: 'pcd01-strict', profile: 'xh80x-monitor' });
  t.match(parseConfig(hl7({ profile: 'auto' })).interfaces[0], { profile: 'auto' });
  const err = t.throws(() => parseConfig(hl7({ conformance: 'lenient', profile: 'no-such-monitor', baudRate: 1 }))) as ConfigError;
  const text = err.issues.join('\n');
  t.match(text, /interfaces\.0\.conformance: /);
  t.match(text, /interfaces\.0\.profile: must be "auto" or the name of a profile in agent\/profiles\/hl7 \(.*xh80x-monitor/);
  t.match(text, /interfaces\.0\.baudRate: /, 'reported with the other problems at once');
});

t.test('REQ-ALARM-006 alarms.news2TriggerPriority: the catalogue defaults, a site value, and bad values refused as path: message', async (t) => {
  t.same(parseConfig(valid).alarms.news2TriggerPriority, { lowMedium: 'low', medium: 'medium', high: 'high' }, 'absent: the catalogue priorities');
  const site = parseConfig({ ...valid, alarms: { news2TriggerPriority: { lowMedium: 'medium' } } }).alarms.news2TriggerPriority;
  t.same(site, { lowMedium: 'medium', medium: 'medium', high: 'high' }, 'one level set, the others default');
  const err = t.throws(() =>
    parseConfig({ ...valid, alarms: { news2TriggerPriority: { lowMedium: 'urgent', high: 'info', linkStale: 'high' } } }),
  ) as ConfigError;
  t.ok(err instanceof ConfigError, 'a ConfigError');
  const issues = err.issues;
  t.ok(issues.some((i) => /^alarms\.news2TriggerPriority\.lowMedium: /.test(i)), 'an unknown priority names its path');
  t.ok(issues.some((i) => /^alarms\.news2TriggerPriority\.high: /.test(i)), 'info is a signal, not an alarm priority');
  t.ok(issues.some((i) => /^alarms\.news2TriggerPriority: .*linkStale/.test(i)), 'no other condition has a priority setting');
  t.notOk(issues.some((i) => i.includes('urgent')), 'the message does not echo the value');
  const other = t.throws(() => parseConfig({ ...valid, alarms: { linkStalePriority: 'high' } })) as ConfigError;
  t.match(other.issues.join('\n'), /^alarms: .*linkStalePriority/m, 'alarms has no other key');
});

t.test('REQ-DELIV-051 queue.alarmDeliveryBoundMs: 15 s by default, 2 s to 5 min, and longer than resendUnconfirmedAfterMs when stations confirm', async (t) => {
  t.equal(parseConfig(valid).queue.alarmDeliveryBoundMs, 15_000, 'absent: 15 s');
  t.equal(parseConfig({ ...valid, queue: { confirmBy: ['station'], resendUnconfirmedAfterMs: 2000, alarmDeliveryBoundMs: 3000 } }).queue.alarmDeliveryBoundMs, 3000, 'a site value');
  for (const bound of [1999, 300_001, 2500.5]) {
    const err = t.throws(() => parseConfig({ ...valid, queue: { alarmDeliveryBoundMs: bound } })) as ConfigError;
    t.match(err.issues.join('\n'), /^queue\.alarmDeliveryBoundMs: /m, `${bound} refused, naming its path`);
  }
  const err = t.throws(() => parseConfig({ ...valid, queue: { confirmBy: ['station'], alarmDeliveryBoundMs: 10_000 } })) as ConfigError;
  t.match(err.issues.join('\n'), /^queue\.alarmDeliveryBoundMs: must be greater than resendUnconfirmedAfterMs/m, 'with stations confirming, a bound that leaves no retry is refused');
  t.equal(parseConfig({ ...valid, queue: { alarmDeliveryBoundMs: 10_000 } }).queue.alarmDeliveryBoundMs, 10_000, 'without confirmBy nothing is re-sent by the gateway: any bound in range');
});
