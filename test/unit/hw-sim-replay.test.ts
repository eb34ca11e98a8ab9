/**
 * `hw-sim replay` without a pty or a socket: how each capture format is read and converted
 * (hw-sim/src/capture.ts, documented in docs/hw-sim.md), when each item is due, and the
 * command-line options. The pty and TCP paths are in test/integration/hw-sim-replay.test.ts.
 */
import t from 'tap';
import { CaptureError, readCapture, scheduleMs, defaultFormat } from '../../hw-sim/src/capture';
import { parseReplayArgs } from '../../hw-sim/src/replay-cli';
import { decodeCapture } from '../../agent/src/commands/decode';

const MSH = (id: string) => `MSH|^~\\&|DEV|FAC|||20260101100000+0000||ORU^R01^ORU_R01|${id}|P|2.6|||NE|AL||UNICODE UTF-8|||IHE PCD ORU-R01 2006^HL7^1.3.6.1.4.1.19376.1.6.1.1.1^ISO`;
const SEGMENTS = (id: string, spo2: number) => [MSH(id), 'OBR|1|||182777000^monitoring of patient^SCT|||20260101100000+0000', `OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|${spo2}|262688^MDC_DIM_PERCENT^MDC|||||F`];
const block = (segments: string[]) => `\x0b${segments.map((s) => `${s}\r`).join('')}\x1c\r`;

t.test('REQ-HWSIM-012 an HL7 file: messages split at MSH lines and blank lines, any segment ending, sent with CR in one MLLP block each', async (t) => {
  const a = SEGMENTS('A1', 97);
  const b = SEGMENTS('B2', 95);
  const expected = [block(a), block(b)];
  const files: Record<string, string> = {
    'LF, no blank line (MSH starts the next)': `${[...a, ...b].join('\n')}\n`,
    'CR LF, a blank line between': `${a.join('\r\n')}\r\n\r\n${b.join('\r\n')}\r\n`,
    'CR (as sent), blank lines around': `\n\n${a.join('\r')}\r\r\n${b.join('\r')}\r\n\n`,
  };
  for (const [name, text] of Object.entries(files)) {
    const items = readCapture(Buffer.from(text, 'latin1'), 'hl7');
    t.same(items.map((i) => i.bytes.toString('latin1')), expected, name);
    t.same(items.map((i) => i.controlId), ['A1', 'B2'], `${name}: control ids read from MSH-10`);
    t.same(items.map((i) => i.atMs), [null, null], 'paced by the period');
  }
  const framed = readCapture(Buffer.from(`noise${block(a)}\r\n${block(b)}`, 'latin1'), 'hl7');
  t.same(framed.map((i) => i.bytes.toString('latin1')), expected, 'MLLP blocks are kept as they are (noise between them dropped)');
  // The agent reads what the replay sends as it reads a monitor.
  const lines = decodeCapture('pcd01', Buffer.concat(readCapture(Buffer.from(files['LF, no blank line (MSH starts the next)']!, 'latin1'), 'hl7').map((i) => i.bytes)));
  t.same(lines.flatMap((l) => (l.kind === 'reading' ? [l.value] : [])), [97, 95], 'both messages decode to their values');
  const latin1 = readCapture(Buffer.from(`${MSH('U')}\nPID|||\xe9\n`, 'latin1'), 'hl7')[0]!.bytes;
  t.ok(latin1.subarray(-10).equals(Buffer.from([0x50, 0x49, 0x44, 0x7c, 0x7c, 0x7c, 0xe9, 0x0d, 0x1c, 0x0d])), 'the bytes of a segment are kept as recorded (0xE9 stays one byte)');
});

t.test('REQ-HWSIM-012 captures that cannot be replayed are refused with the line and the rule', async (t) => {
  const cases: Array<[string, string, 'hl7' | 'lines' | 'bytelog', RegExp]> = [
    ['HL7 without MSH', 'PID|||1\n', 'hl7', /line 1: a message must start with an MSH segment/],
    ['HL7 empty', '\n\n', 'hl7', /no HL7 message/],
    ['MLLP block never ended', `\x0b${MSH('X')}\r`, 'hl7', /block 1: .* without its end block/],
    ['no line', '\r\n \n', 'lines', /no line to send/],
    ['bytelog not JSON', '{"atMs": 0, "hex": "00"}\nnope\n', 'bytelog', /line 2: not JSON/],
    ['bytelog time going back', '{"atMs": 10, "hex": "00"}\n{"atMs": 5, "hex": "00"}\n', 'bytelog', /line 2: atMs must be a number, not below/],
    ['bytelog odd hex', '{"atMs": 0, "hex": "abc"}\n', 'bytelog', /line 1: hex must be bytes/],
  ];
  for (const [name, text, format, message] of cases) {
    let thrown: unknown = null;
    try {
      readCapture(Buffer.from(text, 'latin1'), format);
    } catch (err) {
      thrown = err;
    }
    t.ok(thrown instanceof CaptureError, `${name}: a CaptureError`);
    t.match(thrown instanceof Error ? thrown.message : '', message, name);
  }
});

