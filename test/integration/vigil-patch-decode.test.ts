/**
 * `vigil decode vigil-patch [file]`: a capture of hw-sim's patch (its bytes as on the wire)
 * through the agent's driver, native signal processing and controls, as JSON Lines.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeCapture, type DecodeLine } from '../../agent/src/commands/decode';
import { encodeCommand } from '../../agent/src/drivers/vigil-patch/protocol';
import { VigilPatchDevice, type PatchInjection } from '../../hw-sim/src/devices/vigil-patch';
import { VIGIL_CLI } from '../support/processes';

/** `seconds` of a streaming patch, as captured on the wire (the device's side only). */
function capture(seconds: number, injections: PatchInjection[] = []): Buffer {
  const device = new VigilPatchDevice({ scenario: 'stable', seed: 21, injections });
  const out: Buffer[] = [device.receive(encodeCommand({ type: 'start' }, 0, 0))];
  for (let i = 0; i < seconds * 5; i++) {
    out.push(device.nextBlock().bytes);
    if (i % 5 === 0) out.push(device.receive(encodeCommand({ type: 'keep-alive' }, i + 1, 0)));
  }
  return Buffer.concat(out);
}

t.test('REQ-DECODE-005 decode vigil-patch: one set of readings per device second, through the agent\'s processing', async (t) => {
  const now = Date.UTC(2026, 10, 21, 9, 14, 0);
  const lines = decodeCapture('vigil-patch', capture(12), { nowWallMs: now });
  const readings = lines.filter((l): l is Extract<DecodeLine, { kind: 'reading' }> => l.kind === 'reading');
  t.equal(readings.length, 12 * 6, 'six readings per second');
  t.notOk(lines.some((l) => l.kind === 'rejection'), 'a clean capture has no rejection');
  const last = readings.slice(-6);
  t.same(last.map((r) => r.parameter), ['heartRate', 'pulseRate', 'spo2', 'perfusionIndex', 'respRate', 'skinTemperature']);
  const hr = last[0]!;
  t.match(hr, { kind: 'reading', code: 'vigil-patch:ECG', unit: '/min', status: 'final', flags: [] });
  t.ok(hr.value !== null && Math.abs(hr.value - 72) <= 3, `heart rate ${hr.value}`);
  t.match(last[2], { parameter: 'spo2', value: 97, unit: '%', code: 'vigil-patch:PPG' });
  t.match(last[4], { parameter: 'respRate', value: null, status: 'unavailable' }, 'the respiration rate needs its 32 s window');
  t.match(last[5], { parameter: 'skinTemperature', unit: 'Cel', code: 'vigil-patch:TEMP' });
  t.equal(readings[0]?.deviceTime, '2026-11-21T09:14:01Z', 'device time: the first frame at "now", the rest by the patch tick (a second ends 1 s in)');
  t.equal(last[0]?.deviceTime, '2026-11-21T09:14:12Z');
});

t.test('HAZ-008 REQ-DECODE-006 decode vigil-patch reports every rejection with its reason', async (t) => {
  const lines = decodeCapture('vigil-patch', capture(4, [{ kind: 'bit-error', atS: 1, durationS: null }, { kind: 'duplicate', atS: 2, durationS: null }, { kind: 'serial', atS: 3, durationS: null }]), {
    nowWallMs: 0,
  });
  const reasons = lines.filter((l) => l.kind === 'rejection').map((l) => (l.kind === 'rejection' ? l.reason : ''));
  t.equal(reasons.filter((r) => r === 'checksum').length, 1);
  t.equal(reasons.filter((r) => r === 'duplicate').length, 1);
  t.ok(reasons.filter((r) => r === 'device-changed').length >= 4, 'the other patch is held back');
  const truncated = decodeCapture('vigil-patch', Buffer.concat([capture(1), Buffer.from([0x05, 0x01, 0x02])]), { nowWallMs: 0 });
  t.match(truncated.at(-1), { kind: 'rejection', reason: 'truncated' });
});

t.test('REQ-DECODE-004 npx vigil decode vigil-patch <file> prints JSON Lines and exits 0; an unreadable file exits 1', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-patch-decode-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'patch.bin');
  writeFileSync(file, capture(3));
  const run = (args: string[]): Promise<{ code: number | null; out: string }> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [VIGIL_CLI, 'decode', 'vigil-patch', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('exit', (code) => resolve({ code, out }));
    });
  const ok = await run([file]);
  t.equal(ok.code, 0);
  const parsed = ok.out.trim().split('\n').map((l) => JSON.parse(l) as DecodeLine);
  t.equal(parsed.length, 18);
  t.ok(parsed.every((l) => l.kind === 'reading'));
  const missing = await run([join(dir, 'absent.bin')]);
  t.equal(missing.code, 1);
});
