/**
 * Device profiles (agent/src/drivers/hl7-pcd01/profile.ts, agent/profiles/hl7/): the schema and
 * its errors, every shipped profile, selection by MSH-3/MSH-4, and what a profile changes in
 * the decoding (placeholders, channel, vendor codes with a scale, the default status, ignored
 * codes). Each mechanism is tested on a profile written here; each shipped profile on messages
 * in the shape its sources describe (no real capture of these devices is in the repository).
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePcd01 } from '../../agent/src/drivers/hl7-pcd01/pcd01';
import type { Pcd01Decoded } from '../../agent/src/drivers/hl7-pcd01/pcd01';
import type { Hl7Profile, ProfileSetting } from '../../agent/src/drivers/hl7-pcd01/profile';
import { hl7ProfileNames, loadHl7Profiles, parseHl7Profile, ProfileError, profileSetting, selectHl7Profile } from '../../agent/src/drivers/hl7-pcd01/profile';
import { monitorMessage } from '../support/hl7-pcd01-fixtures';
import type { MonitorMessageSpec, ObxSpec } from '../support/hl7-pcd01-fixtures';

const BASE = {
  profileVersion: '1.0.0',
  vendor: 'Acme',
  model: 'Monitor X2',
  firmware: { from: '2.0', to: null },
  sources: ['Acme X2 HL7 interface guide, section 4 (test profile)'],
  select: { sendingApplication: ['ACME_X2'] },
  hl7Versions: ['2.6'],
  emptyStatus: null,
};

function tempDir(t: { teardown(fn: () => void): void }, files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-profiles-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  return dir;
}

function profile(extra: Record<string, unknown>, name = 'acme-monitor-x2'): Hl7Profile {
  const p = parseHl7Profile({ ...BASE, ...extra }, `${name}.json`);
  if (!p.profile) throw new Error(p.issues.join('\n'));
  return p.profile;
}

function oru(m: string, setting: ProfileSetting) {
  const d = decodePcd01(Buffer.from(m, 'latin1'), { defaultUtcOffsetMinutes: 0, profile: setting });
  if (!d.ok || d.kind !== 'oru') throw new Error(`expected an ORU, got ${JSON.stringify(d)}`);
  return d;
}
const readings = (d: Extract<Pcd01Decoded, { kind: 'oru' }>) => d.obx.flatMap((o) => (o.ok ? [o.reading] : []));
const rejections = (d: Extract<Pcd01Decoded, { kind: 'oru' }>) => d.obx.flatMap((o) => (o.ok ? [] : [o]));
const row = (code: string, value: string, o: Partial<ObxSpec> = {}): ObxSpec => ({ type: 'NM', code, containment: '1.1.1.1', value, unit: '262688^MDC_DIM_PERCENT^MDC', status: 'F', time: '20260101100000+0000', ...o });
/** A message from a sender: MSH-3 (and MSH-4) as given. */
const from = (msh3: string, spec: MonitorMessageSpec, msh4 = 'ICU'): string => monitorMessage(spec).replace(/^MSH\|\^~\\&\|[^|]*\|[^|]*\|/, `MSH|^~\\&|${msh3}|${msh4}|`);

t.test('REQ-HL7-027 every shipped profile is valid, versioned, and names its sources', async (t) => {
  const names = hl7ProfileNames();
  t.ok(names.length >= 3, `${names.length} profiles: ${names.join(', ')}`);
  const profiles = loadHl7Profiles();
  for (const name of names) {
    const p = profiles.get(name);
    t.ok(p, `${name} loads`);
    t.match(p?.profileVersion, /^\d+\.\d+\.\d+$/, `${name}: versioned`);
    t.ok((p?.sources.length ?? 0) >= 1, `${name}: names its sources`);
    t.ok((p?.select.sendingApplication.length ?? 0) + (p?.select.sendingFacility.length ?? 0) >= 1, `${name}: selectable by MSH-3/MSH-4`);
  }
});

