// The daemon's log: one line per event on stderr, `namestack[pid] level: message key=value`,
// quiet by default (warnings and errors only; -v adds lifecycle and connections, -vv more).

import type { LogLevel } from './config.js';

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export type LogFields = Record<string, string | number | boolean | undefined | null>;

export interface Logger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
}

function formatValue(v: string | number | boolean): string {
  const s = String(v);
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
}

export function createLogger(level: LogLevel, write: (line: string) => void = (l) => void process.stderr.write(l)): Logger {
  const at = (l: LogLevel) => (message: string, fields?: LogFields): void => {
    if (RANK[l] > RANK[level]) return;
    let line = `namestack[${process.pid}] ${l}: ${message}`;
    for (const [k, v] of Object.entries(fields ?? {})) if (v !== undefined && v !== null) line += ` ${k}=${formatValue(v)}`;
    write(line.replaceAll('\n', ' ') + '\n');
  };
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}