t.test('REQ-HWSIM-012 serial lines get the device terminator; a byte log is sent unconverted at its own times', async (t) => {
  const masimo = '03/17/16 19:19:36 SN=---------- SPO2=098% BPM=123\n\n03/17/16 19:19:37 SN=---------- SPO2=097% BPM=122\r\n';
  const lines = readCapture(Buffer.from(masimo), 'lines');
  t.same(lines.map((l) => l.bytes.toString('latin1')), ['03/17/16 19:19:36 SN=---------- SPO2=098% BPM=123\r\n', '03/17/16 19:19:37 SN=---------- SPO2=097% BPM=122\r\n'], 'LF or CR LF in the file, CR LF on the wire');
  t.same(lines.map((l) => l.source), ['line 1', 'line 3']);
  const log = readCapture(Buffer.from('{"atMs": 0, "hex": "0d0a00"}\n\n{"atMs": 250.5, "hex": "FF"}\n'), 'bytelog');
  t.same(log.map((l) => [l.atMs, l.bytes.toString('hex')]), [[0, '0d0a00'], [250.5, 'ff']]);
  // Schedules: by the period, or by the log's times; a loop starts over one period after the last item.
  t.same([0, 1, 2, 3].map((n) => scheduleMs(lines, n, 1000)), [0, 1000, 2000, 3000]);
  t.same([0, 1, 2, 3].map((n) => scheduleMs(log, n, 100)), [0, 250.5, 350.5, 601]);
  t.equal(defaultFormat('x.jsonl', 'hl7-monitor'), 'bytelog');
  t.equal(defaultFormat('x.hl7', 'hl7-monitor'), 'hl7');
  t.equal(defaultFormat('x.txt', 'masimo-ascii'), 'lines');
});

t.test('REQ-HWSIM-012 hw-sim replay options: defaults, the transports, and every problem refused', async (t) => {
  t.same(parseReplayArgs(['cap.txt', '--device', 'masimo-ascii']), {
    ok: true,
    config: { capture: 'cap.txt', device: 'masimo-ascii', format: 'lines', transport: 'pty', host: '127.0.0.1', port: null, link: null, periodMs: 1000, loop: false, holdMs: 1000, connectTimeoutMs: 10000, unplugQuietMs: 100 },
  });
  t.match(parseReplayArgs(['m.hl7', '--device', 'hl7-monitor', '--transport', 'tcp', '--port', '2575', '--host', '10.0.0.2', '--loop', '--period-ms=250']), {
    ok: true,
    config: { format: 'hl7', transport: 'tcp', host: '10.0.0.2', port: 2575, loop: true, periodMs: 250 },
  });
  for (const [args, message] of [
    [['--device', 'masimo-ascii'], /needs the capture file/],
    [['a', 'b', '--device', 'masimo-ascii'], /unexpected argument b/],
    [['a'], /--device must be one of masimo-ascii, hl7-monitor/],
    [['a', '--device', 'vigil-patch'], /--device must be one of/],
    [['a', '--device', 'masimo-ascii', '--format', 'pcap'], /--format must be one of hl7, lines, bytelog/],
    [['a', '--device', 'masimo-ascii', '--format', 'hl7'], /--format hl7 needs --device hl7-monitor/],
    [['a', '--device', 'masimo-ascii', '--transport', 'tcp', '--port', '1'], /needs --device hl7-monitor/],
    [['a', '--device', 'hl7-monitor', '--transport', 'tcp'], /needs --port/],
    [['a', '--device', 'hl7-monitor', '--transport', 'tcp', '--port', '70000'], /needs --port, an integer from 1 to 65535/],
    [['a', '--device', 'hl7-monitor', '--port', '2575'], /--port and --host are for --transport tcp/],
    [['a', '--device', 'hl7-monitor', '--transport', 'udp'], /--transport must be one of pty, tcp/],
    [['a', '--device', 'hl7-monitor', '--transport', 'tcp', '--port', '1', '--link', '/tmp/x'], /--link .* is for --transport pty/],
    [['a', '--device', 'masimo-ascii', '--period-ms', '0'], /--period-ms must be/],
    [['a', '--device', 'masimo-ascii', '--hold-ms', '-1'], /--hold-ms must be/],
    [['a', '--device', 'masimo-ascii', '--bogus'], /unknown option --bogus/],
  ] as Array<[string[], RegExp]>) {
    const r = parseReplayArgs(args);
    t.match(!r.ok && !r.help ? r.message : '', message, args.join(' '));
  }
  t.same(parseReplayArgs(['--help']), { ok: false, help: true });
});