t.test('REQ-HL7-027 a profile with errors is refused with every problem of every file at once, as file: path: message', async (t) => {
  const dir = tempDir(t, {
    'acme-a.json': { ...BASE, colour: 'red', hl7Versions: ['2.1'], placeholders: { spo2: ['-1'] }, channels: { pulse: '1.2' } },
    'acme-b.json': { ...BASE, profileVersion: 'one', select: {}, codes: [{ system: '99ACME', code: '7', parameter: 'heartRate', scale: 0 }] },
    'Bad_Name.json': BASE,
    'acme-c.json': '{ not json',
  });
  const err = t.throws(() => loadHl7Profiles(dir)) as unknown;
  t.ok(err instanceof ProfileError, 'a ProfileError');
  const issues = (err as ProfileError).issues;
  t.equal((err as ProfileError).code, 'PROFILE_INVALID');
  for (const expected of [
    /^acme-a\.json: \(root\): .*colour/,
    /^acme-a\.json: hl7Versions\.0: /,
    /^acme-a\.json: placeholders\.spo2\.0: /,
    /^acme-a\.json: channels: .*"pulse"/,
    /^acme-b\.json: profileVersion: must be a version/,
    /^acme-b\.json: select: needs at least one MSH-3 or MSH-4 identifier/,
    /^acme-b\.json: codes\.0\.scale: /,
    /^Bad_Name\.json: \(file name\): must be kebab-case/,
    /^acme-c\.json: \(file\): /,
  ]) {
    t.ok(issues.some((i) => expected.test(i)), `reports ${expected}`);
  }
  t.throws(() => profileSetting('no-such-profile', dir), ProfileError, 'an unknown name is refused');
});

t.test('REQ-HL7-028 auto selects the one profile whose MSH-3 or MSH-4 identifier the message carries; two matches or another HL7 version select none', async (t) => {
  const acme = profile({ select: { sendingApplication: ['ACME_X2'], sendingFacility: ['ACME_FAC'] } });
  const other = profile({ select: { sendingApplication: ['OTHER'], sendingFacility: ['ACME_FAC'] } }, 'other-monitor');
  const auto: ProfileSetting = { kind: 'auto', profiles: new Map([['acme-monitor-x2', acme]]) };
  const h = (sendingApplication: string, sendingFacility = '', version = '2.6') => ({ sendingApplication, sendingFacility, version });
  t.match(selectHl7Profile(auto, h('ACME_X2')), { profile: { name: 'acme-monitor-x2' }, by: 'selected by MSH-3/MSH-4' });
  t.match(selectHl7Profile(auto, h('', 'ACME_FAC')), { profile: { name: 'acme-monitor-x2' } }, 'by MSH-4 when MSH-3 is empty');
  t.match(selectHl7Profile(auto, h('acme_x2')), { profile: null, why: /no profile selects/ }, 'identifiers are exact');
  t.match(selectHl7Profile(auto, h('ACME_X2', '', '2.4')), { profile: null, why: /for HL7 2\.6, not 2\.4/ });
  const both: ProfileSetting = { kind: 'auto', profiles: new Map([['acme-monitor-x2', acme], ['other-monitor', other]]) };
  t.match(selectHl7Profile(both, h('X', 'ACME_FAC')), { profile: null, why: /select 2 profiles/ }, 'never a guess between two');
  t.match(selectHl7Profile({ kind: 'fixed', profile: acme }, h('ANYTHING')), { profile: { name: 'acme-monitor-x2' }, by: 'configured' });
  t.match(selectHl7Profile({ kind: 'none' }, h('ACME_X2')), { profile: null });
  const d = oru(from('ACME_X2^0012^EUI-64', {}), auto);
  t.match(d.profile, { profile: { name: 'acme-monitor-x2' } }, 'MSH-3 component 1 selects it in a message');
});

