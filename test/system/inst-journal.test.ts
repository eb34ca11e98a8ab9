/**
 * The agent's log as the journal sees it: the built agent is started with stderr on a file and
 * JOURNAL_STREAM naming that file's device and inode, as systemd does for a unit whose stderr is the
 * journal (systemd.exec(5)); the lines are then read as journald reads them (test/support/journal.ts)
 * and filtered as `journalctl -p` filters them. The unit's SyslogLevel= gives unprefixed lines their
 * priority.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelQueueStore } from '../../agent/src/io/durable-queue';
import { COMMAND_STATE_RECORD } from '../../agent/src/commands-in/persistence';
import { freePort } from '../support/broker';
import { journalEntries, journalFilter, PRIORITY, unitSyslogLevel } from '../support/journal';
import { UNIT_FILE } from '../support/bench/agent-flags';
import { exitOf, VIGIL_CLI, writeAgentConfig } from '../support/processes';

interface Run {
  code: number | null;
  text: string;
}

/**
 * Runs `vigil <args>` with stderr on a file; `journalStream(dev, ino)` gives JOURNAL_STREAM from the
 * file's own numbers. With `until`, the agent is stopped with SIGTERM once the text satisfies it.
 */
async function runWithStderrFile(args: string[], journalStream: (dev: bigint, ino: bigint) => string, until?: (text: string) => boolean): Promise<Run> {
  const file = join(mkdtempSync(join(tmpdir(), 'vigil-journal-')), 'stderr');
  const fd = openSync(file, 'w');
  const st = fstatSync(fd, { bigint: true });
  const child = spawn(process.execPath, [VIGIL_CLI, ...args], {
    stdio: ['ignore', 'ignore', fd],
    env: { ...process.env, JOURNAL_STREAM: journalStream(st.dev, st.ino) },
  });
  closeSync(fd);
  if (until) {
    const deadline = Date.now() + 20_000;
    while (child.exitCode === null && !until(readFileSync(file, 'utf8'))) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`the agent did not log what was awaited: ${readFileSync(file, 'utf8')}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGTERM');
  }
  const code = await exitOf(child);
  return { code, text: readFileSync(file, 'utf8') };
}

/**
 * A config whose run logs records of every level it uses (the agent has no debug record; the unit
 * test checks that prefix): the broker port is closed
 * (mqtt-error, mqtt-offline: warn), plain TCP (mqtt-insecure: warn), the device absent (link-state:
 * info, alarm-raised: warn), and the saved command state on disk is not readable (state-unreadable:
 * error).
 */
async function configLoggingEveryLevel(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-journal-'));
  const store = await LevelQueueStore.open(join(dir, 'queue'));
  await store.saveState(COMMAND_STATE_RECORD, Uint8Array.from([0xff, 0x00, 0x13]));
  await store.close();
  return writeAgentConfig(dir, { brokerUrl: `mqtt://127.0.0.1:${await freePort()}`, devicePath: join(dir, 'no-such-tty') });
}

type LogRecord = { level: 'debug' | 'info' | 'warn' | 'error'; event: string };

t.test('REQ-INST-030 under the journal, every log line carries its priority and `journalctl -p warning` shows exactly the warnings and errors', async (t) => {
  // One config each: an agent locks its queue directory.
  const [config, otherConfig] = await Promise.all([configLoggingEveryLevel(), configLoggingEveryLevel()]);
  const offline = (text: string) => text.includes('"event":"agent-ready"') && text.includes('"event":"mqtt-offline"');
  const [journal, inherited] = await Promise.all([
    runWithStderrFile(['run', '--config', config], (dev, ino) => `${dev}:${ino}`, offline),
    // A process whose stderr is not the stream the variable names (a child that inherited it, a redirection).
    runWithStderrFile(['run', '--config', otherConfig], (dev, ino) => `${dev}:${ino + 1n}`, offline),
  ]);
  t.equal(journal.code, 0, 'the agent stopped cleanly');

  const entries = journalEntries(journal.text, unitSyslogLevel(UNIT_FILE));
  t.ok(entries.length >= 6, `${entries.length} lines`);
  t.same(entries.filter((e) => !e.prefixed).map((e) => e.message), [], 'every line has a priority prefix');
  const records = entries.map((e) => ({ priority: e.priority, record: JSON.parse(e.message) as LogRecord }));
  const levels = new Set(records.map((r) => r.record.level));
  t.same([...levels].sort(), ['error', 'info', 'warn'], 'the run logged errors, warnings and information');
  const priorityOf = { error: PRIORITY.err, warn: PRIORITY.warning, info: PRIORITY.info, debug: PRIORITY.debug };
  for (const r of records) t.equal(r.priority, priorityOf[r.record.level], `${r.record.event}: ${r.record.level} at priority ${priorityOf[r.record.level]}`);

  const shown = (p: 'warning' | 'err') => journalFilter(entries, p).map((e) => e.message);
  const withLevel = (...ls: LogRecord['level'][]) => entries.map((e) => e.message).filter((m) => ls.includes((JSON.parse(m) as LogRecord).level));
  t.same(shown('warning'), withLevel('warn', 'error'), 'journalctl -p warning: exactly the warn and error records, in order');
  t.same(shown('err'), withLevel('error'), 'journalctl -p err: exactly the error records');
  t.ok(shown('err').some((m) => m.includes('"event":"state-unreadable"')), 'the error is there');
  t.ok(shown('warning').some((m) => m.includes('"event":"mqtt-insecure"')), 'a warning is there');

  t.equal(inherited.code, 0);
  const plain = inherited.text.split('\n').filter((l) => l !== '');
  t.ok(plain.length >= 6);
  t.same(plain.filter((l) => !l.startsWith('{')), [], 'JOURNAL_STREAM naming another file: plain JSON lines, no prefix');
  for (const l of plain) JSON.parse(l);
});

t.test('REQ-INST-030 a configuration refused at the service start: every `path: message` line is an error in the journal', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-journal-'));
  const file = writeAgentConfig(dir, { brokerUrl: 'mqtt://127.0.0.1:1883', devicePath: '/dev/ttyUSB0' });
  const config = JSON.parse(readFileSync(file, 'utf8')) as { gateway: Record<string, unknown>; mqtt: Record<string, unknown> };
  config.gateway.bedNumber = 12; // unknown key
  config.mqtt.keepaliveSec = 'five'; // wrong type
  writeFileSync(file, JSON.stringify(config));
  const run = await runWithStderrFile(['run', '--config', file], (dev, ino) => `${dev}:${ino}`);
  t.equal(run.code, 2, 'exit code 2: configuration error');
  const entries = journalEntries(run.text, unitSyslogLevel(UNIT_FILE));
  const errors = journalFilter(entries, 'err').map((e) => e.message);
  t.match(errors.join('\n'), /^vigil: invalid configuration:$/m, 'the heading is an error');
  t.ok(errors.some((m) => /^\s+gateway: .*bedNumber/.test(m)), 'the unknown key, as path: message');
  t.ok(errors.some((m) => /^\s+mqtt\.keepaliveSec: /.test(m)), 'the wrong type, as path: message');
  t.same(entries.filter((e) => !errors.includes(e.message)).map((e) => e.message), [], 'nothing of it is below err (SyslogLevel=err of the unit)');
});
