/**
 * The one error type of drivegate. Every failure that reaches a user is a DrivegateError with a
 * code from a closed set; the code decides the process exit code (CLI) and the HTTP status (servers).
 */

/** The closed set of error codes. */
export const ERROR_CODES = [
  'USAGE', // wrong command-line usage
  'BAD_INPUT', // a file, record or field is not what was expected
  'NOT_FOUND', // a named thing does not exist
  'CONFLICT', // a concurrent change won, or the target already exists
  'INTEGRITY', // a digest, signature or hash chain does not verify
  'GATE_FAILED', // a gate evaluated its rules and said no
  'UNAUTHORIZED', // no or invalid credentials
  'FORBIDDEN', // credentials lack the role
  'UNAVAILABLE', // a backend or tool is not there
  'TIMEOUT', // an operation ran out of time
  'INTERNAL', // a bug
] as const;

/** One of the error codes. */
export type ErrorCode = (typeof ERROR_CODES)[number];

const EXIT: Record<ErrorCode, number> = {
  USAGE: 2,
  BAD_INPUT: 2,
  NOT_FOUND: 2,
  CONFLICT: 2,
  INTEGRITY: 2,
  GATE_FAILED: 1,
  UNAUTHORIZED: 2,
  FORBIDDEN: 2,
  UNAVAILABLE: 3,
  TIMEOUT: 3,
  INTERNAL: 3,
};

const HTTP: Record<ErrorCode, number> = {
  USAGE: 400,
  BAD_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  INTEGRITY: 422,
  GATE_FAILED: 412,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
  INTERNAL: 500,
};

/** Where a bad input was found: the file, and within it the record/field/line when known. */
export interface ErrorLocation {
  file?: string;
  record?: string | number;
  field?: string;
  line?: number;
}

/** Options of a DrivegateError beyond its code and message. */
export interface DrivegateErrorOptions extends ErrorLocation {
  expected?: string;
  found?: string;
  details?: unknown;
  cause?: unknown;
}

/**
 * The drivegate error. The message should say what was expected and what was found; `file`,
 * `record`, `field` and `line` locate bad input.
 */
export class DrivegateError extends Error {
  readonly code: ErrorCode;
  readonly location: ErrorLocation;
  readonly expected: string | undefined;
  readonly found: string | undefined;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options: DrivegateErrorOptions = {}) {
    super(
      composeMessage(message, options),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'DrivegateError';
    this.code = code;
    this.location = {
      ...(options.file !== undefined ? { file: options.file } : {}),
      ...(options.record !== undefined ? { record: options.record } : {}),
      ...(options.field !== undefined ? { field: options.field } : {}),
      ...(options.line !== undefined ? { line: options.line } : {}),
    };
    this.expected = options.expected;
    this.found = options.found;
    this.details = options.details;
  }

  /** The process exit code for this error (1 gate, 2 bad input/usage, 3 internal). */
  get exitCode(): number {
    return EXIT[this.code];
  }

  /** The HTTP status for this error. */
  get httpStatus(): number {
    return HTTP[this.code];
  }

  /** A plain object for JSON output and logs. */
  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...this.location,
      ...(this.expected !== undefined ? { expected: this.expected } : {}),
      ...(this.found !== undefined ? { found: this.found } : {}),
      ...(this.details !== undefined ? { details: this.details } : {}),
    };
  }
}

function composeMessage(message: string, o: DrivegateErrorOptions): string {
  const where: string[] = [];
  if (o.file !== undefined) where.push(o.line !== undefined ? `${o.file}:${o.line}` : o.file);
  if (o.record !== undefined) where.push(`record ${String(o.record)}`);
  if (o.field !== undefined) where.push(`field '${o.field}'`);
  let text = where.length > 0 ? `${where.join(', ')}: ${message}` : message;
  if (o.expected !== undefined) text += `; expected ${o.expected}`;
  if (o.found !== undefined) text += `, found ${o.found}`;
  return text;
}

/** Shorthand for a BAD_INPUT error. */
export function badInput(message: string, options: DrivegateErrorOptions = {}): DrivegateError {
  return new DrivegateError('BAD_INPUT', message, options);
}

/** Wraps any thrown value as a DrivegateError (unknown errors become INTERNAL). */
export function asDrivegateError(err: unknown): DrivegateError {
  if (err instanceof DrivegateError) return err;
  if (err instanceof Error) return new DrivegateError('INTERNAL', err.message, { cause: err });
  return new DrivegateError('INTERNAL', String(err));
}

/** The exit code for any thrown value. */
export function exitCodeOf(err: unknown): number {
  return asDrivegateError(err).exitCode;
}
