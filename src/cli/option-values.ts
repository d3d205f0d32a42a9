/**
 * Strict parsing of command-line option values shared by the command groups: an option value that
 * is not what was expected is a USAGE error naming the option, what was expected and what was found.
 */
import { DrivegateError } from '../core/errors.js';

/** The USAGE error for a bad value of `option`. */
export function badOptionValue(option: string, expected: string, found: string): DrivegateError {
  return new DrivegateError('USAGE', 'bad option value', {
    field: option,
    expected,
    found: JSON.stringify(found),
  });
}

/** Parses a non-negative integer option value strictly (decimal digits only, within min..max). */
export function parseIntOption(option: string, text: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(text.trim())) throw badOptionValue(option, `an integer in ${min}..${max}`, text);
  const v = Number(text.trim());
  if (!Number.isSafeInteger(v) || v < min || v > max)
    throw badOptionValue(option, `an integer in ${min}..${max}`, text);
  return v;
}

/** Parses a finite number option value strictly. */
export function parseNumberOption(option: string, text: string, min = -Infinity, max = Infinity): number {
  const t = text.trim();
  const v = Number(t);
  if (t === '' || !Number.isFinite(v) || v < min || v > max)
    throw badOptionValue(option, `a number in ${min}..${max}`, text);
  return v;
}

/** Parses `--now` (the clock for reports and waivers): any time `new Date()` reads, e.g. ISO 8601. */
export function parseNowOption(text: string): Date {
  const now = new Date(text);
  if (Number.isNaN(now.getTime()))
    throw new DrivegateError('USAGE', 'bad --now', {
      field: '--now',
      expected: 'an ISO 8601 time',
      found: text,
    });
  return now;
}
