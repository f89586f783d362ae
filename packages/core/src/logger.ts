/**
 * What every Astraeus component logs through: an object of fields, then a message (pino's call shape, so a
 * pino logger is one as it is).
 */
export interface Logger {
  /** Optional: a logger without it drops debug records. */
  debug?(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  /** Lets a caller skip building a record nobody will see (pino has it). Absent: every level is on. */
  isLevelEnabled?(level: "debug" | "info" | "warn" | "error"): boolean;
}

/** Drops everything (the default wherever a logger is optional). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  isLevelEnabled: () => false,
};
