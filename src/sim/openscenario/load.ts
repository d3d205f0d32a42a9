/**
 * Loading OpenSCENARIO files: read, parse with line numbers, check the declared revision, validate
 * against its XSD, check the subset, load the road; expand ParameterValueDistribution files into
 * variants. Parsed and validated files are cached per process (keyed by path and content digest), so
 * each variant only re-resolves parameters.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { DrivegateError, badInput } from '../../core/errors.js';
import { sha256 } from '../../core/digest.js';
import type { ParamValue, Scenario, ScenarioVariant, SimRoad } from '../types.js';
import { applyFilter, type VariantFilter } from './filter.js';
import { coerce, readDeclarations } from './params.js';
import type { RoadOrigin } from './road.js';
import { loadRoadWithOrigin } from './road.js';
import { buildScenario } from './scenario.js';
import { findUnsupported } from './subset.js';
import type { OscVersion, XsdInput } from './xsd.js';
import { throwXsdProblems, validateXsd } from './xsd.js';
import type { XNode } from './xml.js';
import { child, childrenNamed, parseXml } from './xml.js';

/** A read, parsed, header-checked (not yet validated) OpenSCENARIO file. */
interface OscFile {
  path: string;
  /** Path as given / relative to the working directory, for messages. */
  label: string;
  text: string;
  digest: string;
  root: XNode;
  version: OscVersion;
  kind: 'scenario' | 'distribution' | 'catalog';
}

/** A file that passed XSD, subset and road checks. */
interface CheckedScenario {
  file: OscFile;
  road: SimRoad;
  origin: RoadOrigin;
  /** Global parameter declarations: name -> type. */
  declared: Map<string, string>;
}

const checked = new Map<string, Promise<CheckedScenario>>();
const validated = new Map<string, Promise<void>>();

function label(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') ? rel : path;
}

/** Reads a file and its FileHeader revision. */
function readOsc(pathIn: string): OscFile {
  const path = resolve(pathIn);
  const lab = label(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DrivegateError(
      code === 'ENOENT' ? 'NOT_FOUND' : 'BAD_INPUT',
      `cannot read scenario file: ${(err as Error).message}`,
      { file: lab },
    );
  }
  const root = parseXml(text, lab);
  if (root.name !== 'OpenSCENARIO') {
    throw badInput('not an OpenSCENARIO file', {
      file: lab,
      line: root.line,
      expected: '<OpenSCENARIO>',
      found: `<${root.name}>`,
    });
  }
  const header = child(root, 'FileHeader');
  if (header === undefined) throw badInput('missing <FileHeader>', { file: lab, line: root.line });
  const rev = `${header.attrs['revMajor'] ?? '?'}.${header.attrs['revMinor'] ?? '?'}`;
  if (rev !== '1.0' && rev !== '1.1' && rev !== '1.3') {
    throw badInput('unsupported OpenSCENARIO revision in FileHeader', {
      file: lab,
      line: header.attrLines['revMinor'] ?? header.line,
      expected: 'revMajor="1" with revMinor 0, 1 or 3',
      found: rev,
    });
  }
  const kind =
    child(root, 'ParameterValueDistribution') !== undefined
      ? 'distribution'
      : child(root, 'Catalog') !== undefined
        ? 'catalog'
        : 'scenario';
  return { path, label: lab, text, digest: sha256(text), root, version: rev, kind };
}

/** XSD-validates files (one batch per revision), caching per path + digest; throws on the first invalid one. */
async function ensureValid(files: OscFile[]): Promise<void> {
  const todo = files.filter((f) => !validated.has(`${f.path}:${f.digest}`));
  if (todo.length > 0) {
    const inputs: XsdInput[] = todo.map((f) => ({ file: f.label, text: f.text, version: f.version }));
    const batch = validateXsd(inputs);
    todo.forEach((f, i) => {
      const check = batch.then((all) => throwXsdProblems(f.label, f.version, all[i] ?? []));
      // The loop below awaits the files in order and reports the first failure; the other files'
      // promises fail with it (e.g. a missing schema) and must not surface as unhandled rejections.
      check.catch(() => undefined);
      validated.set(`${f.path}:${f.digest}`, check);
    });
  }
  for (const f of files) await validated.get(`${f.path}:${f.digest}`);
}

