/** Reading JSON inputs of the evaluation workflow (plain or gzip-compressed). */
import { gunzipSync } from 'node:zlib';
import { badInput } from '../core/errors.js';
import { readInputFile } from '../core/fsutil.js';

/** Reads a JSON file, gunzipping it when the name ends in .gz. */
export async function readJsonFile(file: string): Promise<unknown> {
  const buf = await readInputFile(file);
  try {
    const text = (file.endsWith('.gz') ? gunzipSync(buf) : buf).toString('utf8');
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw badInput('not valid JSON', { file, expected: 'a JSON document', found: (err as Error).message });
  }
}
