/**
 * From an HL7 OBX to a Vigil observation: the one parameter table (model/parameters.ts),
 * the unit table (model/units.ts), and the validation controls every driver's values pass.
 */
import t from 'tap';
import { readingToObservation } from '../../agent/src/drivers/hl7-pcd01/obx';
import type { Pcd01Reading } from '../../agent/src/drivers/hl7-pcd01/obx';
import { decodePcd01 } from '../../agent/src/drivers/hl7-pcd01/pcd01';
import { PARAMETER_CODES, PARAMETERS, parameterForMdc } from '../../agent/src/model/parameters';
import { newSourceMemory, runControls } from '../../agent/src/validation/controls';
import { EUI64, monitorMessage, thermometerFahrenheit } from '../support/hl7-pcd01-fixtures';
import type { ObxSpec } from '../support/hl7-pcd01-fixtures';

const NOW = Date.UTC(2026, 0, 1, 10, 0, 1);
const STAMP = { wallMs: NOW, monoNs: 5_000_000_000n };
const SOURCE = { driver: 'hl7-pcd01', interfaceId: 'monitor', port: '/dev/ttyUSB1' };
const SETTINGS = { maxAgeMs: (s: { defaultMaxAgeMs: number }) => s.defaultMaxAgeMs, clockOffsetBoundMs: 120_000 };

function readingsOf(message: string): Pcd01Reading[] {
  const d = decodePcd01(Buffer.from(message, 'latin1'), { defaultUtcOffsetMinutes: 0 });
  if (!d.ok || d.kind !== 'oru') throw new Error('not an ORU');
  return d.obx.flatMap((o) => (o.ok ? [o.reading] : []));
}
const obx = (o: Partial<ObxSpec>): string =>
  monitorMessage({ obx: [{ type: 'NM', code: '150456^MDC_PULS_OXIM_SAT_O2^MDC', containment: '1.1.1.1', value: '97', unit: '262688^MDC_DIM_PERCENT^MDC', status: 'F', time: '20260101100000+0000', equipment: `${EUI64}^EUI-64`, ...o }] });

t.test('HAZ-005 every MDC code of the parameter table maps to its parameter, and to one parameter only', async (t) => {
  const owner = new Map<number, string>();
  for (const p of PARAMETER_CODES) {
    for (const m of PARAMETERS[p].mdc) {
      t.notOk(owner.has(m.code), `MDC ${m.code} is listed once (${m.refId})`);
      owner.set(m.code, p);
      t.equal(parameterForMdc(m.code)?.code, p, `${m.refId} -> ${p}`);
      const r = readingsOf(obx({ code: `${m.code}^${m.refId}^MDC`, unit: `${PARAMETERS[p].unitUcum}^^UCUM`, value: String(PARAMETERS[p].plausibleMin + 1) }));
      t.equal(r[0]?.parameter, p, `an OBX with ${m.code} decodes as ${p}`);
    }
  }
  t.ok(owner.size >= 20, `${owner.size} device codes in the table`);
});

t.test('HAZ-005 respiration and temperature variants are in the table; skin, finger and toe temperatures are not', async (t) => {
  for (const code of [151562, 151570, 151578, 151594, 151650, 151658]) t.equal(parameterForMdc(code)?.code, 'respRate', `${code}`);
  for (const code of [150344, 150364, 150368, 150392, 188420, 188424, 188428, 188452, 188456, 188496]) t.equal(parameterForMdc(code)?.code, 'temperature', `${code}`);
  for (const code of [188432, 188448, 150452]) t.equal(parameterForMdc(code), undefined, `${code} is not guessed`);
  // Issue 13: skin temperature is the skinTemperature parameter (never body temperature), and the
  // cuff's and an arterial line's pulse rates are pulse rates.
  t.equal(parameterForMdc(150388)?.code, 'skinTemperature', '150388 MDC_TEMP_SKIN is skin temperature, not body temperature');
  for (const code of [149546, 149522]) t.equal(parameterForMdc(code)?.code, 'pulseRate', `${code} is a pulse rate`);
  t.same(PARAMETERS.respRate.mdc[0], { code: 151562, refId: 'MDC_RESP_RATE' }, 'the unspecified method has priority');
  t.same(PARAMETERS.temperature.mdc[0], { code: 150364, refId: 'MDC_TEMP_BODY' });
});