/** Refuses elements outside the subset, listing each with its line. */
function ensureSubset(f: OscFile): void {
  const bad = findUnsupported(f.root);
  if (bad.length === 0) return;
  const list = bad
    .map(
      (u) => `  line ${u.line}: <${u.element}>${u.inner !== null ? ` (with <${u.inner}>)` : ''} at ${u.path}`,
    )
    .join('\n');
  throw badInput(
    `uses OpenSCENARIO elements outside drivegate's supported subset (see docs/sim-scenarios.md):\n${list}`,
    {
      file: f.label,
      line: bad[0]?.line ?? 1,
      details: { unsupported: bad },
    },
  );
}

/** Reads, validates and checks one scenario file (cached). */
function checkScenario(path: string): Promise<CheckedScenario> {
  const abs = resolve(path);
  const f = readOsc(abs);
  const key = `${abs}:${f.digest}`;
  let p = checked.get(key);
  if (p === undefined) {
    p = (async () => {
      await ensureValid([f]);
      if (f.kind !== 'scenario') {
        throw badInput(
          `expected a scenario definition, found a ${f.kind === 'distribution' ? 'ParameterValueDistribution' : 'catalog'}`,
          { file: f.label, line: f.root.line },
        );
      }
      ensureSubset(f);
      const logic = child(child(f.root, 'RoadNetwork') ?? f.root, 'LogicFile');
      if (logic === undefined) {
        throw badInput('RoadNetwork has no LogicFile (drivegate needs the OpenDRIVE road)', {
          file: f.label,
          line: (child(f.root, 'RoadNetwork') ?? f.root).line,
        });
      }
      const rel = logic.attrs['filepath'] ?? '';
      if (rel.startsWith('$'))
        throw badInput('a parameterized LogicFile path is not supported', {
          file: f.label,
          line: logic.line,
          field: 'LogicFile@filepath',
        });
      const roadPath = resolve(dirname(abs), rel);
      const loaded = loadRoadWithOrigin(roadPath, label(roadPath));
      const road = { ...loaded.road, file: rel };
      const origin = loaded.origin;
      const declared = new Map(
        readDeclarations(child(f.root, 'ParameterDeclarations')).map((d) => [d.name, d.type]),
      );
      return { file: f, road, origin, declared };
    })();
    checked.set(key, p);
    p.catch(() => checked.delete(key));
  }
  return p;
}

/**
 * Loads one OpenSCENARIO scenario file into a Scenario, with `overrides` replacing the declared
 * defaults of its global parameters. XSD, subset and road checks run once per file per process.
 */
export async function loadScenario(
  file: string,
  overrides: Record<string, ParamValue> = {},
): Promise<Scenario> {
  const c = await checkScenario(file);
  return build(c, new Map(Object.entries(overrides)));
}

function build(c: CheckedScenario, overrides: ReadonlyMap<string, ParamValue>): Scenario {
  return buildScenario({
    file: c.file.label,
    root: c.file.root,
    version: c.file.version,
    road: c.road,
    origin: c.origin,
    overrides,
  });
}

/** One axis of a sweep: a list of assignments (each sets one or more parameters). */
type Axis = Array<Array<[string, string]>>;

/** A parsed ParameterValueDistribution: the scenario it sweeps and its axes (cartesian product). */
interface Distribution {
  file: OscFile;
  scenarioPath: string;
  axes: Axis[];
}

const DISTRIBUTION_SUBSET: Readonly<Record<string, ReadonlySet<string>>> = {
  OpenSCENARIO: new Set(['FileHeader', 'ParameterValueDistribution']),
  FileHeader: new Set(['License', 'Properties']),
  Properties: new Set(['Property']),
  ParameterValueDistribution: new Set(['ScenarioFile', 'Deterministic']),
  Deterministic: new Set([
    'DeterministicSingleParameterDistribution',
    'DeterministicMultiParameterDistribution',
  ]),
  DeterministicSingleParameterDistribution: new Set(['DistributionSet', 'DistributionRange']),
  DistributionSet: new Set(['Element']),
  DistributionRange: new Set(['Range']),
  DeterministicMultiParameterDistribution: new Set(['ValueSetDistribution']),
  ValueSetDistribution: new Set(['ParameterValueSet']),
  ParameterValueSet: new Set(['ParameterAssignment']),
};

