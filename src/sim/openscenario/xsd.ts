/**
 * XSD validation of OpenSCENARIO files against the official ASAM schema of the revision their
 * FileHeader declares, with libxml2 (xmllint compiled to WebAssembly, npm package xmllint-wasm).
 * Results are cached per (content digest, revision) for the life of the process, and files of one
 * revision are validated in one batch.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { validateXML } from 'xmllint-wasm';
import { DrivegateError, badInput } from '../../core/errors.js';
import { sha256 } from '../../core/digest.js';
import { sharedSchemas } from '../../core/paths.js';

/** The OpenSCENARIO revisions drivegate reads. */
export type OscVersion = '1.0' | '1.1' | '1.3';

/** The XSD file name of each supported revision (1.1 is validated with the 1.1.1 errata schema). */
export const XSD_FILES: Record<OscVersion, string> = {
  '1.0': 'OpenSCENARIOv1.0.xsd',
  '1.1': 'OpenSCENARIOv1.1.1.xsd',
  '1.3': 'OpenSCENARIOv1.3.xsd',
};

/** One XSD or well-formedness problem. */
export interface XsdProblem {
  file: string;
  line: number | null;
  message: string;
}

const schemaText = new Map<OscVersion, string>();
const cache = new Map<string, XsdProblem[]>();

/** Absolute path of the XSD for a revision; UNAVAILABLE with a clear message when the folder is absent. */
export function schemaPath(version: OscVersion): string {
  const path = join(sharedSchemas(), XSD_FILES[version]);
  if (!existsSync(path)) {
    throw new DrivegateError(
      'UNAVAILABLE',
      `OpenSCENARIO ${version} schema not found at ${path}: put the ASAM XSDs (${Object.values(XSD_FILES).join(', ')}) in ../shared/schemas beside the checkout or point DRIVEGATE_SCHEMAS at their folder`,
    );
  }
  return path;
}

function schemaFor(version: OscVersion): string {
  let text = schemaText.get(version);
  if (text === undefined) {
    text = readFileSync(schemaPath(version), 'utf8');
    schemaText.set(version, text);
  }
  return text;
}

/** A file to validate: its path (for messages), its text and the revision its header declares. */
export interface XsdInput {
  file: string;
  text: string;
  version: OscVersion;
}

/**
 * Validates files against their revision's XSD and returns the problems of each (empty = valid), in
 * input order. One libxml2 run per revision for all uncached files of it.
 */
export async function validateXsd(inputs: XsdInput[]): Promise<XsdProblem[][]> {
  const keys = inputs.map((i) => `${i.version}:${sha256(i.text)}`);
  const todo = new Map<OscVersion, number[]>();
  inputs.forEach((inp, idx) => {
    if (cache.has(keys[idx] ?? '')) return;
    const list = todo.get(inp.version) ?? [];
    if (!list.some((j) => keys[j] === keys[idx])) list.push(idx);
    todo.set(inp.version, list);
  });
  for (const [version, idxs] of todo) {
    const schema = schemaFor(version);
    const names = idxs.map((_, k) => `in${k}.xosc`);
    const result = await validateXML({
      xml: idxs.map((idx, k) => ({ fileName: names[k] ?? '', contents: inputs[idx]?.text ?? '' })),
      schema: { fileName: XSD_FILES[version], contents: schema },
    });
    const perFile = new Map<string, XsdProblem[]>(names.map((n) => [n, []]));
    for (const e of result.errors) {
      if (e.loc === null) continue; // context lines and "fails to validate" summaries
      const list = perFile.get(e.loc.fileName);
      const k = names.indexOf(e.loc.fileName);
      const file = inputs[idxs[k] ?? -1]?.file ?? e.loc.fileName;
      list?.push({
        file,
        line: e.loc.lineNumber,
        message: e.message.replace(/^Schemas validity error : /, ''),
      });
    }
    if (!result.valid && [...perFile.values()].every((l) => l.length === 0)) {
      throw new DrivegateError(
        'INTERNAL',
        `xmllint reported failure without a located error: ${result.rawOutput}`,
      );
    }
    idxs.forEach((idx, k) => cache.set(keys[idx] ?? '', perFile.get(names[k] ?? '') ?? []));
  }
  return inputs.map((inp, idx) => (cache.get(keys[idx] ?? '') ?? []).map((p) => ({ ...p, file: inp.file })));
}

/** Throws BAD_INPUT listing every XSD problem of a file (first problem's line as the error line). */
export function throwXsdProblems(file: string, version: OscVersion, problems: XsdProblem[]): void {
  if (problems.length === 0) return;
  const first = problems[0];
  const list = problems.map((p) => `  line ${p.line ?? '?'}: ${p.message}`).join('\n');
  throw badInput(
    `does not validate against the OpenSCENARIO ${version} XSD (${XSD_FILES[version]}):\n${list}`,
    {
      file,
      ...(first?.line != null ? { line: first.line } : {}),
      details: { problems },
    },
  );
}
