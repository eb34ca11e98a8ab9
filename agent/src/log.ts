/**
 * Structured logging: one JSON object per line on stderr, so that systemd's journal
 * and tests can read it. Log records name fields and rules, never measured values.
 *
 * Under systemd, stderr is a stream to the journal, which takes a line's priority from a
 * leading `<N>` (sd-daemon(3), SyslogLevelPrefix= in systemd.exec(5)): each line then starts
 * with its level's prefix, so that `journalctl -p warning -u vigil` shows exactly the
 * warnings and errors. Anywhere else (a terminal, a pipe, a test) lines are plain JSON.
 */
import { fstatSync } from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * The syslog priority of each level, as sd-daemon(3) prefixes it: SD_ERR "<3>", SD_WARNING "<4>",
 * SD_INFO "<6>", SD_DEBUG "<7>" (RFC 5424 6.2.1 severities). `journalctl -p warning` shows 0..4.
 */
export const SYSLOG_PRIORITY: Record<LogLevel, 3 | 4 | 6 | 7> = { debug: 7, info: 6, warn: 4, error: 3 };

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

export interface LoggerOptions {
  /**
   * Start each line with its syslog priority prefix (`SYSLOG_PRIORITY`). Default: when the lines go
   * to stderr (no `write` given) and stderr is the journal (`stderrIsJournal`).
   */
  priorityPrefix?: boolean;
}

/**
 * True when `fd` is the journal stream systemd connected: `JOURNAL_STREAM` holds the
 * "device:inode" of that stream, in decimal (systemd.exec(5), Environment variables in spawned
 * processes), and it matches fstat of the fd. A child whose stderr was redirected elsewhere
 * inherits the variable, but its fd no longer matches: the comparison is what systemd asks for.
 */
export function stderrIsJournal(
  journalStream: string | undefined = process.env.JOURNAL_STREAM,
  statFd: () => { dev: bigint; ino: bigint } = () => fstatSync(2, { bigint: true }),
): boolean {
  const m = /^(\d+):(\d+)$/.exec(journalStream ?? '');
  if (!m) return false;
  let st: { dev: bigint; ino: bigint };
  try {
    st = statFd();
  } catch {
    return false; // stderr closed: nothing to match
  }
  return BigInt(m[1]!) === st.dev && BigInt(m[2]!) === st.ino;
}

export function createLogger(
  level: LogLevel,
  write?: (line: string) => void,
  wallMs: () => number = Date.now,
  options: LoggerOptions = {},
): Logger {
  const min = ORDER[level];
  const out = write ?? ((line: string) => process.stderr.write(line));
  const prefixed = options.priorityPrefix ?? (write === undefined && stderrIsJournal());
  const emit = (lvl: LogLevel, event: string, fields?: Record<string, unknown>): void => {
    if (ORDER[lvl] < min) return;
    const record = { t: new Date(wallMs()).toISOString(), level: lvl, event, ...fields };
    const json = JSON.stringify(record, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    out(`${prefixed ? `<${SYSLOG_PRIORITY[lvl]}>` : ''}${json}\n`);
  };
  return {
    debug: (e, f) => emit('debug', e, f),
    info: (e, f) => emit('info', e, f),
    warn: (e, f) => emit('warn', e, f),
    error: (e, f) => emit('error', e, f),
  };
}

/** A logger that keeps records in memory, for tests. */
export function memoryLogger(): Logger & { records: Array<{ level: LogLevel; event: string } & Record<string, unknown>> } {
  const records: Array<{ level: LogLevel; event: string } & Record<string, unknown>> = [];
  const push = (level: LogLevel) => (event: string, fields?: Record<string, unknown>) => {
    records.push({ level, event, ...fields });
  };
  return { records, debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error') };
}
