/**
 * `hw-sim replay` on a real pseudo-terminal (read through serialport as the agent reads a
 * device) and over a real TCP connection (to a listener here that answers as a gateway, with
 * the agent's own ACK encoder), and the built command's exit codes.
 *
 * Needs socat (`make deps`); without it the pty test fails, it is not skipped.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SerialPort } from 'serialport';
import { DelimiterParser } from '@serialport/parser-delimiter';
import { EOF_AWARE_BINDING } from '../../agent/src/io/serial';
import { buildAck } from '../../agent/src/drivers/hl7-pcd01/ack';
import { frameMllp, MllpSplitter, unwrapMllp } from '../../agent/src/framing/mllp';
import { readCapture } from '../../hw-sim/src/capture';
import { parseReplayArgs, startReplay, type ReplayConfig } from '../../hw-sim/src/replay-cli';

const CLI = resolve(__dirname, '../../hw-sim/src/cli.js');

function tempFile(t: { teardown(fn: () => unknown): void }, name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-replay-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, name);
  writeFileSync(file, text, 'latin1');
  return file;
}

function config(args: string[]): ReplayConfig {
  const parsed = parseReplayArgs(args);
  if (!parsed.ok) throw new Error(parsed.help ? 'help' : parsed.message);
  return parsed.config;
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, fail) => setTimeout(() => fail(new Error(`timed out waiting for ${what}`)), ms))]);
}

const LINES = ['03/17/16 19:19:36 SN=---------- SPO2=098% BPM=123', '03/17/16 19:19:37 SN=---------- SPO2=097% BPM=121', '03/17/16 19:19:38 SN=---------- SPO2=097% BPM=120'];

t.test('REQ-HWSIM-012 a serial capture on a pty: nothing before the port opens, then each line with CR LF on the period; the line is held, then closed', async (t) => {
  const file = tempFile(t, 'masimo.txt', `${LINES.join('\n')}\n`);
  const events: Array<Record<string, unknown>> = [];
  const replay = await startReplay(config([file, '--device', 'masimo-ascii', '--period-ms', '100', '--hold-ms', '300']), { emit: (e) => events.push(e) });
  t.teardown(() => replay.stop());
  await new Promise((r) => setTimeout(r, 300));
  t.same(events.filter((e) => e.event === 'frame'), [], 'no line before the agent opens the port');
  const binding: typeof SerialPort.binding = EOF_AWARE_BINDING;
  const port = new SerialPort({ path: replay.pty.path, baudRate: 9600, autoOpen: false, ...{ binding } });
  port.on('error', () => undefined);
  const got: string[] = [];
  port.pipe(new DelimiterParser({ delimiter: '\r\n', includeDelimiter: true })).on('data', (b: Buffer) => got.push(b.toString('latin1')));
  const closed = new Promise<void>((ok) => port.once('close', () => ok()));
  await new Promise<void>((ok, fail) => port.open((err) => (err ? fail(err) : ok())));
  await within(replay.finished, 5000, 'the end of the replay');
  t.same(got, LINES.map((l) => `${l}\r\n`), 'every line, in order, ended by CR LF');
  const frames = events.filter((e) => e.event === 'frame');
  t.same(frames.map((f) => f.source), ['line 1', 'line 2', 'line 3']);
  const sent = frames.map((f) => Number(f.sentWallMs));
  // Paced on a schedule (line i at i periods after the first), not by intervals: a late line is
  // followed by a shorter gap, and none is sent before its time.
  t.ok(sent.every((s, i) => s - sent[0]! >= i * 100 - 10), `paced by the period, none early (${sent.map((s) => s - sent[0]!).join(', ')} ms)`);
  t.ok(events.findIndex((e) => e.event === 'port-opened') < events.findIndex((e) => e.event === 'frame'), 'port-opened first');
  await replay.stop();
  await within(closed, 5000, 'the port to see the hang-up');
  t.pass('closing the replay hangs up the port');
});

t.test('REQ-HWSIM-012 an HL7 file over MLLP/TCP: each message in its block as the file holds it, each ACK read back; --loop plays it again', async (t) => {
  const msh = (id: string) => `MSH|^~\\&|DEV|FAC|||20260101100000+0000||ORU^R01^ORU_R01|${id}|P|2.6|||NE|AL||UNICODE UTF-8|||IHE PCD ORU-R01 2006^HL7^1.3.6.1.4.1.19376.1.6.1.1.1^ISO`;
  const text = [msh('M1'), 'OBR|1', 'OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|97|262688^MDC_DIM_PERCENT^MDC|||||F', '', msh('M2'), 'OBR|1'].join('\n');
  const file = tempFile(t, 'monitor.hl7', text);
  const received: Buffer[] = [];
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    const splitter = new MllpSplitter();
    socket.on('data', (bytes) => {
      for (const e of splitter.push(bytes)) {
        if (e.kind !== 'frame') continue;
        const u = unwrapMllp(e.bytes);
        if (!u.ok) continue;
        received.push(Buffer.from(u.payload));
        const controlId = /\|ORU\^R01\^ORU_R01\|([^|]*)\|/.exec(Buffer.from(u.payload).toString('latin1'))?.[1] ?? '';
        socket.write(frameMllp(buildAck({ code: 'AA', controlId, ackControlId: `ACK-${received.length}`, nowWallMs: Date.UTC(2026, 0, 1) })));
      }
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  const events: Array<Record<string, unknown>> = [];
  const once = await startReplay(config([file, '--device', 'hl7-monitor', '--transport', 'tcp', '--port', String(port), '--period-ms', '50', '--hold-ms', '300']), { emit: (e) => events.push(e) });
  t.equal(once.pty.path, `tcp 127.0.0.1:${port}`, 'the path printed for a TCP replay');
  await within(once.finished, 5000, 'the end of the replay');
  await once.stop();
  const expected = readCapture(Buffer.from(text, 'latin1'), 'hl7').map((i) => i.bytes.subarray(1, -2).toString('latin1'));
  t.same(received.map((b) => b.toString('latin1')), expected, 'the messages as sent: CR after each segment');
  t.ok(received.every((b) => !b.includes(0x0a)), 'no LF left in a message');
  t.same(events.filter((e) => e.event === 'ack').map((e) => [e.controlId, e.code]), [['M1', 'AA'], ['M2', 'AA']], 'each ACK read back');
  t.same(events.filter((e) => e.event === 'frame').map((e) => e.controlId), ['M1', 'M2']);

  received.length = 0;
  const loopEvents: Array<Record<string, unknown>> = [];
  const looping = await startReplay(config([file, '--device', 'hl7-monitor', '--transport', 'tcp', '--port', String(port), '--period-ms', '30', '--loop']), { emit: (e) => loopEvents.push(e) });
  await within(
    new Promise<void>((ok) => {
      const poll = setInterval(() => {
        if (received.length >= 5) {
          clearInterval(poll);
          ok();
        }
      }, 20);
    }),
    5000,
    'five messages',
  );
  await looping.stop();
  t.same(received.slice(0, 4).map((b) => /\|(M\d)\|/.exec(b.toString('latin1'))?.[1]), ['M1', 'M2', 'M1', 'M2'], '--loop starts over');
});

function runCli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((ok) => {
    const child = spawn(process.execPath, [CLI, 'replay', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => ok({ code, stderr }));
  });
}

t.test('REQ-HWSIM-012 the command fails clearly: a capture it cannot read, a gateway it cannot reach, bad arguments', async (t) => {
  const missing = await runCli(['/nonexistent/capture.hl7', '--device', 'hl7-monitor']);
  t.equal(missing.code, 1, 'exit 1');
  t.match(missing.stderr, /^hw-sim: \/nonexistent\/capture\.hl7: cannot be read/m);
  const bad = tempFile(t, 'bad.hl7', 'PID|||1\n');
  const unreadable = await runCli([bad, '--device', 'hl7-monitor']);
  t.equal(unreadable.code, 1);
  t.match(unreadable.stderr, /bad\.hl7: line 1: a message must start with an MSH segment/);
  const good = tempFile(t, 'ok.hl7', 'MSH|^~\\&|D|F|||20260101100000+0000||ORU^R01^ORU_R01|1|P|2.6\n');
  // A port nobody listens on: a server opened and closed again.
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((ok) => server.close(() => ok()));
  const refused = await runCli([good, '--device', 'hl7-monitor', '--transport', 'tcp', '--port', String(port), '--connect-timeout-ms', '300']);
  t.equal(refused.code, 1);
  t.match(refused.stderr, new RegExp(`hw-sim: cannot connect to 127\\.0\\.0\\.1:${port} within 300 ms`));
  const usage = await runCli([good]);
  t.equal(usage.code, 2, 'exit 2 for a bad argument');
  t.match(usage.stderr, /--device must be one of/);
});
