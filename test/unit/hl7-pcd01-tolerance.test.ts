/**
 * The tolerant HL7 interface (the default) against the strict one: rows rejected alone with
 * their set id and code, conformance warnings instead of rejections, the MDC nomenclature
 * classes (ignored, unmapped, code-name mismatch) and one value per parameter across channels
 * without a profile. Fixtures are built in code in the shapes real monitors send
 * (notes/real-device-variations.md), each variation on its own: no test is tuned to one capture.
 */
import t from 'tap';
import { decodePcd01 } from '../../agent/src/drivers/hl7-pcd01/pcd01';
import type { Pcd01Decoded } from '../../agent/src/drivers/hl7-pcd01/pcd01';
import { Pcd01Receiver } from '../../agent/src/drivers/hl7-pcd01/receiver';
import { monitorMessage, monitorObx, PATIENT_ID } from '../support/hl7-pcd01-fixtures';
import type { MonitorMessageSpec, ObxSpec } from '../support/hl7-pcd01-fixtures';

const TOLERANT = { defaultUtcOffsetMinutes: 0 };
const STRICT = { defaultUtcOffsetMinutes: 0, conformance: 'pcd01-strict' as const };

function oru(m: string, opts: Parameters<typeof decodePcd01>[1] = TOLERANT) {
  const d = decodePcd01(Buffer.from(m, 'latin1'), opts);
  if (!d.ok || d.kind !== 'oru') throw new Error(`expected an ORU, got ${JSON.stringify(d)}`);
  return d;
}
const readings = (d: Extract<Pcd01Decoded, { kind: 'oru' }>) => d.obx.flatMap((o) => (o.ok ? [o.reading] : []));
const rejections = (d: Extract<Pcd01Decoded, { kind: 'oru' }>) => d.obx.flatMap((o) => (o.ok ? [] : [o]));
const warnings = (d: Extract<Pcd01Decoded, { kind: 'oru' }>) => d.warnings.map((w) => w.what).sort();
const row = (code: string, value: string, o: Partial<ObxSpec> = {}): ObxSpec => ({ type: 'NM', code, containment: '1.1.1.1', value, unit: '262688^MDC_DIM_PERCENT^MDC', status: 'F', time: '20260101100000+0000', ...o });
const SPO2 = '150456^MDC_PULS_OXIM_SAT_O2^MDC';
const HR = '147842^MDC_ECG_HEART_RATE^MDC';
const bpm = { unit: '264864^MDC_DIM_BEAT_PER_MIN^MDC' };

/** A message whose OBX-1 set ids are written as given (the fixture numbers them 1..n). */
function withSetIds(m: string, ids: string[]): string {
  let i = 0;
  return m.replace(/^OBX\|[^|\r]*\|/gm, () => `OBX|${ids[i++] ?? ''}|`);
}

// --- rows rejected alone ----------------------------------------------------------------

t.test('REQ-HL7-022 HAZ-008 a syntax error in one OBX rejects that OBX only, named by its own set id and OBX-3 code; strict rejects the message', async (t) => {
  const m = monitorMessage({ obx: monitorObx({ status: 'F' }) }).replace('|97|', '|9x7|');
  const d = oru(m);
  t.same(readings(d).map((r) => r.parameter), ['pulseRate', 'heartRate', 'respRate', 'nibpSystolic', 'nibpDiastolic', 'nibpMean', 'temperature'], 'every other row is used');
  const [bad] = rejections(d);
  t.match(bad, { reason: 'malformed', setId: '2', obxSequence: 2, field: 5, parameter: 'spo2', ignored: false });
  t.equal(bad?.detail, 'OBX-1 2 (150456^MDC_PULS_OXIM_SAT_O2^MDC): OBX-5 is not a valid NM number', 'set id and code, never the value');
  t.notMatch(bad?.detail, /9x7/, 'the value is not echoed');
  const strict = decodePcd01(Buffer.from(m, 'latin1'), STRICT);
  t.match(strict, { ok: false, reason: 'malformed', detail: 'OBX-1 2 (150456^MDC_PULS_OXIM_SAT_O2^MDC): OBX-5 is not a valid NM number' }, 'strict: the whole message, with the same row name');
  for (const fault of [{ type: 'XX1' }, { containment: '1.a' }, { time: '20261332' }, { status: 'Q' }, { type: '' }]) {
    const one = oru(monitorMessage({ obx: [row(SPO2, '97', fault), row(HR, '71', { ...bpm, containment: '1.2.1.1' })] }));
    t.same(readings(one).map((r) => r.parameter), ['heartRate'], `${JSON.stringify(fault)}: the other row stays`);
    t.match(rejections(one)[0], { reason: 'malformed', parameter: 'spo2' }, `${JSON.stringify(fault)}: the faulty row is rejected`);
  }
});

