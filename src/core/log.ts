/**
 * Structured logging. Each record has a level, a message and fields. On a terminal records print as
 * readable lines; otherwise (or with --json) as JSON lines. Logs go to stderr; stdout is for results.
 */

/** Log levels, least to most severe. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A structured logger. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger whose records carry `fields` too. */
  child(fields: Record<string, unknown>): Logger;
}

/** Options of createLogger. */
export interface LoggerOptions {
  level?: LogLevel;
  json?: boolean;
  write?: (line: string) => void;
  fields?: Record<string, unknown>;
}

/** Creates a logger (default: level from DRIVEGATE_LOG_LEVEL or info; JSON when stderr is not a TTY). */
export function createLogger(options: LoggerOptions = {}): Logger {
  const envLevel = process.env['DRIVEGATE_LOG_LEVEL'] as LogLevel | undefined;
  const level: LogLevel = options.level ?? (envLevel && envLevel in ORDER ? envLevel : 'info');
  const json = options.json ?? !process.stderr.isTTY;
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const base = options.fields ?? {};
  const emit = (lvl: LogLevel, msg: string, fields: Record<string, unknown> = {}): void => {
    if (ORDER[lvl] < ORDER[level]) return;
    const all = { ...base, ...fields };
    if (json) {
      write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...all }));
    } else {
      const extra = Object.entries(all)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      write(`${lvl === 'info' ? '' : lvl.toUpperCase() + ' '}${msg}${extra ? '  ' + extra : ''}`);
    }
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ level, json, write, fields: { ...base, ...fields } }),
  };
}
