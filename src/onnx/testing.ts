/**
 * For tests: variants of the reference detector's bytes (an op renamed in place, keeping the
 * protobuf valid), so operator-coverage failures can be tested on a real model.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../core/paths.js';

/** The reference detector v1.0.0 ONNX file's path. */
export function referenceDetectorPath(): string {
  return join(packageRoot(), 'models', 'detector-v1.0.0.onnx');
}

/**
 * The reference detector with every node whose op_type is `from` renamed to `to` (same length), by
 * rewriting NodeProto field 4 in place. Throws when no such node exists.
 */
export function detectorWithOpRenamed(from: string, to: string): Buffer {
  if (from.length !== to.length || from.length > 127) throw new Error('op names must have the same length');
  const bytes = Buffer.from(readFileSync(referenceDetectorPath()));
  const needle = Buffer.concat([Buffer.from([0x22, from.length]), Buffer.from(from, 'utf8')]);
  let at = bytes.indexOf(needle);
  if (at < 0) throw new Error(`no node with op_type ${from}`);
  while (at >= 0) {
    bytes.write(to, at + 2, 'utf8');
    at = bytes.indexOf(needle, at + 1);
  }
  return bytes;
}