function readDistribution(f: OscFile): Distribution {
  const bad: Array<{ element: string; line: number }> = [];
  const walk = (n: XNode): void => {
    for (const c of n.children) {
      if (DISTRIBUTION_SUBSET[n.name]?.has(c.name) !== true) bad.push({ element: c.name, line: c.line });
      else walk(c);
    }
  };
  walk(f.root);
  if (bad.length > 0) {
    throw badInput(
      `uses distribution elements outside the supported subset (Deterministic sets, ranges and value sets):\n${bad.map((b) => `  line ${b.line}: <${b.element}>`).join('\n')}`,
      {
        file: f.label,
        line: bad[0]?.line ?? 1,
        details: { unsupported: bad },
      },
    );
  }
  const pvd = child(f.root, 'ParameterValueDistribution') ?? f.root;
  const sf = child(pvd, 'ScenarioFile') ?? pvd;
  const scenarioPath = resolve(dirname(f.path), sf.attrs['filepath'] ?? '');
  const axes: Axis[] = [];
  for (const d of (child(pvd, 'Deterministic') ?? pvd).children) {
    if (d.name === 'DeterministicSingleParameterDistribution') {
      const name = d.attrs['parameterName'] ?? '';
      const set = child(d, 'DistributionSet');
      if (set !== undefined) {
        axes.push(childrenNamed(set, 'Element').map((e) => [[name, e.attrs['value'] ?? '']]));
        continue;
      }
      const dr = child(d, 'DistributionRange') ?? d;
      const range = child(dr, 'Range') ?? dr;
      const step = Number(dr.attrs['stepWidth']);
      const lo = Number(range.attrs['lowerLimit']);
      const hi = Number(range.attrs['upperLimit']);
      if (![step, lo, hi].every(Number.isFinite) || step <= 0 || hi < lo) {
        throw badInput('bad DistributionRange', {
          file: f.label,
          line: dr.line,
          expected: 'numeric lowerLimit <= upperLimit and stepWidth > 0',
          found: `${lo}..${hi} step ${step}`,
        });
      }
      const n = Math.floor((hi - lo) / step + 1e-9) + 1;
      if (n > 100000)
        throw badInput('DistributionRange has too many steps', {
          file: f.label,
          line: dr.line,
          expected: '<= 100000',
          found: String(n),
        });
      axes.push(
        Array.from({ length: n }, (_, k) => [[name, String(Math.round((lo + k * step) * 1e9) / 1e9)]]),
      );
    } else {
      const vsd = child(d, 'ValueSetDistribution') ?? d;
      axes.push(
        childrenNamed(vsd, 'ParameterValueSet').map((s) =>
          childrenNamed(s, 'ParameterAssignment').map(
            (a) => [a.attrs['parameterRef'] ?? '', a.attrs['value'] ?? ''] as [string, string],
          ),
        ),
      );
    }
  }
  return { file: f, scenarioPath, axes };
}

function checkAxes(d: Distribution): void {
  const seen = new Set<string>();
  for (const axis of d.axes) {
    const names = new Set(axis.flatMap((choice) => choice.map(([n]) => n)));
    for (const n of names) {
      if (seen.has(n))
        throw badInput(`parameter '${n}' is swept by more than one distribution`, {
          file: d.file.label,
          field: n,
        });
      seen.add(n);
    }
  }
}

function cartesian(axes: Axis[]): Array<Array<[string, string]>> {
  let out: Array<Array<[string, string]>> = [[]];
  for (const axis of axes) out = out.flatMap((prefix) => axis.map((choice) => [...prefix, ...choice]));
  return out;
}

function variantId(family: string, params: Record<string, ParamValue>): string {
  const keys = Object.keys(params).sort();
  return keys.length === 0
    ? `${family}/default`
    : `${family}/${keys.map((k) => `${k}=${String(params[k])}`).join(',')}`;
}

async function expandDistribution(d: Distribution): Promise<ScenarioVariant[]> {
  checkAxes(d);
  const c = await checkScenario(d.scenarioPath);
  const out: ScenarioVariant[] = [];
  for (const assignment of cartesian(d.axes)) {
    const params: Record<string, ParamValue> = {};
    for (const [name, value] of assignment) {
      const type = c.declared.get(name);
      if (type === undefined) {
        throw badInput(
          `the distribution sweeps parameter '${name}', which ${c.file.label} does not declare`,
          { file: d.file.label, expected: [...c.declared.keys()].join(', ') },
        );
      }
      params[name] = coerce(type, value, { file: d.file.label, line: d.file.root.line, field: name });
    }
    const scenario = build(c, new Map(Object.entries(params)));
    out.push({
      id: variantId(scenario.family, params),
      family: scenario.family,
      category: scenario.category,
      file: c.file.label,
      parameters: params,
      scenario,
    });
  }
  return out;
}

