/**
 * The MDC codes of Vigil's tables against the published nomenclature: every (code, reference
 * id) pair of model/parameters.ts and of model/mdc.ts (MDC_NOT_USED) is a row of the NIST RTMMS
 * Rosetta table excerpt committed in test/fixtures/nomenclature/ (provenance in its README), and
 * every code is 65536 * partition + term code as the table gives it.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { classifyMdcCode, MDC_NOT_USED, MDC_PARTITION_SIZE, mdcCodeOfRefId, refIdContradicts } from '../../agent/src/model/mdc';
import { PARAMETER_CODES, PARAMETERS } from '../../agent/src/model/parameters';

const ROOT = join(__dirname, '..', '..', '..');
const TABLE = join(ROOT, 'test', 'fixtures', 'nomenclature', 'rtmms-rosetta-excerpt.tsv');

interface Row {
  code: number;
  refId: string;
  partition: number;
  termCode: number;
  description: string;
}

function table(): Row[] {
  const [header, ...lines] = readFileSync(TABLE, 'utf8').trim().split('\n');
  if (header !== 'cf_code10\trefid\tpartition\tcode10\tdescription\tdescription_field') throw new Error(`unexpected header: ${header}`);
  return lines.map((l) => {
    const [code, refId, partition, termCode, description] = l.split('\t');
    return { code: Number(code), refId: refId ?? '', partition: Number(partition), termCode: Number(termCode), description: description ?? '' };
  });
}

/** Every (code, reference id) pair Vigil names, and where. */
function pairs(): Array<{ code: number; refId: string; where: string }> {
  const out: Array<{ code: number; refId: string; where: string }> = [];
  for (const p of PARAMETER_CODES) {
    for (const m of PARAMETERS[p].mdc) {
      for (const refId of [m.refId, ...(m.synonyms ?? [])]) out.push({ code: m.code, refId, where: `PARAMETERS.${p}` });
    }
  }
  for (const m of MDC_NOT_USED) out.push({ code: m.code, refId: m.refId, where: 'MDC_NOT_USED' });
  return out;
}

t.test('REQ-HL7-024 HAZ-005 every (code, reference id) pair of the parameter table and of the not-used list is a row of the RTMMS nomenclature table', async (t) => {
  const rows = table();
  t.ok(rows.length >= 60, `${rows.length} rows in the excerpt`);
  const all = pairs();
  t.ok(all.length >= 60, `${all.length} pairs named by Vigil`);
  for (const p of all) {
    const row = rows.find((r) => r.code === p.code && r.refId === p.refId);
    t.ok(row, `${p.where}: ${p.code} ${p.refId} is in the table`);
    if (row) t.equal(row.partition * MDC_PARTITION_SIZE + row.termCode, p.code, `${p.refId}: ${p.code} = ${row.partition} * 65536 + ${row.termCode}`);
  }
  // The excerpt holds only what Vigil names (so that it stays a checked copy, not a second table).
  for (const r of rows) t.ok(all.some((p) => p.code === r.code && p.refId === r.refId), `${r.code} ${r.refId} is named by Vigil`);
});

t.test('REQ-HL7-024 HAZ-005 a code is listed once, in one place: a parameter, or not used', async (t) => {
  const owner = new Map<number, string>();
  for (const p of pairs()) {
    const previous = owner.get(p.code);
    t.ok(previous === undefined || previous === p.where, `${p.code} belongs to ${p.where} only`);
    owner.set(p.code, p.where);
  }
  for (const [code, where] of owner) {
    const c = classifyMdcCode(code);
    t.equal(c.kind, where === 'MDC_NOT_USED' ? 'not-used' : 'parameter', `${code} classified as ${c.kind}`);
  }
});

t.test('REQ-HL7-024 the codes issue 13 names are mapped: both NIBP families, perfusion index, temperature sites, respiration, pulse and SpO2 variants, pulse CO-oximetry', async (t) => {
  const expect: Record<string, number[]> = {
    nibpSystolic: [150021, 150301],
    nibpDiastolic: [150022, 150302],
    nibpMean: [150023, 150303],
    perfusionIndex: [150488],
    temperature: [150364, 150368, 150344, 150392, 188424, 188420, 188452, 188496],
    skinTemperature: [150388],
    respRate: [151562, 151578, 151594, 151570, 151658],
    pulseRate: [149530, 149546, 149522, 149514],
    spo2: [150456, 150472, 150476],
    heartRate: [147842],
    spCO: [160284],
    spMet: [160288],
    spHb: [160292],
    spOC: [160280],
  };
  for (const [parameter, codes] of Object.entries(expect)) {
    for (const code of codes) t.match(classifyMdcCode(code), { kind: 'parameter', spec: { code: parameter } }, `${code} -> ${parameter}`);
  }
  t.equal(classifyMdcCode(150300).kind, 'not-used', 'MDC_PRESS_CUFF (cuff pressure during inflation) is never a blood pressure');
});

t.test('REQ-HL7-026 the reference ids Vigil knows give their codes; a text naming another code contradicts it', async (t) => {
  t.equal(mdcCodeOfRefId('MDC_PRESS_CUFF_SYS'), 150301);
  t.equal(mdcCodeOfRefId('MDC_ECG_CARD_BEAT_RATE'), 147842, 'a synonym');
  t.equal(mdcCodeOfRefId('Temperature 1'), undefined);
  t.ok(refIdContradicts(150031, 'MDC_PRESS_CUFF_SYS'), '150031 is an aortic pressure, not the cuff systolic');
  t.notOk(refIdContradicts(150301, 'MDC_PRESS_CUFF_SYS'));
  t.notOk(refIdContradicts(150301, ''), 'no text: nothing to contradict');
  t.notOk(refIdContradicts(150301, 'NIBP-S'), "a vendor's label is not checked");
});
