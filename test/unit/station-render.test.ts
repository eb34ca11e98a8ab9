/**
 * The console station view as text (agent/src/station/render.ts), rendered from the views of the
 * station model fed with encoded envelopes as a gateway sends them: what a nurse reads for a value
 * that cannot be shown, for a score, and for a device's alarm whose source was not named. Pure:
 * messages in, text out, times given.
 */
import t from 'tap';
import type { AlarmMsg, EarlyWarningScoreMsg, EnvelopeMsg, ObservationMsg } from '../../agent/src/proto/codec';
import { encodeEnvelope } from '../../agent/src/proto/codec';
import { renderStation, StationModel } from '../../agent/src/station/station';

const T0 = 1767261600000;
const BED = 'vigil/v1/site1/ward7/bed12';
let seq = 0;

function env(payload: Partial<EnvelopeMsg>, sentWallMs: number, backfill = false): Uint8Array {
  seq += 1;
  return encodeEnvelope({ schemaVersion: 1, gatewayId: 'gw-1', siteId: 'site1', wardId: 'ward7', bedId: 'bed12', messageId: `r-${seq}`, sequence: seq, bootId: 'boot', sentWallMs, backfill, ...payload });
}

function obs(parameter: string, value: number | null, status: string, o: { interfaceId?: string; reason?: string; unit?: string; at?: number } = {}): ObservationMsg {
  const at = o.at ?? T0;
  return {
    parameter,
    value: value ?? 0,
    hasValue: value !== null,
    unitUcum: o.unit ?? '/min',
    loinc: '',
    status,
    quality: [],
    source: { driver: 'hl7-pcd01', interfaceId: o.interfaceId ?? 'monitor', serialNumber: '', port: '' },
    deviceTimeMs: at,
    deviceTimeText: '',
    receiveWallMs: at,
    receiveMonoNs: '1',
    maxAgeMs: 5000,
    unavailableReason: o.reason ?? '',
  };
}

function score(over: Partial<EarlyWarningScoreMsg>, at: number): EarlyWarningScoreMsg {
  return {
    scheme: 'NEWS2',
    total: 3,
    points: [],
    riskLevel: 'RISK_LEVEL_LOW',
    complete: true,
    missing: [],
    spo2Scale: 1,
    computedWallMs: at,
    computedMonoNs: '1',
    oldestInputWallMs: at,
    ...over,
  };
}

/** A bed whose gateway sent one heartbeat at `at` (one a second: lost 3 s later). */
function bedOnline(at = T0): StationModel {
  const m = new StationModel();
  m.apply(`${BED}/status`, env({ status: { online: true, reason: 'heartbeat', interfaces: [], counters: [], startedWallMs: at, heartbeatIntervalMs: 1000, softwareVersion: 't' } }, at), at);
  return m;
}

/** The rendered line of a label (e.g. "HR"), or "" when there is none. */
function lineOf(text: string, label: RegExp): string {
  return text.split('\n').find((l) => label.test(l)) ?? '';
}

t.test('REQ-STATION-003 HAZ-003 a value the station cannot show as current says why (its reason, STALE for a final one, else its status) and is never shown as a number', async (t) => {
  const m = bedOnline();
  m.apply(`${BED}/obs/heartRate`, env({ observation: obs('heartRate', 71, 'RESULT_STATUS_FINAL') }, T0), T0);
  m.apply(`${BED}/obs/respRate`, env({ observation: obs('respRate', 14, 'RESULT_STATUS_UNVERIFIED') }, T0), T0);
  m.apply(`${BED}/obs/pulseRate`, env({ observation: obs('pulseRate', 88, 'RESULT_STATUS_DELETED') }, T0), T0);
  m.apply(`${BED}/obs/temperature`, env({ observation: obs('temperature', null, 'RESULT_STATUS_CANNOT_OBTAIN', { unit: 'Cel' }) }, T0), T0);
  m.apply(`${BED}/obs/spo2`, env({ observation: obs('spo2', null, 'RESULT_STATUS_UNAVAILABLE', { unit: '%', reason: 'sensor-off' }) }, T0), T0);
  m.apply(`${BED}/obs/etco2`, env({ observation: obs('etco2', 38, 'RESULT_STATUS_FINAL', { unit: 'mm[Hg]' }) }, T0), T0);
  const live = renderStation(m.view(T0 + 100), T0 + 100);
  t.match(lineOf(live, /^ {2}etco2 /), /^ {2}etco2\s+38 mm\[Hg\] age 0\.1 s$/, 'a parameter this station has no label for: by its name');
  t.match(lineOf(live, /^ {2}HR /), /^ {2}HR\s+71 \/min\s+age 0\.1 s$/, 'a current final value: its number');
  t.match(lineOf(live, /^ {2}RR /), /^ {2}RR\s+14 \/min\s+age 0\.1 s {2}\[unverified\]$/, 'a current unverified value: its number, marked');
  t.match(lineOf(live, /^ {2}Pulse /), /^ {2}Pulse\s+-- \/min\s+unavailable: deleted \(last 0\.1 s ago\)$/, 'a deleted value: its status, no number');
  t.notMatch(live, /\b88\b/, 'the deleted number nowhere');
  t.match(lineOf(live, /^ {2}Temp /), /^ {2}Temp\s+-- Cel\s+unavailable: cannot_obtain \(last 0\.1 s ago\)$/, 'no value and no reason: its status');
  t.match(lineOf(live, /^ {2}SpO2 /), /^ {2}SpO2\s+-- %\s+unavailable: sensor-off/, 'a withdrawn value: the gateway\'s reason');
  // Heartbeats stop: the gateway is lost 3 s later, while the values are not yet 5 s old.
  const lost = renderStation(m.view(T0 + 3500), T0 + 3500);
  t.match(lineOf(lost, /^ {2}HR /), /^ {2}HR\s+-- \/min\s+unavailable: STALE \(last 3\.5 s ago\)$/, 'a final value of a lost gateway: STALE, no number');
  t.match(lineOf(lost, /^ {2}RR /), /^ {2}RR\s+-- \/min\s+unavailable: unverified \(last 3\.5 s ago\)$/, 'an unverified value of a lost gateway: not current, its status, no number');
  t.notMatch(lost, /\b(71|14)\b/, 'neither number is shown');
});