function listXosc(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listXosc(p));
    else if (e.isFile() && extname(e.name).toLowerCase() === '.xosc') out.push(p);
  }
  return out;
}

/** The files behind a path: a directory's .xosc files (recursively, sorted) or the file itself. */
function filesOf(pathOrDir: string): string[] {
  let st;
  try {
    st = statSync(pathOrDir);
  } catch {
    throw new DrivegateError('NOT_FOUND', `no such scenario file or folder: ${pathOrDir}`, {
      file: pathOrDir,
    });
  }
  if (!st.isDirectory()) return [resolve(pathOrDir)];
  const files = listXosc(resolve(pathOrDir));
  if (files.length === 0) throw badInput('no .xosc files in folder', { file: pathOrDir });
  return files;
}

/**
 * Loads the variants behind a path: a folder (every .xosc in it, recursively; a scenario file that a
 * distribution in the folder sweeps is not also loaded on its own), a ParameterValueDistribution file
 * (cartesian expansion of its deterministic distributions) or a scenario file (one variant with its
 * defaults). Variants are sorted by id; ids must be unique. Catalog files are skipped.
 */
export async function loadVariants(pathOrDir: string, filter?: VariantFilter): Promise<ScenarioVariant[]> {
  const files = filesOf(pathOrDir).map(readOsc);
  await ensureValid(files);
  const dists = files.filter((f) => f.kind === 'distribution').map(readDistribution);
  const swept = new Set(dists.map((d) => d.scenarioPath));
  const variants: ScenarioVariant[] = [];
  for (const d of dists) variants.push(...(await expandDistribution(d)));
  for (const f of files) {
    if (f.kind !== 'scenario' || swept.has(f.path)) continue;
    const c = await checkScenario(f.path);
    const scenario = build(c, new Map());
    variants.push({
      id: variantId(scenario.family, {}),
      family: scenario.family,
      category: scenario.category,
      file: c.file.label,
      parameters: {},
      scenario,
    });
  }
  variants.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (let i = 1; i < variants.length; i++) {
    const a = variants[i - 1];
    const b = variants[i];
    if (a !== undefined && b !== undefined && a.id === b.id) {
      throw new DrivegateError(
        'CONFLICT',
        `two variants have the id '${a.id}' (from ${a.file} and ${b.file}); give the scenarios distinct 'family' parameters`,
        { file: b.file },
      );
    }
  }
  return filter === undefined ? variants : applyFilter(variants, filter);
}

/** What `validateScenarioFile` found in a valid file. */
export interface ValidatedFile {
  file: string;
  kind: 'scenario' | 'distribution';
  version: OscVersion;
  /** Variants the file yields (1 for a scenario). */
  variants: number;
}

/**
 * Fully checks one file for `drivegate sim validate`: XSD of its declared revision, the subset, the
 * road, and building every variant (a distribution also checks the scenario it sweeps). Throws the
 * first problem as BAD_INPUT with file and line.
 */
export async function validateScenarioFile(file: string): Promise<ValidatedFile> {
  const f = readOsc(file);
  await ensureValid([f]);
  if (f.kind === 'distribution') {
    const variants = await expandDistribution(readDistribution(f));
    return { file: f.label, kind: 'distribution', version: f.version, variants: variants.length };
  }
  await loadScenario(file);
  return { file: f.label, kind: 'scenario', version: f.version, variants: 1 };
}

/** Validates a file or every .xosc in a folder (see validateScenarioFile). */
export async function validateScenarios(pathOrDir: string): Promise<ValidatedFile[]> {
  const files = filesOf(pathOrDir);
  await ensureValid(files.map(readOsc));
  const out: ValidatedFile[] = [];
  for (const f of files) out.push(await validateScenarioFile(f));
  return out;
}

/** The family a file stem gives (for messages and defaults). */
export function stemOf(file: string): string {
  return basename(file, extname(file));
}
