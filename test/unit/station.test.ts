import t from 'tap';
import { encodeEnvelope } from '../../agent/src/proto/codec';
import type { EnvelopeMsg, GatewayStatusMsg, ObservationMsg } from '../../agent/src/proto/codec';
import { renderStation, StationModel, valueAgeMs } from '../../agent/src/station/station';

const T0 = 1767261600000;
let seq = 0;
function env(payload: Partial<EnvelopeMsg>, sentWallMs: number): Uint8Array {
  seq += 1;
  return encodeEnvelope({
    schemaVersion: 1,
    gatewayId: 'gw-1',
    siteId: 'site1',
    wardId: 'ward7',
    bedId: 'bed12',
    messageId: `m-${seq}`,
    sequence: seq,
    bootId: 'boot',
    sentWallMs,
    ...payload,
  });
}
function obs(value: number | null, receiveWallMs: number, status = 'RESULT_STATUS_FINAL'): ObservationMsg {
  return {
    parameter: 'spo2',
    value: value ?? 0,
    hasValue: value !== null,
    unitUcum: '%',
    loinc: '59408-5',
    status,
    quality: [],
    source: { driver: 'masimo-ascii', interfaceId: 'spo2', serialNumber: '', port: '/dev/x' },
    deviceTimeMs: receiveWallMs,
    deviceTimeText: '',
    receiveWallMs,
    receiveMonoNs: '1',
    maxAgeMs: 5000,
    unavailableReason: value === null ? 'sensor-off' : '',
  };
}
function status(online: boolean, reason: string): GatewayStatusMsg {
  return { online, reason, interfaces: [], counters: [], startedWallMs: T0, heartbeatIntervalMs: 1000, softwareVersion: 't' };
}
const base = 'vigil/v1/site1/ward7/bed12';

t.test('REQ-STATION-001 HAZ-003 a value older than its maximum age is never shown as current', async (t) => {
  const m = new StationModel();
  m.apply(`${base}/status`, env({ status: status(true, 'heartbeat') }, T0), T0);
  m.apply(`${base}/obs/spo2`, env({ observation: obs(97, T0) }, T0 + 5), T0 + 10);
  const fresh = m.view(T0 + 1000)[0]?.values[0];
  t.equal(fresh?.current, true, 'fresh value is current');
  t.equal(fresh?.value, 97);
  m.apply(`${base}/status`, env({ status: status(true, 'heartbeat') }, T0 + 5500), T0 + 5500);
  const old = m.view(T0 + 6000)[0]?.values[0];
  t.equal(old?.current, false, 'past 5 s it is not current');
  const text = renderStation(m.view(T0 + 6000), T0 + 6000);
  t.match(text, /SpO2\s+--/, 'rendered as -- not as a number');
  t.notMatch(text, /SpO2\s+97/);
});

t.test('REQ-STATION-001 age does not trust the station and gateway clocks to agree', async (t) => {
  // Gateway clock 60 s behind the station: the plain difference overstates the age (safe side).
  t.equal(valueAgeMs({ sentWallMs: 1100 } as EnvelopeMsg, 1000, 500_000, 500_050), Math.max(150, 500_050 - 1000));
  // Gateway clock 60 s ahead: the plain difference would be negative; the gateway-side age is used.
  t.equal(valueAgeMs({ sentWallMs: 61_100 } as EnvelopeMsg, 61_000, 1_000, 1_050), 150);
});

t.test('REQ-STATION-002 HAZ-012 the last will marks the gateway offline and its values not current', async (t) => {
  const m = new StationModel();
  m.apply(`${base}/status`, env({ status: status(true, 'connected') }, T0), T0);
  m.apply(`${base}/obs/spo2`, env({ observation: obs(97, T0) }, T0), T0);
  t.equal(m.view(T0 + 100)[0]?.gateway, 'online');
  m.apply(`${base}/status`, env({ status: status(false, 'last-will') }, T0 + 200), T0 + 200);
  const v = m.view(T0 + 300)[0];
  t.equal(v?.gateway, 'offline');
  t.equal(v?.gatewayReason, 'last-will');
  t.equal(v?.values[0]?.current, false, 'no value is current from an offline gateway');
  t.match(renderStation(m.view(T0 + 300), T0 + 300), /OFFLINE: last-will/);
});

t.test('REQ-STATION-002 HAZ-012 the gateway is lost when heartbeats stop, even without a will', async (t) => {
  const m = new StationModel();
  m.apply(`${base}/status`, env({ status: status(true, 'heartbeat') }, T0), T0);
  t.equal(m.view(T0 + 2500)[0]?.gateway, 'online');
  t.equal(m.view(T0 + 3500)[0]?.gateway, 'lost', 'three missed 1 s heartbeats');
});

t.test('REQ-STATION-003 withdrawn values and unreadable messages are shown as such', async (t) => {
  const m = new StationModel();
  m.apply(`${base}/status`, env({ status: status(true, 'heartbeat') }, T0), T0);
  m.apply(`${base}/obs/spo2`, env({ observation: obs(null, T0, 'RESULT_STATUS_CANNOT_OBTAIN') }, T0), T0);
  t.equal(m.apply(`${base}/obs/spo2`, Uint8Array.from([0xff, 0xff, 0xff]), T0), false);
  t.equal(m.undecodable, 1, 'counted');
  t.match(renderStation(m.view(T0 + 10), T0 + 10), /unavailable: sensor-off/);
  t.equal(m.apply('other/topic', Uint8Array.from([1]), T0), false, 'foreign topics are ignored');
});

t.test('REQ-STATION-004 a gap in the sequence numbers is counted', async (t) => {
  const m = new StationModel();
  m.apply(`${base}/status`, env({ status: status(true, 'heartbeat') }, T0), T0);
  seq += 3; // three messages lost
  m.apply(`${base}/status`, env({ status: status(true, 'heartbeat') }, T0), T0);
  t.equal(m.view(T0)[0]?.sequenceGaps, 1);
});