t.test('REQ-HL7-020 an OBX becomes an observation with the device unit, status, device time, device code and equipment id', async (t) => {
  const [r] = readingsOf(obx({ status: 'R', time: '20260101095958+0000' }));
  if (!r) throw new Error('no reading');
  const o = readingToObservation(r, STAMP, SOURCE);
  t.same(
    { ...o, receiveMonoNs: String(o.receiveMonoNs) },
    {
      parameter: 'spo2',
      value: 97,
      unitUcum: '%',
      status: 'unverified',
      quality: [],
      source: { ...SOURCE, serialNumber: EUI64 },
      deviceTimeMs: Date.UTC(2026, 0, 1, 9, 59, 58),
      deviceTimeText: '20260101095958+0000',
      receiveWallMs: NOW,
      receiveMonoNs: '5000000000',
      unavailableReason: '',
      deviceCode: 'MDC:150456',
    },
  );
  const x = readingToObservation(readingsOf(obx({ status: 'X', value: '' }))[0] as Pcd01Reading, STAMP, SOURCE);
  t.match(x, { value: null, status: 'cannot-obtain', unavailableReason: 'cannot-obtain' });
  const demo = readingToObservation(readingsOf(obx({ flags: 'DEMO' }))[0] as Pcd01Reading, STAMP, SOURCE);
  t.same(demo.quality, ['demo']);
});

t.test('HAZ-001 a thermometer in [degF] is converted to Cel by the validation controls, the original kept', async (t) => {
  const [r] = readingsOf(thermometerFahrenheit('98.6'));
  if (!r) throw new Error('no reading');
  t.equal(r.unit, '[degF]', 'the driver passes the device unit on');
  const v = runControls(readingToObservation(r, STAMP, SOURCE), newSourceMemory(), SETTINGS);
  t.ok(v.ok);
  if (v.ok) {
    t.equal(v.obs.value, 37);
    t.equal(v.obs.unitUcum, 'Cel');
    t.same(v.obs.original, { value: 98.6, unit: '[degF]' });
    t.ok(v.obs.quality.includes('unit-converted'));
  }
});

t.test('HAZ-001 HAZ-006 98.6 labelled Cel, an unmapped MDC unit and a wrong-dimension unit are rejected by the controls', async (t) => {
  const check = (o: Partial<ObxSpec>) => {
    const [r] = readingsOf(monitorMessage({ obx: [{ type: 'NM', code: '150364^MDC_TEMP_BODY^MDC', containment: '1.4.1.1', value: '36.9', unit: '268192^MDC_DIM_DEGC^MDC', status: 'F', time: '20260101100000+0000', ...o }] }));
    return runControls(readingToObservation(r as Pcd01Reading, STAMP, SOURCE), newSourceMemory(), SETTINGS);
  };
  t.match(check({ value: '98.6' }), { ok: false, hazard: 'HAZ-006', rule: 'implausible' });
  t.match(check({ unit: '262999^MDC_DIM_X^MDC' }), { ok: false, hazard: 'HAZ-001', rule: 'unknown-unit' });
  t.match(check({ unit: '266016^MDC_DIM_MMHG^MDC' }), { ok: false, hazard: 'HAZ-001', rule: 'wrong-dimension' });
  t.match(check({ unit: '' }), { ok: false, hazard: 'HAZ-001' }, 'a number without a unit');
  t.match(check({}), { ok: true });
});

t.test('HAZ-010 a DEMO value is rejected by the controls, whatever its status', async (t) => {
  for (const status of ['F', 'R']) {
    const [r] = readingsOf(obx({ flags: 'DEMO', status }));
    t.match(runControls(readingToObservation(r as Pcd01Reading, STAMP, SOURCE), newSourceMemory(), SETTINGS), { ok: false, hazard: 'HAZ-010', rule: 'demo-data' }, status);
  }
});