t.test('REQ-HL7-029 HAZ-006 with a profile, its placeholders are delivered unavailable, never as numbers', async (t) => {
  const p: ProfileSetting = { kind: 'fixed', profile: profile({ placeholders: { spo2: [-100, -999], temperature: [-99.9] } }) };
  const d = oru(monitorMessage({ obx: [row('150456^MDC_PULS_OXIM_SAT_O2^MDC', '-100'), row('150344^MDC_TEMP^MDC', '-99.9', { unit: '268192^MDC_DIM_DEGC^MDC', containment: '1.2.1.1' }), row('147842^MDC_ECG_HEART_RATE^MDC', '-100', { unit: '264864^MDC_DIM_BEAT_PER_MIN^MDC', containment: '1.2.1.2' })] }), p);
  t.same(
    readings(d).map((r) => [r.parameter, r.value, r.status, r.placeholder]),
    [
      ['spo2', null, 'cannot-obtain', true],
      ['temperature', null, 'cannot-obtain', true],
      ['heartRate', -100, 'final', false],
    ],
    "a placeholder only for the parameters the profile names: -100 heart rate stays a number (the plausibility check rejects it)",
  );
});

t.test('REQ-HL7-029 HAZ-005 with a profile, a parameter on several channels is read from the channel it names', async (t) => {
  const p: ProfileSetting = { kind: 'fixed', profile: profile({ channels: { temperature: '1.2.1' } }) };
  const temp = (v: string, ch: string) => row('150344^MDC_TEMP^MDC', v, { unit: '268192^MDC_DIM_DEGC^MDC', containment: `1.2.${ch}.150344` });
  const d = oru(monitorMessage({ obx: [temp('384.5', '2'), temp('38.5', '1')] }), p);
  t.same(readings(d).map((r) => [r.value, r.containment]), [[38.5, '1.2.1.150344']]);
  t.match(rejections(d)[0], { reason: 'superseded', detail: /read from channel 1\.2\.1 \(profile acme-monitor-x2\)/ });
  const none = oru(monitorMessage({ obx: [temp('384.5', '2'), temp('38.5', '3')] }), p);
  t.same(rejections(none).map((r) => r.reason), ['ambiguous', 'ambiguous'], 'the named channel absent: nothing is guessed');
});

t.test('REQ-HL7-029 with a profile, vendor codes map to parameters with their scale, known codes are ignored, and an empty OBX-11 takes its default', async (t) => {
  const p: ProfileSetting = {
    kind: 'fixed',
    profile: profile({
      emptyStatus: 'F',
      codes: [{ system: '99ACME', code: '501', text: 'ACME_TEMP_DECI', parameter: 'temperature', scale: 0.1 }],
      ignore: [{ system: 'MDC', code: '150020', why: 'the compound NIBP row repeats the three values below it' }],
    }),
  };
  const d = oru(
    monitorMessage({
      obx: [
        row('501^ACME_TEMP_DECI^99ACME', '372', { unit: '268192^MDC_DIM_DEGC^MDC', status: '' }),
        row('501^OTHER_TEXT^99ACME', '372', { unit: '268192^MDC_DIM_DEGC^MDC' }),
        row('150020^MDC_PRESS_BLD_NONINV^MDC', '120', { unit: '266016^MDC_DIM_MMHG^MDC' }),
      ],
    }),
    p,
  );
  t.match(readings(d), [{ parameter: 'temperature', value: 37.2, deviceCode: '99ACME:501', status: 'final' }], 'scaled, with the profile default status');
  t.same(d.warnings, [], "the profile's default is not a deviation");
  t.same(rejections(d).map((r) => [r.reason, r.ignored]), [['vendor-private', true], ['unknown-code', true]], 'another text is not the mapped code; the ignored code is not reported as unmapped');
  t.match(rejections(d)[1]?.detail, /ignored by profile acme-monitor-x2: the compound NIBP row/);
});

// --- the shipped profiles, on messages in the shape their sources describe --------------------

const AUTO = profileSetting('auto');

