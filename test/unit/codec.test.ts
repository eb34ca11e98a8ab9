import t from 'tap';
import { decodeEnvelope, encodeEnvelope, payloadKind, SCHEMA_VERSION } from '../../agent/src/proto/codec';
import type { EnvelopeMsg } from '../../agent/src/proto/codec';

const head = {
  schemaVersion: SCHEMA_VERSION,
  gatewayId: 'gw-1',
  bedId: 'bed12',
  siteId: 'site1',
  wardId: 'ward7',
  messageId: '6f1c1d8e-2a4b-4c7d-9e0f-112233445566',
  sequence: '9007199254740993', // above 2^53: 64-bit integers must survive
  bootId: 'b0070000-0000-4000-8000-000000000001',
  sentWallMs: 1767261600123,
};

const payloads: Array<Pick<EnvelopeMsg, 'observation' | 'score' | 'alarm' | 'status'>> = [
  {
    observation: {
      parameter: 'spo2',
      value: 97,
      hasValue: true,
      unitUcum: '%',
      loinc: '59408-5',
      status: 'RESULT_STATUS_FINAL',
      quality: ['QUALITY_FLAG_LOW_PERFUSION'],
      source: { driver: 'masimo-ascii', interfaceId: 'spo2', serialNumber: '0000056661', port: '/dev/pts/3' },
      deviceTimeMs: 1767261599000,
      deviceTimeText: '01/01/26 10:00:00',
      receiveWallMs: 1767261600100,
      receiveMonoNs: '123456789012345678',
      maxAgeMs: 5000,
      unavailableReason: '',
      originalValue: 98.6,
      originalUnit: '[degF]',
      deviceCode: 'MDC:150456',
      valueCode: '',
      manual: null,
    },
  },
  {
    score: {
      scheme: 'NEWS2',
      total: 3,
      points: [{ parameter: 'spo2Percent', points: 3 }],
      riskLevel: 'RISK_LEVEL_LOW_MEDIUM',
      complete: false,
      missing: ['respRatePerMin', 'onOxygen'],
      spo2Scale: 1,
      computedWallMs: 1767261600120,
      computedMonoNs: '123456789012399999',
      oldestInputWallMs: 1767261600100,
      inputs: [
        { field: 'pulseBpm', parameter: 'heartRate', interfaceId: 'monitor', value: 72, ageMs: 400, valueCode: '', enteredBy: '' },
        { field: 'consciousness', parameter: 'consciousness', interfaceId: 'manual', value: 0, ageMs: 60000, valueCode: 'A', enteredBy: 'nurse-a' },
      ],
      excluded: [{ field: 'pulseBpm', parameter: 'pulseRate', interfaceId: 'spo2', reason: 'quality-sensor-off' }],
    },
  },
  {
    alarm: {
      alarmId: 'spo2.link-lost',
      kind: 'ALARM_KIND_TECHNICAL',
      priority: 'ALARM_PRIORITY_MEDIUM',
      condition: 'link-lost',
      state: 'ALARM_STATE_ACTIVE',
      source: 'spo2',
      detail: 'port disconnected',
      raisedWallMs: 1767261600000,
      changedWallMs: 1767261600000,
      acknowledgedBy: 'nurse-a',
      acknowledgedWallMs: 1767261600500,
      silencedUntilWallMs: 1767261660000,
    },
  },
  {
    status: {
      online: true,
      reason: 'heartbeat',
      interfaces: [
        {
          interfaceId: 'spo2',
          driver: 'masimo-ascii',
          state: 'LINK_STATE_STREAMING',
          reason: 'valid frame received',
          lastValidFrameWallMs: 1767261600100,
          counters: [{ name: 'frames-valid', value: '12' }],
          clockOffsetMs: '-1500',
          clockTrusted: true,
          clockMeasured: true,
        },
      ],
      counters: [{ name: 'published', value: '40' }],
      startedWallMs: 1767261500000,
      heartbeatIntervalMs: 5000,
      softwareVersion: '0.1.0',
    },
  },
];

t.test('REQ-PROTO-001 every vigil.v1 payload survives an encode/decode round trip', async (t) => {
  for (const payload of payloads) {
    const kind = Object.keys(payload)[0] as 'observation' | 'score' | 'alarm' | 'status';
    const decoded = decodeEnvelope(encodeEnvelope({ ...head, ...payload }));
    t.equal(payloadKind(decoded), kind, `${kind}: payload kind`);
    t.equal(decoded.sequence, head.sequence, `${kind}: 64-bit sequence exact`);
    t.equal(decoded.schemaVersion, 1);
    t.equal(decoded.gatewayId, 'gw-1');
    t.equal(decoded.messageId, head.messageId);
    t.equal(String(decoded.sentWallMs), String(head.sentWallMs));
    const got = JSON.parse(JSON.stringify(decoded[kind]));
    const want = JSON.parse(JSON.stringify(payload[kind], (_k, v: unknown) => (typeof v === 'number' && v > 2 ** 31 ? String(v) : v)));
    t.same(got, want, `${kind}: every field round-trips`);
  }
});

t.test('REQ-PROTO-002 bytes that are not an envelope are refused with an error', async (t) => {
  t.throws(() => decodeEnvelope(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f])));
  const good = encodeEnvelope({ ...head, ...payloads[0] });
  t.throws(() => decodeEnvelope(good.subarray(0, good.length - 7)), 'a truncated envelope');
});