t.test('REQ-HL7-022 an empty or repeated OBX-1 is said so, and the row named by its position; OBR groups restart the count', async (t) => {
  const m = withSetIds(monitorMessage({ obx: [row(SPO2, 'x'), row(HR, '71', bpm), row(SPO2, 'y', { containment: '1.1.2.1' })] }), ['', '3', '3']);
  const r = rejections(oru(m));
  t.equal(r[0]?.detail, 'OBX-1 empty, OBX segment 1 (150456^MDC_PULS_OXIM_SAT_O2^MDC): OBX-5 is not a valid NM number');
  t.equal(r[1]?.detail, 'OBX-1 3 repeated, OBX segment 3 (150456^MDC_PULS_OXIM_SAT_O2^MDC): OBX-5 is not a valid NM number');
  const twoGroups = monitorMessage({ obx: [row(SPO2, 'x')] }).replace(/(OBR[^\r]*\r)(OBX[^\r]*\r)/, '$1$2$1$2');
  const g = rejections(oru(twoGroups));
  t.same(g.map((x) => x.detail.split(':')[0]), ['OBX-1 1 of OBR group 1 (150456^MDC_PULS_OXIM_SAT_O2^MDC)', 'OBX-1 1 of OBR group 2 (150456^MDC_PULS_OXIM_SAT_O2^MDC)'], 'set id 1 in each group is not a repetition');
  t.same(warnings(oru(twoGroups)), [], 'each group counting from 1 is conformant');
});

t.test('REQ-HL7-022 HAZ-011 a structural fault still rejects the message; the equipment id is read from every OBX, a faulty one included', async (t) => {
  t.match(decodePcd01(Buffer.from(monitorMessage().replace(/OBR[^\r]*\r/, ''), 'latin1'), TOLERANT), { ok: false, reason: 'malformed', detail: /before any OBR/ });
  t.match(decodePcd01(Buffer.from(monitorMessage({ obrTime: '2026133' }), 'latin1'), TOLERANT), { ok: false, reason: 'malformed', detail: /OBR-7/ });
  t.match(decodePcd01(Buffer.from('MSH|^~|A\r', 'latin1'), TOLERANT), { ok: false, detail: /MSH-2/ });
  t.match(decodePcd01(Buffer.from(monitorMessage({ patient: 'PID|||A\rPID|||B' }), 'latin1'), TOLERANT), { ok: false, detail: /more than one patient/ });
  const faultyMds = monitorMessage({ obx: [{ code: '69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC', containment: '1.0.0.0', status: 'X', time: 'bad', equipment: 'OTHERDEVICE^EUI-64' }, row(SPO2, '97')] });
  const d = oru(faultyMds);
  t.equal(d.equipmentId, 'OTHERDEVICE', 'the device identity check sees the OBX-18 of a faulty OBX');
  const rx = new Pcd01Receiver({ patientId: PATIENT_ID, patientIdAuthority: null, equipmentId: 'EXPECTED', defaultUtcOffsetMinutes: 0 });
  t.match(rx.receive(faultyMds, 0), { kind: 'rejected', reason: 'device-identity' }, 'and rejects the message from another device');
});

// --- conformance levels ------------------------------------------------------------------

