/**
 * Structured logging: one JSON object per line on stderr, so that systemd's journal
 * and tests can read it. Log records name fields and rules, never measured values.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (line) => process.stderr.write(line),
  wallMs: () => number = Date.now,
): Logger {
  const min = ORDER[level];
  const emit = (lvl: LogLevel, event: string, fields?: Record<string, unknown>): void => {
    if (ORDER[lvl] < min) return;
    const record = { t: new Date(wallMs()).toISOString(), level: lvl, event, ...fields };
    write(`${JSON.stringify(record, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
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
