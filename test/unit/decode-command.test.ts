/**
 * `vigil decode pcd01|masimo-ascii [file]` on fixtures built in code: the exact JSON Lines,
 * MLLP framed or not, every segment terminator, the controls applied as in the agent, and the
 * exit codes (0 once read, 1 when the input cannot be read, 2 for usage).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { decodeCapture, decodeMasimoCapture, decodePcd01Capture, runDecode } from '../../agent/src/commands/decode';
import { frameMllp } from '../../agent/src/framing/mllp';
import { ackMessage, monitorMessage, monitorObx, thermometerFahrenheit, withTerminator } from '../support/hl7-pcd01-fixtures';

const VIGIL_CLI = join(__dirname, '..', '..', 'agent', 'src', 'cli.js');
const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

t.test('REQ-DECODE-001 pcd01: one JSON line per reading, in the format of the issue, canonical units after the controls', async (t) => {
  const lines = decodePcd01Capture(bytes(monitorMessage()));
  t.equal(lines.length, 8);
  t.equal(
    JSON.stringify(lines[0]),
    '{"kind":"reading","parameter":"spo2","code":"MDC:150456","value":97,"unit":"%","status":"unverified","deviceTime":"2026-01-01T10:00:00Z","flags":[]}',
  );
  t.same(lines.map((l) => (l.kind === 'reading' ? l.parameter : l.kind)), ['spo2', 'pulseRate', 'heartRate', 'respRate', 'nibpSystolic', 'nibpDiastolic', 'nibpMean', 'temperature']);
  t.same(lines.map((l) => (l.kind === 'reading' ? l.unit : '')), ['%', '/min', '/min', '/min', 'mm[Hg]', 'mm[Hg]', 'mm[Hg]', 'Cel'], 'canonical UCUM units');
  const therm = decodePcd01Capture(bytes(thermometerFahrenheit('98.6')));
  t.same(therm, [{ kind: 'reading', parameter: 'temperature', code: 'MDC:188424', value: 37, unit: 'Cel', status: 'unverified', deviceTime: '2026-01-01T10:00:00Z', flags: ['unit-converted'] }]);
});

t.test('REQ-DECODE-001 pcd01: MLLP framed or not, CR, LF or CR LF: the same lines', async (t) => {
  const m = monitorMessage({ controlId: 'A' }) + monitorMessage({ controlId: 'B', obx: monitorObx({ status: 'F' }) });
  const expected = decodePcd01Capture(bytes(m));
  t.equal(expected.length, 16);
  for (const term of ['\n', '\r\n'] as const) t.same(decodePcd01Capture(bytes(withTerminator(m, term))), expected, JSON.stringify(term));
  const framed = Buffer.concat([frameMllp(monitorMessage({ controlId: 'A' })), frameMllp(monitorMessage({ controlId: 'B', obx: monitorObx({ status: 'F' }) }))]);
  t.same(decodePcd01Capture(framed), expected, 'MLLP framed');
});

t.test('REQ-DECODE-002 pcd01: statuses by name, OBX-8 DEMO and unknown codes as rejections, duplicates, noise, ACKs', async (t) => {
  const obx = (status: string, flags = '') => ({ type: 'NM', code: '150456^MDC_PULS_OXIM_SAT_O2^MDC', containment: '1.1.1.1', value: status === 'X' || status === 'D' ? '' : '95', unit: '%^^UCUM', status, flags, time: '20260101100000+0000' });
  const statuses = ['F', 'C', 'P', 'R', 'X', 'D'].map((s, i) => decodePcd01Capture(bytes(monitorMessage({ controlId: `S${i}`, obx: [obx(s)] })))[0]);
  t.same(statuses.map((l) => (l?.kind === 'reading' ? l.status : l?.kind)), ['final', 'corrected', 'preliminary', 'unverified', 'unavailable', 'deleted']);
  t.same(statuses.map((l) => (l?.kind === 'reading' ? l.value : 'x')), [95, 95, 95, 95, null, null]);
  t.same(decodePcd01Capture(bytes(monitorMessage({ obx: [obx('F', 'DEMO')] }))), [{ kind: 'rejection', reason: 'demo-data', detail: 'spo2: source marks the value as demo/simulated data' }]);
  const unknown = decodePcd01Capture(bytes(monitorMessage({ obx: [{ ...obx('F'), code: '148065^MDC_ECG_V_P_C_CNT^MDC' }] })));
  t.match(unknown, [{ kind: 'rejection', reason: 'unknown-code', detail: /148065/ }]);
  const dup = decodePcd01Capture(bytes(monitorMessage({ controlId: 'D1' }) + monitorMessage({ controlId: 'D1' })));
  t.equal(dup.length, 9);
  t.match(dup.at(-1), { kind: 'rejection', reason: 'duplicate' });
  const noisy = decodePcd01Capture(Buffer.concat([Buffer.from([0xfe, 0xff]), frameMllp(monitorMessage())]));
  t.match(noisy[0], { kind: 'rejection', reason: 'framing', detail: /2 bytes outside/ });
  t.equal(noisy.length, 9, 'the message after the noise is decoded');
  t.same(decodePcd01Capture(bytes(ackMessage('AA', 'MSG1'))), [{ kind: 'ack', code: 'AA', controlId: 'MSG1', detail: '' }]);
  t.match(decodePcd01Capture(bytes(monitorMessage({ version: '2.5' })), { conformance: 'pcd01-strict' }), [{ kind: 'rejection', reason: 'unsupported-version' }], 'a strict interface');
  t.match(decodePcd01Capture(bytes(`garbage\n${monitorMessage()}`))[0], { kind: 'rejection', reason: 'framing', detail: /before the first MSH/ });
  t.match(decodePcd01Capture(bytes(monitorMessage({ patient: 'PID|||OTHER' })), { patientId: 'MRN0042' }), [{ kind: 'rejection', reason: 'patient-mismatch' }]);
  t.same(decodePcd01Capture(Buffer.alloc(0)), [], 'an empty capture: nothing');
});

t.test('REQ-DECODE-003 masimo-ascii: readings by line, dashes as unavailable, rejections with reasons', async (t) => {
  const capture = [
    '01/01/26 10:00:00 SN=0000056661 SPO2=098% BPM=072 PI=03.60% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000800',
    '01/01/26 10:00:01 SN=0000056661 SPO2=---% BPM=--- PI=--.--% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000820',
    '01/01/26 10:00:02 SN=0000056661 SPO2=0x8% BPM=072 PI=03.60% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000800',
    '01/01/26 10:00:03 SN=0000099999 SPO2=097% BPM=072 PI=03.60% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000800',
  ].join('\r\n');
  const lines = decodeMasimoCapture(bytes(`${capture}\r\n`));
  t.same(lines[0], { kind: 'reading', parameter: 'spo2', code: 'masimo-ascii:SPO2', value: 98, unit: '%', status: 'final', deviceTime: '2026-01-01T10:00:00Z', flags: [] });
  t.match(lines[1], { kind: 'reading', parameter: 'pulseRate', code: 'masimo-ascii:BPM', value: 72, unit: '/min' });
  t.match(lines[3], { kind: 'reading', parameter: 'spo2', value: null, status: 'unavailable', flags: ['sensor-off'] });
  t.match(lines[6], { kind: 'rejection', reason: 'malformed', detail: /SPO2/ });
  t.match(lines[7], { kind: 'rejection', reason: 'device-changed' });
  t.equal(lines.length, 8);
  t.same(decodeMasimoCapture(bytes(capture.replace(/\r\n/g, '\n'))), lines, 'LF line ends too');
  t.same(decodeCapture('masimo-ascii', bytes(capture), { utcOffset: '+01:00' })[0], { ...lines[0], deviceTime: '2026-01-01T09:00:00Z' }, '--utc-offset');
});

t.test('REQ-DECODE-004 runDecode: file or stdin, exit 0 once read, 1 when it cannot be read', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-decode-'));
  const file = join(dir, 'capture.hl7');
  writeFileSync(file, thermometerFahrenheit());
  const run = async (args: Parameters<typeof runDecode>[0], stdinText = '') => {
    const stdin = new PassThrough();
    stdin.end(stdinText);
    const out = new PassThrough();
    const err = new PassThrough();
    let o = '';
    let e = '';
    out.on('data', (d: Buffer) => (o += d.toString()));
    err.on('data', (d: Buffer) => (e += d.toString()));
    const code = await runDecode(args, stdin, out, err);
    return { code, out: o, err: e };
  };
  const fromFile = await run({ driver: 'pcd01', file });
  t.equal(fromFile.code, 0);
  t.equal(fromFile.out, '{"kind":"reading","parameter":"temperature","code":"MDC:188424","value":37,"unit":"Cel","status":"unverified","deviceTime":"2026-01-01T10:00:00Z","flags":["unit-converted"]}\n');
  const fromStdin = await run({ driver: 'pcd01' }, thermometerFahrenheit());
  t.same(fromStdin, fromFile, 'stdin gives the same');
  const garbage = await run({ driver: 'pcd01' }, 'not HL7 at all');
  t.equal(garbage.code, 0, 'content that decodes to nothing is still a successful read');
  t.match(garbage.out, /"reason":"framing"/);
  const missing = await run({ driver: 'pcd01', file: join(dir, 'nope.hl7') });
  t.equal(missing.code, 1);
  t.match(missing.err, /cannot read .*nope\.hl7: ENOENT/);
  t.equal(missing.out, '');
});

t.test('REQ-DECODE-004 the vigil command line: decode pcd01 <file>, stdin, usage errors exit 2', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-decode-cli-'));
  const file = join(dir, 'm.hl7');
  writeFileSync(file, frameMllp(monitorMessage()));
  const ok = spawnSync(process.execPath, [VIGIL_CLI, 'decode', 'pcd01', file], { encoding: 'utf8' });
  t.equal(ok.status, 0);
  t.equal(ok.stdout.trim().split('\n').length, 8);
  const piped = spawnSync(process.execPath, [VIGIL_CLI, 'decode', 'pcd01'], { input: monitorMessage(), encoding: 'utf8' });
  t.equal(piped.stdout, ok.stdout);
  t.equal(spawnSync(process.execPath, [VIGIL_CLI, 'decode', 'nonsense'], { encoding: 'utf8' }).status, 2);
  t.equal(spawnSync(process.execPath, [VIGIL_CLI, 'decode', 'pcd01', file, '--utc-offset', 'noon'], { encoding: 'utf8' }).status, 2);
  t.equal(spawnSync(process.execPath, [VIGIL_CLI, 'decode', 'pcd01', join(dir, 'missing')], { encoding: 'utf8' }).status, 1);
});

t.test('REQ-HL7-028 REQ-HL7-023 vigil decode pcd01 --profile NAME|auto and --conformance: the profile line, warnings, placeholders; usage errors exit 2', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-decode-profile-'));
  const file = join(dir, 'xh80x.hl7');
  const xh = monitorMessage({
    version: '2.4',
    profile: '',
    obx: [
      { type: 'NM', code: '150456^MDC_PULS_OXIM_SAT_O2^MDC', containment: '1.3.1.150456', value: '-999', unit: '262688^MDC_DIM_PERCENT^MDC', status: '', time: '20260101100000+0000' },
      { type: 'NM', code: '147842^MDC_ECG_HEART_RATE^MDC', containment: '1.7.4.147842', value: '71', unit: '264864^MDC_DIM_BEAT_PER_MIN^MDC', status: '', time: '20260101100000+0000' },
    ],
  }).replace(/^MSH\|\^~\\&\|[^|]*\|/, 'MSH|^~\\&|XH80X^00A037009B000000^EUI-64|');
  writeFileSync(file, xh);
  const run = (...args: string[]) => spawnSync(process.execPath, [VIGIL_CLI, 'decode', 'pcd01', file, ...args], { encoding: 'utf8' });
  const lines = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const auto = run('--profile', 'auto');
  t.equal(auto.status, 0);
  t.same(lines(auto.stdout), [
    { kind: 'profile', profile: 'xh80x-monitor', detail: 'unknown (MSH-3 XH80X) XH80X patient monitor v1.0.0 (selected by MSH-3/MSH-4)' },
    { kind: 'warning', reason: 'conformance-warning.hl7-version', detail: 'MSH-12: HL7 2.4 is older than 2.6, on which PCD-01 is defined' },
    { kind: 'warning', reason: 'conformance-warning.missing-profile', detail: 'MSH-21: no message profile identifier' },
    { kind: 'reading', parameter: 'spo2', code: 'MDC:150456', value: null, unit: '%', status: 'unavailable', deviceTime: '2026-01-01T10:00:00Z', flags: [] },
    { kind: 'reading', parameter: 'heartRate', code: 'MDC:147842', value: 71, unit: '/min', status: 'unverified', deviceTime: '2026-01-01T10:00:00Z', flags: [] },
  ]);
  t.same(run('--profile', 'xh80x-monitor').stdout, auto.stdout.replace('selected by MSH-3/MSH-4', 'configured'), 'by name');
  const plain = lines(run().stdout);
  t.match(plain.find((l) => l.parameter === undefined && l.reason === 'implausible'), { kind: 'rejection', detail: /spo2: value must be between 0 and 100/ }, 'without a profile -999 is implausible, never a value');
  t.match(plain.filter((l) => l.kind === 'warning').map((l) => l.reason), ['conformance-warning.hl7-version', 'conformance-warning.missing-profile', 'conformance-warning.missing-status']);
  t.match(lines(run('--conformance', 'pcd01-strict').stdout), [{ kind: 'rejection', reason: 'unsupported-version' }]);
  t.equal(run('--profile', 'no-such-monitor').status, 2);
  t.equal(run('--conformance', 'lenient').status, 2);
});