t.test('REQ-HL7-023 HL7 v2.3 to v2.9 and a missing MSH-21 are read by default, each a conformance warning; strict rejects them', async (t) => {
  for (const version of ['2.3', '2.3.1', '2.4', '2.5', '2.5.1']) {
    const d = oru(monitorMessage({ version }));
    t.equal(readings(d).length, 8, `${version}: every value`);
    t.same(warnings(d), ['hl7-version'], `${version}: one warning`);
    t.match(decodePcd01(Buffer.from(monitorMessage({ version }), 'latin1'), STRICT), { ok: false, reason: 'unsupported-version' }, `${version}: strict rejects`);
  }
  for (const version of ['2.6', '2.7.1', '2.8', '2.8.2', '2.9']) t.same(warnings(oru(monitorMessage({ version }))), [], `${version}: PCD-01`);
  for (const version of ['2.1', '2.2', '3.0', 'x']) t.match(decodePcd01(Buffer.from(monitorMessage({ version }), 'latin1'), TOLERANT), { ok: false, reason: 'unsupported-version' }, `${version}: not read`);
  const noProfile = oru(monitorMessage({ profile: '', version: '2.4' }));
  t.same(warnings(noProfile), ['hl7-version', 'missing-profile']);
  t.equal(readings(noProfile).length, 8);
  t.match(decodePcd01(Buffer.from(monitorMessage({ profile: '' }), 'latin1'), STRICT), { ok: false, reason: 'missing-profile' });
});

t.test('REQ-HL7-023 HAZ-002 an empty OBX-11 is read as unverified with a warning (strict: rejected for the OBX)', async (t) => {
  const d = oru(monitorMessage({ obx: [row(SPO2, '97', { status: '' })] }));
  t.match(readings(d)[0], { parameter: 'spo2', value: 97, status: 'unverified', statusCode: '' });
  t.same(warnings(d), ['missing-status']);
  t.match(rejections(oru(monitorMessage({ obx: [row(SPO2, '97', { status: '' })] }), STRICT))[0], { reason: 'missing-status', parameter: 'spo2' });
});

t.test('REQ-HL7-023 HAZ-004 a DTM fraction without its decimal point is read to the millisecond with a warning; other bad times are not', async (t) => {
  const d = oru(monitorMessage({ obx: [row(SPO2, '97', { time: '20260101100000123+0000' })] }));
  t.equal(readings(d)[0]?.observationTime?.ms, Date.UTC(2026, 0, 1, 10, 0, 0, 123));
  t.same(warnings(d), ['dtm-fraction']);
  t.match(rejections(oru(monitorMessage({ obx: [row(SPO2, '97', { time: '2026010110000012345' })] })))[0], { reason: 'malformed', field: 14 }, 'five digits after the seconds are not a fraction');
  t.match(decodePcd01(Buffer.from(monitorMessage({ obx: [row(SPO2, '97', { time: '20260101100000123' })] }), 'latin1'), STRICT), { ok: false, detail: /OBX-14/ });
});

t.test('REQ-HL7-023 OBX-1 out of order, and an MDC code without its coding system named by its own reference id, are warnings', async (t) => {
  const d = oru(withSetIds(monitorMessage({ obx: [row(SPO2, '97'), row(HR, '71', bpm)] }), ['1', '5']));
  t.same(warnings(d), ['obx-set-id']);
  t.equal(readings(d).length, 2);
  const noSystem = oru(monitorMessage({ obx: [row('150456^MDC_PULS_OXIM_SAT_O2', '97')] }));
  t.match(readings(noSystem)[0], { parameter: 'spo2', deviceCode: 'MDC:150456' });
  t.same(warnings(noSystem), ['obx3-coding-system']);
  t.match(rejections(oru(monitorMessage({ obx: [row('150456^SpO2', '97')] })))[0], { reason: 'unknown-code', ignored: true }, 'a number without MDC and without its reference id is not trusted');
  t.match(rejections(oru(monitorMessage({ obx: [row('150456^MDC_PULS_OXIM_SAT_O2', '97')] }), STRICT))[0], { reason: 'unknown-code' }, 'strict: not read');
});

t.test('REQ-HL7-023 HAZ-010 an empty MSH-11 is read as production and a number sent as ST text as NM, each a warning; strict rejects both', async (t) => {
  const noMsh11 = monitorMessage({ processingId: '' });
  const d = oru(noMsh11);
  t.equal(readings(d).length, 8);
  t.ok(readings(d).every((r) => !r.demo), 'not marked demo: nothing says it is');
  t.same(warnings(d), ['processing-id']);
  t.match(decodePcd01(Buffer.from(noMsh11, 'latin1'), STRICT), { ok: false, reason: 'unsupported-message', detail: /MSH-11/ });
  t.match(decodePcd01(Buffer.from(monitorMessage({ processingId: 'X' }), 'latin1'), TOLERANT), { ok: false, reason: 'unsupported-message' }, 'another processing id is still refused');
  const st = oru(monitorMessage({ obx: [row(SPO2, '97', { type: 'ST' }), row(HR, 'seventy', { ...bpm, type: 'ST', containment: '1.2.1.1' })] }));
  t.match(readings(st), [{ parameter: 'spo2', value: 97 }]);
  t.match(rejections(st), [{ reason: 'unsupported-value-type', parameter: 'heartRate' }], 'a text that is not a number is not read');
  t.same(warnings(st), ['value-type']);
  t.match(rejections(oru(monitorMessage({ obx: [row(SPO2, '97', { type: 'ST' })] }), STRICT)), [{ reason: 'unsupported-value-type' }]);
});

