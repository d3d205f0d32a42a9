/** Reading JSON inputs of the evaluation workflow (plain or gzip-compressed). */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { DrivegateError, badInput } from '../core/errors.js';

/** Reads a JSON file, gunzipping it when the name ends in .gz. */
export async function readJsonFile(file: string): Promise<unknown> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DrivegateError(
      code === 'ENOENT' ? 'NOT_FOUND' : 'BAD_INPUT',
      `cannot read file (${String(code)})`,
      {
        file,
        cause: err,
      },
    );
  }
  try {
    const text = (file.endsWith('.gz') ? gunzipSync(buf) : buf).toString('utf8');
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw badInput('not valid JSON', { file, expected: 'a JSON document', found: (err as Error).message });
  }
}
