/**
 * The device profiles in the evidence (test/support/evidence/profiles.ts -> docs/interfaces/profiles.md):
 * every shipped profile is listed as a configuration item with its sources, its real captures
 * and the tests that name it with their results; an invalid or unverified profile is a gap.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hl7ProfileNames } from '../../agent/src/drivers/hl7-pcd01/profile';
import { renderProfiles, traceProfiles } from '../support/evidence/profiles';
import type { SourceTest, TestResult } from '../support/evidence/results';
import { sourceTests } from '../support/evidence/results';

const ROOT = join(__dirname, '..', '..', '..');
const RUN = { when: '2026-12-07T10:00:00Z', commit: 'abc123', record: '`verification-record.md`' };
const passing = (titles: string[]): TestResult[] =>
  titles.map((title) => ({ runner: 'tap', file: 'dist/test/unit/x.test.js', layer: 'unit', title, fullName: title, status: 'pass', durationMs: 1 }));

t.test('REQ-HL7-035 every shipped profile is listed with its version, sources, captures and the tests that name it', async (t) => {
  const sources = sourceTests(ROOT);
  const { profiles, gaps } = traceProfiles(ROOT, passing(sources.map((s) => s.title)), sources);
  t.same(profiles.map((p) => p.name), hl7ProfileNames(), 'every profile file');
  t.same(gaps, [], 'each valid and named by a passing test');
  const md = renderProfiles(profiles, RUN);
  for (const p of profiles) {
    t.ok(p.tests.length > 0, `${p.name}: tests name it`);
    t.match(md, new RegExp(`\\| \`${p.name}\` \\| .* \\| ${p.profile?.profileVersion.replace(/\./g, '\\.')} \\|`), `${p.name}: a row with its version`);
    for (const s of p.profile?.sources ?? []) t.ok(md.includes(s), `${p.name}: its source is listed`);
  }
  t.match(md, /\| none \|/, 'a profile without a real capture says so');
});

t.test('REQ-HL7-035 an invalid profile, or one no passing test names, is a gap; a real capture folder is listed', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-evidence-profiles-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'agent', 'profiles', 'hl7'), { recursive: true });
  mkdirSync(join(root, 'test', 'fixtures', 'real', 'acme-x2'), { recursive: true });
  writeFileSync(join(root, 'test', 'fixtures', 'real', 'acme-x2', 'capture.hl7'), 'MSH|');
  const valid = { profileVersion: '1.2.0', vendor: 'Acme', model: 'X2', firmware: { from: '2.0', to: null }, sources: ['Acme X2 interface guide, section 4'], select: { sendingApplication: ['ACME'] }, hl7Versions: ['2.6'], emptyStatus: null };
  writeFileSync(join(root, 'agent', 'profiles', 'hl7', 'acme-x2.json'), JSON.stringify(valid));
  writeFileSync(join(root, 'agent', 'profiles', 'hl7', 'acme-y.json'), JSON.stringify({ ...valid, vendor: '' }));
  const sources: SourceTest[] = [
    { title: 'REQ-HL7-029 profile acme-x2 reads its capture', file: 'test/unit/x.test.ts', layer: 'unit' },
    { title: 'REQ-HL7-029 profile acme-y does things', file: 'test/unit/x.test.ts', layer: 'unit' },
  ];
  const results: TestResult[] = [...passing(['REQ-HL7-029 profile acme-x2 reads its capture']), { ...passing(['REQ-HL7-029 profile acme-y does things'])[0]!, status: 'fail' }];
  const { profiles, gaps } = traceProfiles(root, results, sources);
  t.same(profiles[0]?.fixtures, ['test/fixtures/real/acme-x2/capture.hl7']);
  t.same(profiles[0]?.tests, [{ title: 'REQ-HL7-029 profile acme-x2 reads its capture', status: 'pass' }]);
  t.same(gaps.map((g) => [g.kind, g.subject]), [['data', 'agent/profiles/hl7/acme-y.json'], ['profile-unverified', 'acme-y']]);
  const md = renderProfiles(profiles, RUN);
  t.match(md, /\| `acme-x2` \| Acme, X2 \| 2\.0 to \.\.\. \| 1\.2\.0 \| MSH-3 `ACME` \| 2\.6 \| nothing \(documents the device\) \| `test\/fixtures\/real\/acme-x2\/capture\.hl7` \| REQ-HL7-029 profile acme-x2 reads its capture \(pass\) \|/);
  t.match(md, /\| `acme-y` \| \*\*invalid\*\* \|/);
});
