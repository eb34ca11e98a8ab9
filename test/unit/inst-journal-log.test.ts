/**
 * The log's priority prefixes for the journal (agent/src/log.ts): each level's sd-daemon(3) prefix
 * when stderr is the journal stream, plain JSON anywhere else.
 */
import t from 'tap';
import { createLogger, stderrIsJournal, SYSLOG_PRIORITY } from '../../agent/src/log';
import { journalEntry, PRIORITY } from '../support/journal';

function lines(priorityPrefix?: boolean): string[] {
  const out: string[] = [];
  const log = createLogger('debug', (l) => out.push(l), () => Date.UTC(2026, 0, 2, 3, 4, 5), priorityPrefix === undefined ? {} : { priorityPrefix });
  log.debug('d-event', { n: 1 });
  log.info('i-event');
  log.warn('w-event', { big: 2n ** 64n });
  log.error('e-event');
  return out;
}

t.test('REQ-INST-030 each level starts with its syslog priority prefix: error <3>, warn <4>, info <6>, debug <7>', async (t) => {
  const out = lines(true);
  t.same(out.map((l) => l.slice(0, 3)), ['<7>', '<6>', '<4>', '<3>']);
  t.same(SYSLOG_PRIORITY, { error: PRIORITY.err, warn: PRIORITY.warning, info: PRIORITY.info, debug: PRIORITY.debug }, 'the syslog names of the levels');
  t.equal(out[2], '<4>{"t":"2026-01-02T03:04:05.000Z","level":"warn","event":"w-event","big":"18446744073709551616"}\n', 'the prefix, then the same JSON record');
  for (const l of out) {
    const e = journalEntry(l.trimEnd());
    t.ok(e.prefixed, 'journald takes the prefix');
    t.equal(e.priority, SYSLOG_PRIORITY[(JSON.parse(e.message) as { level: 'debug' | 'info' | 'warn' | 'error' }).level], 'and the rest of the line is the JSON record at its own priority');
  }
});

t.test('REQ-INST-030 without the prefix option, a logger given its own writer writes plain JSON lines', async (t) => {
  for (const out of [lines(), lines(false)]) {
    t.equal(out.length, 4);
    for (const l of out) t.equal((JSON.parse(l) as { event: string }).event.slice(2), 'event', 'each line parses as JSON');
  }
});

t.test('REQ-INST-030 stderr is the journal only when JOURNAL_STREAM names the device and inode of fd 2', async (t) => {
  const st = { dev: 65024n, ino: 9979529n };
  t.equal(stderrIsJournal('65024:9979529', () => st), true, 'device:inode of fd 2');
  t.equal(stderrIsJournal('65024:9979530', () => st), false, 'another inode (stderr redirected by a child that inherited the variable)');
  t.equal(stderrIsJournal('65025:9979529', () => st), false, 'another device');
  t.equal(stderrIsJournal(undefined, () => st), false, 'no variable (not under systemd)');
  t.equal(stderrIsJournal('', () => st), false, 'empty');
  t.equal(stderrIsJournal('65024-9979529', () => st), false, 'malformed');
  t.equal(stderrIsJournal('65024:9979529:1', () => st), false, 'malformed (three fields)');
  t.equal(stderrIsJournal('18446744073709551615:18446744073709551615', () => ({ dev: 2n ** 64n - 1n, ino: 2n ** 64n - 1n })), true, '64-bit numbers compare exactly');
  t.equal(stderrIsJournal('65024:9979529', () => { throw Object.assign(new Error('EBADF'), { code: 'EBADF' }); }), false, 'stderr closed');
});