t.test('REQ-NEWS2-005 HAZ-003 the station shows an incomplete score as "risk at least" with what is missing, SpO2 scale 2 and the manual inputs said, and an old score as not current', async (t) => {
  const m = bedOnline();
  const inputs = [{ field: 'consciousness', parameter: 'consciousness', interfaceId: 'manual', value: 0, ageMs: 0, valueCode: 'A', enteredBy: 'nurse-a' }];
  m.apply(`${BED}/score/news2`, env({ score: score({ total: 5, riskLevel: 'RISK_LEVEL_LOW_MEDIUM', complete: false, missing: ['respRate', 'temperature'], spo2Scale: 2, inputs }, T0) }, T0), T0);
  const text = renderStation(m.view(T0 + 100), T0 + 100);
  t.equal(
    lineOf(text, /^ {2}NEWS2 /),
    '  NEWS2             5       risk at least low-medium  INCOMPLETE, missing: respRate, temperature  SpO2 scale 2  manual: consciousness=A (nurse-a)',
    'an incomplete score is a lower bound, and says what it lacks',
  );
  const complete = bedOnline();
  complete.apply(`${BED}/score/news2`, env({ score: score({ total: 1 }, T0) }, T0), T0);
  t.equal(lineOf(renderStation(complete.view(T0 + 100), T0 + 100), /^ {2}NEWS2 /), '  NEWS2             1       risk low', 'a complete score on scale 1: its risk, nothing more');
  t.equal(lineOf(renderStation(complete.view(T0 + 10_001), T0 + 10_001), /^ {2}NEWS2 /), '  NEWS2            --       not current', 'more than 10 s old: no total, not current');
  const late = bedOnline();
  late.apply(`${BED}/score/news2`, env({ score: score({ total: 7, riskLevel: 'RISK_LEVEL_HIGH' }, T0) }, T0, true), T0);
  t.equal(lineOf(renderStation(late.view(T0 + 100), T0 + 100), /^ {2}NEWS2 /), '  NEWS2            --       not current  (last score was backfill)', 'a backfilled score: history, never the current score');
});

t.test('REQ-ALARM-007 HAZ-019 a device alarm whose source the gateway did not name is still shown as the device\'s, from an unknown interface', async (t) => {
  const m = bedOnline();
  const deviceAlarm = (alarmId: string, source: string): AlarmMsg => ({
    alarmId,
    kind: 'ALARM_KIND_PHYSIOLOGICAL',
    priority: 'ALARM_PRIORITY_MEDIUM',
    condition: 'device-alarm-medium',
    state: 'ALARM_STATE_ACTIVE',
    source,
    detail: 'MDC_EVT_LO on SpO2',
    raisedWallMs: T0,
    changedWallMs: T0,
  });
  m.apply(`${BED}/alarm/a1`, env({ alarm: deviceAlarm('monitor.device-alarm-medium', 'monitor') }, T0), T0);
  m.apply(`${BED}/alarm/a2`, env({ alarm: deviceAlarm('x.device-alarm-medium', '') }, T0), T0);
  const lines = renderStation(m.view(T0 + 100), T0 + 100).split('\n').filter((l) => l.startsWith('  DEVICE'));
  t.same(lines, [
    '  DEVICE  [MEDIUM] physiological from device on monitor monitor.device-alarm-medium: MDC_EVT_LO on SpO2',
    '  DEVICE  [MEDIUM] physiological from device on unknown interface x.device-alarm-medium: MDC_EVT_LO on SpO2',
  ]);
});

t.test('REQ-STATION-010 REQ-DELIV-032 data that stopped says whether its last value was backfill; two sources of one parameter are told apart; no bed yet is said', async (t) => {
  t.match(renderStation([], T0), /^Vigil station {2}\S+ {2}beds: 0\n {2}\(waiting for gateways\.\.\.\)\n$/);
  const m = bedOnline();
  m.apply(`${BED}/obs/heartRate`, env({ observation: obs('heartRate', 70, 'RESULT_STATUS_FINAL', { interfaceId: 'monitor' }) }, T0), T0);
  m.apply(`${BED}/obs/heartRate`, env({ observation: obs('heartRate', 72, 'RESULT_STATUS_FINAL', { interfaceId: 'patch' }) }, T0, true), T0);
  const text = renderStation(m.view(T0 + 6000), T0 + 6000);
  t.match(lineOf(text, /^ {2}HR\/monitor /), /DATA STOPPED: nothing received for 6\.0 s$/, 'stopped, its last value live');
  t.match(lineOf(text, /^ {2}HR\/patch /), /DATA STOPPED: nothing received for 6\.0 s \(last was backfill\)$/, 'stopped, its last value backfill');
  t.match(text, /\n {2}History 1 message\(s\) delivered late \(backfill\) from 10:00:00 to 10:00:00: kept as history, never alarmed as live\n/);
  t.notMatch(renderStation(bedOnline().view(T0), T0), /History/, 'no backfill, no history line');
});
