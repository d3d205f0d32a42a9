/**
 * Benchmark: loading the example scenario sweeps (examples/scenarios, 214 variants).
 *
 * Prints three figures for `loadVariants`, then the per-variant ratio of cached loading against the naive
 * alternative it replaces:
 *   - cold: the first call in the process (parsing, XSD validation with libxml2/wasm, road);
 *   - warm: later calls, where validation and parsing are cached and each variant only resolves its
 *     parameters and builds its Scenario;
 *   - naive: what it costs per variant to XSD-validate and parse the scenario file again before building
 *     it (measured on a sample of variants and extrapolated).
 *
 *   node --import tsx bench/sim-scenarios.ts        (or node dist/bench/sim-scenarios.js after tsc)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateXML } from 'xmllint-wasm';
import { packageRoot } from '../src/core/paths.js';
import { loadScenario, loadVariants, schemaPath } from '../src/sim/openscenario/index.js';
import { parseXml } from '../src/sim/openscenario/xml.js';

const dir = join(packageRoot(), 'examples', 'scenarios');

let t0 = performance.now();
const variants = await loadVariants(dir);
const cold = performance.now() - t0;

const rounds = 5;
t0 = performance.now();
for (let i = 0; i < rounds; i++) await loadVariants(dir);
const warm = (performance.now() - t0) / rounds;

const sample = variants.filter((_, i) => i % 11 === 0);
const schemas = new Map<string, string>();
t0 = performance.now();
for (const v of sample) {
  const text = readFileSync(join(process.cwd(), v.file), 'utf8');
  const version = v.scenario.version;
  const xsd = schemaPath(version);
  const schema = schemas.get(xsd) ?? readFileSync(xsd, 'utf8');
  schemas.set(xsd, schema);
  const r = await validateXML({
    xml: { fileName: 'a.xosc', contents: text },
    schema: { fileName: 'x.xsd', contents: schema },
  });
  if (!r.valid) throw new Error(`${v.file} did not validate`);
  parseXml(text, v.file);
  await loadScenario(v.file, v.parameters);
}
const naivePerVariant = (performance.now() - t0) / sample.length;
const warmPerVariant = warm / variants.length;

console.log(`scenario variants: ${variants.length} (examples/scenarios)`);
console.log(`loadVariants cold (parse + XSD + road + build): ${cold.toFixed(0)} ms`);
console.log(
  `loadVariants warm (cached; build per variant):  ${warm.toFixed(1)} ms = ${warmPerVariant.toFixed(2)} ms/variant`,
);
console.log(
  `naive per variant (XSD + parse + build):        ${naivePerVariant.toFixed(1)} ms/variant (sample of ${sample.length})`,
);
console.log(`ratio naive / cached per variant: ${(naivePerVariant / warmPerVariant).toFixed(0)}x`);
console.log(
  `ratio naive whole sweep / cold whole sweep: ${((naivePerVariant * variants.length) / cold).toFixed(1)}x`,
);