t.test('REQ-HL7-029 profile xh80x-monitor: selected by MSH-3 XH80X; -999 and -99.9 are unavailable, an empty OBX-11 unverified', async (t) => {
  const m = from('XH80X^00A037009B000000^EUI-64', {
    version: '2.4',
    profile: '',
    obx: [
      row('150301^MDC_PRESS_CUFF_SYS^MDC', '-999', { unit: '266016^MDC_DIM_MMHG^MDC', containment: '1.1.9.150301', status: '' }),
      row('150456^MDC_PULS_OXIM_SAT_O2^MDC', '97', { containment: '1.3.1.150456', status: '' }),
      row('150344^MDC_TEMP^MDC', '-99.9', { unit: '268192^MDC_DIM_DEGC^MDC', containment: '1.13.1.150344', status: '' }),
    ],
  }, '');
  const d = oru(m, AUTO);
  t.match(d.profile, { profile: { name: 'xh80x-monitor' } });
  t.same(readings(d).map((r) => [r.parameter, r.value, r.status]), [['nibpSystolic', null, 'cannot-obtain'], ['spo2', 97, 'unverified'], ['temperature', null, 'cannot-obtain']]);
  t.same(d.warnings.map((w) => w.what).sort(), ['hl7-version', 'missing-profile'], 'still counted: the profile explains, it does not hide');
});

t.test('REQ-HL7-029 profile northern-patient-monitor: its 150031^MDC_PRESS_CUFF_SYS is the cuff systolic, -100 is no value; its two temperatures stay ambiguous', async (t) => {
  const mmHg = { unit: '266016^MDC_DIM_MMHG^MDC' };
  const cel = { unit: '268192^MDC_DIM_DEGC^MDC' };
  const m = from('northern', {
    profile: '',
    obx: [
      row('150456^MDC_PULS_OXIM_SAT_O2^MDC', '-100', { containment: '1.3.1.150456' }),
      row('150344^MDC_TEMP^MDC', '38.5', { ...cel, containment: '1.2.1.150344' }),
      row('150344^MDC_TEMP^MDC', '384.5', { ...cel, containment: '1.2.2.150344' }),
      row('150031^MDC_PRESS_CUFF_SYS^MDC', '142', { ...mmHg, containment: '1.1.9.150301' }),
      row('150302^MDC_PRESS_CUFF_DIA^MDC', '100', { ...mmHg, containment: '1.1.9.150302' }),
    ],
  }, 'patient monitor^');
  const d = oru(m, AUTO);
  t.match(d.profile, { profile: { name: 'northern-patient-monitor' } });
  t.same(readings(d).map((r) => [r.parameter, r.value, r.deviceCode]), [['spo2', null, 'MDC:150456'], ['nibpSystolic', 142, 'MDC:150031'], ['nibpDiastolic', 100, 'MDC:150302']]);
  t.same(rejections(d).map((r) => [r.reason, r.parameter]), [['ambiguous', 'temperature'], ['ambiguous', 'temperature']]);
  const without = oru(m, { kind: 'none' });
  t.match(rejections(without).find((r) => r.reason === 'code-name-mismatch'), { parameter: 'nibpSystolic' }, 'without the profile: rejected, never guessed');
});

t.test('REQ-HL7-029 profile comen-nc-monitor: its 149522^MDC_PULS_RATE is the pulse rate; 99COMEN rows are ignored; equal SpO2 on two channels delivered once', async (t) => {
  const m = from('NC_Monitor', {
    profile: '',
    obx: [
      row('150456^MDC_PULS_OXIM_SAT_O2^MDC', '97', { containment: '1.3.1.150456' }),
      row('149522^MDC_PULS_RATE^MDC', '59', { unit: '264864^MDC_DIM_BEAT_PER_MIN^MDC', containment: '1.0.0.149522' }),
      row('150456^MDC_PULS_OXIM_SAT_O2^MDC', '97', { containment: '1.3.2.150456' }),
      { ...row('2453^COMEN_POS_BODY^99COMEN', '2821^COMEN_POS_SITTING^99COMEN'), type: 'CNE' },
    ],
  }, 'KC261551373G');
  const d = oru(m.replace(/^OBX\|\d+\|/gm, 'OBX||'), AUTO);
  t.match(d.profile, { profile: { name: 'comen-nc-monitor' } });
  t.same(readings(d).map((r) => [r.parameter, r.value]), [['spo2', 97], ['pulseRate', 59]]);
  t.same(rejections(d).map((r) => r.reason), ['superseded', 'vendor-private']);
  t.match(rejections(oru(m, { kind: 'none' })).find((r) => r.parameter === 'pulseRate'), { reason: 'code-name-mismatch' }, 'without the profile: rejected');
});
