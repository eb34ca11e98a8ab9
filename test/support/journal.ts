/**
 * What systemd-journald makes of the lines a service writes to its stdout/stderr stream, for tests
 * that check the agent's log as `journalctl -p` would show it, without a running journal.
 *
 * journald's stream reader (src/journal/journald-stream.c, with SyslogLevelPrefix=yes, the default)
 * takes a leading `<N>`, N a syslog priority 0..7 (sd-daemon(3); `syslog_parse_priority` without the
 * facility: one digit, or zero-padded to three), as the line's priority and strips it; a line without
 * it gets the unit's SyslogLevel= (default info). `journalctl -p LEVEL` shows priorities 0..LEVEL.
 */
import { readFileSync } from 'node:fs';

/** syslog(3) priorities, as journalctl -p names them. */
export const PRIORITY = { emerg: 0, alert: 1, crit: 2, err: 3, warning: 4, notice: 5, info: 6, debug: 7 } as const;
export type PriorityName = keyof typeof PRIORITY;

export interface JournalEntry {
  priority: number;
  /** The line without its prefix: what `journalctl -o cat` prints. */
  message: string;
  /** Whether the line carried its own priority prefix. */
  prefixed: boolean;
}

/** One stream line as journald stores it; `defaultPriority` is the unit's SyslogLevel=. */
export function journalEntry(line: string, defaultPriority: number = PRIORITY.info): JournalEntry {
  const m = /^<(?:0{0,2})([0-7])>/.exec(line);
  if (!m) return { priority: defaultPriority, message: line, prefixed: false };
  return { priority: Number(m[1]), message: line.slice(m[0].length), prefixed: true };
}

/** Every non-empty line of a stream's text (a trailing partial line included), as journald stores it. */
export function journalEntries(text: string, defaultPriority: number = PRIORITY.info): JournalEntry[] {
  return text.split('\n').filter((l) => l !== '').map((l) => journalEntry(l, defaultPriority));
}

/** `journalctl -p <max>`: the entries of priority max or more urgent. */
export function journalFilter(entries: readonly JournalEntry[], max: PriorityName): JournalEntry[] {
  return entries.filter((e) => e.priority <= PRIORITY[max]);
}

/** The priority a unit file's SyslogLevel= gives unprefixed lines (systemd.exec(5); default info). */
export function unitSyslogLevel(unitFile: string): number {
  const value = /^SyslogLevel=(\S+)\s*$/m.exec(readFileSync(unitFile, 'utf8'))?.[1] ?? 'info';
  if (!(value in PRIORITY)) throw new Error(`SyslogLevel=${value} is not a priority name`);
  return PRIORITY[value as PriorityName];
}