// --- the nomenclature classes ------------------------------------------------------------

t.test('REQ-HL7-025 vendor-private rows and codes Vigil does not use are ignored, even when malformed; unmapped vital-sign codes are reported', async (t) => {
  const d = oru(
    monitorMessage({
      obx: [
        row(SPO2, '97'),
        row('2279^COMEN_PAIN_LEVEL^99COMEN', 'Other'),
        { ...row('2453^COMEN_POS_BODY^99COMEN', '2821^COMEN_POS_SITTING^99COMEN'), type: 'CNE' },
        row('148065^MDC_ECG_V_P_C_CNT^MDC', '3'),
        row('160324^MDC_SPO2_SIGNAL_QUALITY_INDEX^MDC', '3.56'),
        row('150020^MDC_PRESS_BLD_NONINV^MDC', '120'),
        row('265000^MDC_DIM_X^MDC', '1'),
        { ...row('131329^MDC_ECG_ELEC_POTL_I^MDC', '0^1^2'), type: 'NA' },
        row('528391^MDC_DEV_SPEC_PROFILE_BP^MDC', '1'),
        row('188740^MDC_LEN_BODY_ACTUAL^MDC', ''),
      ],
    }),
  );
  t.same(readings(d).map((r) => r.parameter), ['spo2']);
  const r = rejections(d);
  t.same(
    r.map((x) => [x.reason, x.ignored, x.unmappedCode]),
    [
      ['vendor-private', true, null],
      ['vendor-private', true, null],
      ['unknown-code', true, null],
      ['unknown-code', true, null],
      ['unmapped-code', false, 'MDC:150020'],
      ['unmapped-code', false, 'MDC:265000'],
      ['unknown-code', true, null],
      ['unknown-code', true, null],
    ],
    'private, not used, not used, unmapped (partition 2), unmapped (partition 4), a waveform, partition 8',
  );
  t.match(r[4]?.detail, /OBX-1 6 \(150020\^MDC_PRESS_BLD_NONINV\^MDC\): MDC code 150020 of partition 2 is not in the parameter table/);
  t.equal(d.descriptors, 1, 'a row without a value is a descriptor, whatever its code');
});

t.test('REQ-HL7-026 HAZ-005 an OBX-3 whose text names another code is rejected for that row, never guessed', async (t) => {
  const d = oru(monitorMessage({ obx: [row('150031^MDC_PRESS_CUFF_SYS^MDC', '142', { unit: '266016^MDC_DIM_MMHG^MDC', containment: '1.1.9.150301' }), row(SPO2, '97')] }));
  t.same(readings(d).map((r) => r.parameter), ['spo2'], 'the other row is used');
  t.match(rejections(d)[0], { reason: 'code-name-mismatch', parameter: 'nibpSystolic', ignored: false, detail: /MDC_PRESS_CUFF_SYS is the reference id of MDC code 150301, not of 150031/ });
  const pulse = rejections(oru(monitorMessage({ obx: [row('149522^MDC_PULS_RATE^MDC', '59', bpm)] })))[0];
  t.match(pulse, { reason: 'code-name-mismatch', parameter: 'pulseRate' }, 'even when both would be a pulse rate');
  t.same(readings(oru(monitorMessage({ obx: [row('147842^MDC_ECG_CARD_BEAT_RATE^MDC', '71', bpm)] }))).map((x) => x.parameter), ['heartRate'], 'a synonym of the nomenclature is not a contradiction');
  t.same(readings(oru(monitorMessage({ obx: [row('150456^SpO2 finger^MDC', '97')] }))).map((x) => x.parameter), ['spo2'], "a vendor's own label is not checked");
  t.match(rejections(oru(monitorMessage({ obx: [row('SPO2^MDC_PULS_OXIM_SAT_O2^MDC', '97')] })))[0], { reason: 'unknown-code', parameter: 'spo2', ignored: false }, 'a reference id without its number: rejected, and the parameter is known to be withheld');
});

// --- one value per parameter without a profile -------------------------------------------

t.test('REQ-HL7-029 HAZ-005 without a profile: a parameter on two channels with equal values is delivered once; with different values it is withheld as ambiguous', async (t) => {
  const equal = oru(monitorMessage({ obx: [row(SPO2, '97', { containment: '1.3.1.150456' }), row(SPO2, '97', { containment: '1.3.2.150456' })] }));
  t.same(readings(equal).map((r) => [r.parameter, r.value, r.containment]), [['spo2', 97, '1.3.1.150456']]);
  t.match(rejections(equal), [{ reason: 'superseded', detail: /the same value as OBX-1 1/ }]);
  const temp = (v: string, ch: string) => row('150344^MDC_TEMP^MDC', v, { unit: '268192^MDC_DIM_DEGC^MDC', containment: `1.2.${ch}.150344` });
  const differ = oru(monitorMessage({ obx: [temp('38.5', '1'), temp('384.5', '2')] }));
  t.same(readings(differ), [], 'neither value is guessed');
  t.same(rejections(differ).map((r) => [r.reason, r.parameter]), [['ambiguous', 'temperature'], ['ambiguous', 'temperature']]);
  t.match(rejections(differ)[0]?.detail, /temperature given on 2 channels with different values/);
  const withX = oru(monitorMessage({ obx: [row(SPO2, '97', { containment: '1.3.1.150456' }), row(SPO2, '', { containment: '1.3.2.150456', status: 'X' })] }));
  t.same(readings(withX).map((r) => r.value), [97], 'a channel without a value does not contradict one with a value');
  const placeholder = oru(monitorMessage({ obx: [row(SPO2, '-100')] }));
  t.match(readings(placeholder)[0], { value: -100, placeholder: false }, 'a placeholder without a profile stays a number, for the plausibility check to reject');
});

t.test('REQ-HL7-024 HAZ-005 the codes monitors send decode to their parameters by default: both NIBP families, perfusion index, axillary and core temperatures, pulse variants', async (t) => {
  const mmHg = { unit: '266016^MDC_DIM_MMHG^MDC' };
  const cel = { unit: '268192^MDC_DIM_DEGC^MDC' };
  const obx: ObxSpec[] = [
    row('150301^MDC_PRESS_CUFF_SYS^MDC', '121', { ...mmHg, containment: '1.1.9.150301' }),
    row('150302^MDC_PRESS_CUFF_DIA^MDC', '79', { ...mmHg, containment: '1.1.9.150302' }),
    row('150303^MDC_PRESS_CUFF_MEAN^MDC', '93', { ...mmHg, containment: '1.1.9.150303' }),
    row('150488^MDC_BLD_PERF_INDEX^MDC', '1.76', { containment: '1.3.1.150488' }),
    row('188496^MDC_TEMP_AXIL^MDC', '36.6', { ...cel, containment: '1.2.1.188496' }),
    row('149546^MDC_PULS_RATE_NON_INV^MDC', '63', { ...bpm, containment: '1.1.9.149546' }),
    row('151578^MDC_TTHOR_RESP_RATE^MDC', '17', { unit: '264928^MDC_DIM_RESP_PER_MIN^MDC', containment: '1.7.1.151578' }),
    row('150388^MDC_TEMP_SKIN^MDC', '33.1', { ...cel, containment: '1.2.2.150388' }),
  ];
  const spec: MonitorMessageSpec = { obx, version: '2.6', profile: '' };
  const d = oru(monitorMessage(spec));
  t.same(
    readings(d).map((r) => [r.parameter, r.value, r.deviceCode]),
    [
      ['nibpSystolic', 121, 'MDC:150301'],
      ['nibpDiastolic', 79, 'MDC:150302'],
      ['nibpMean', 93, 'MDC:150303'],
      ['perfusionIndex', 1.76, 'MDC:150488'],
      ['temperature', 36.6, 'MDC:188496'],
      ['pulseRate', 63, 'MDC:149546'],
      ['respRate', 17, 'MDC:151578'],
      ['skinTemperature', 33.1, 'MDC:150388'],
    ],
  );
  t.same(rejections(d), []);
});
