import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig, parseConfigText } from './config.js';
import { DrivegateError } from './errors.js';
import { openWorkspace } from './workspace.js';

function tempHome(): string {
  return mkdtempSync(join(tmpdir(), 'dg-config-'));
}

function badInputOf(fn: () => unknown): DrivegateError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DrivegateError, `expected a DrivegateError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an error');
}

test('defaults put everything inside the workspace folder', () => {
  const home = tempHome();
  try {
    const cfg = loadConfig({ home, env: {} });
    assert.equal(cfg.file, undefined);
    assert.equal(cfg.store.uri, pathToFileURL(join(home, 'store')).href);
    assert.equal(cfg.registry.db, join(home, 'registry.db'));
    assert.equal(cfg.runs.dir, join(home, 'runs'));
    assert.equal(cfg.log.level, 'info');
    assert.ok(cfg.workers >= 1);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('reads drivegate.yaml from the workspace and resolves its paths against the file folder', () => {
  const home = tempHome();
  try {
    writeFileSync(
      join(home, 'drivegate.yaml'),
      'version: 1\nstore:\n  uri: ./blobs\nregistry:\n  db: reg.sqlite\nruns:\n  dir: /tmp/dg-runs\nworkers: 3\nlog:\n  level: debug\n',
    );
    const cfg = loadConfig({ home, env: {} });
    assert.equal(cfg.file, join(home, 'drivegate.yaml'));
    assert.equal(cfg.store.uri, pathToFileURL(join(home, 'blobs')).href);
    assert.equal(cfg.registry.db, join(home, 'reg.sqlite'));
    assert.equal(cfg.runs.dir, '/tmp/dg-runs');
    assert.equal(cfg.workers, 3);
    assert.equal(cfg.log.level, 'debug');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('environment variables override the file', () => {
  const home = tempHome();
  try {
    writeFileSync(join(home, 'drivegate.yaml'), 'workers: 3\nstore:\n  uri: file:///srv/a\n');
    const cfg = loadConfig({
      home,
      cwd: '/work',
      env: {
        DRIVEGATE_STORE: 'rel/store',
        DRIVEGATE_DB: 'postgres://db.example/drivegate',
        DRIVEGATE_WORKERS: '7',
        DRIVEGATE_LOG_LEVEL: 'warn',
        DRIVEGATE_RUNS_DIR: 'runs2',
      },
    });
    assert.equal(cfg.store.uri, 'file:///work/rel/store');
    assert.equal(cfg.registry.db, 'postgres://db.example/drivegate');
    assert.equal(cfg.workers, 7);
    assert.equal(cfg.log.level, 'warn');
    assert.equal(cfg.runs.dir, '/work/runs2');
    const s3 = loadConfig({ home, env: { DRIVEGATE_STORE: 's3://bucket/prefix' } });
    assert.equal(s3.store.uri, 's3://bucket/prefix');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('--config / DRIVEGATE_CONFIG name the file; a named file that is missing is NOT_FOUND', () => {
  const home = tempHome();
  try {
    const other = join(home, 'other.yaml');
    writeFileSync(other, 'workers: 5\n');
    assert.equal(loadConfig({ home, env: { DRIVEGATE_CONFIG: other } }).workers, 5);
    assert.equal(loadConfig({ home, configPath: other, env: {} }).file, other);
    const e = badInputOf(() => loadConfig({ home, configPath: join(home, 'nope.yaml'), env: {} }));
    assert.equal(e.code, 'NOT_FOUND');
    assert.equal(e.location.file, join(home, 'nope.yaml'));
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('rejects an unknown top-level key, naming file, key and line', () => {
  const e = badInputOf(() => parseConfigText('workers: 2\nstorage:\n  uri: x\n', 'dg.yaml'));
  assert.equal(e.code, 'BAD_INPUT');
  assert.deepEqual(e.location, { file: 'dg.yaml', field: 'storage', line: 2 });
  assert.match(e.message, /unknown config key/);
  assert.match(e.expected ?? '', /store/);
});

test('rejects an unknown nested key with its dotted path and line', () => {
  const e = badInputOf(() => parseConfigText('store:\n  uri: file:///x\n  url: file:///y\n', 'dg.yaml'));
  assert.deepEqual(e.location, { file: 'dg.yaml', field: 'store.url', line: 3 });
  assert.equal(e.expected, 'one of uri');
});

test('rejects a value of the wrong type, naming key path, line, expected and found', () => {
  const e = badInputOf(() => parseConfigText('log:\n  level: info\nstore:\n  uri: 42\n', 'dg.yaml'));
  assert.deepEqual(e.location, { file: 'dg.yaml', field: 'store.uri', line: 4 });
  assert.equal(e.expected, 'a string');
  assert.equal(e.found, '42');
  assert.equal(e.message, "dg.yaml:4, field 'store.uri': invalid config value; expected a string, found 42");
});

test('rejects a log level outside the enum and a worker count below 1', () => {
  const level = badInputOf(() => parseConfigText('log:\n  level: loud\n', 'dg.yaml'));
  assert.equal(level.location.field, 'log.level');
  assert.equal(level.location.line, 2);
  assert.match(level.expected ?? '', /"debug", "info", "warn", "error"/);
  assert.equal(level.found, '"loud"');
  const workers = badInputOf(() => parseConfigText('workers: 0\n', 'dg.yaml'));
  assert.equal(workers.location.field, 'workers');
  assert.equal(workers.expected, 'a number >= 1');
  const frac = badInputOf(() => parseConfigText('workers: 1.5\n', 'dg.yaml'));
  assert.equal(frac.location.field, 'workers');
});

test('rejects a section that lacks its required key, pointing at the section', () => {
  const e = badInputOf(() => parseConfigText('workers: 2\nruns: {}\n', 'dg.yaml'));
  assert.deepEqual(e.location, { file: 'dg.yaml', field: 'runs.dir', line: 2 });
  assert.equal(e.found, 'nothing');
});

test('rejects a section that is not a mapping', () => {
  const e = badInputOf(() => parseConfigText('store: file:///x\n', 'dg.yaml'));
  assert.equal(e.location.field, 'store');
  assert.equal(e.location.line, 1);
  assert.equal(e.expected, 'a mapping');
});

test('rejects broken YAML and a document that is not a mapping, with the line', () => {
  const broken = badInputOf(() => parseConfigText('store:\n  uri: "unterminated\n', 'dg.yaml'));
  assert.equal(broken.code, 'BAD_INPUT');
  assert.equal(broken.location.file, 'dg.yaml');
  assert.equal(typeof broken.location.line, 'number');
  assert.match(broken.message, /invalid YAML/);
  const dup = badInputOf(() => parseConfigText('workers: 1\nworkers: 2\n', 'dg.yaml'));
  assert.equal(dup.location.line, 2);
  const list = badInputOf(() => parseConfigText('- a\n- b\n', 'dg.yaml'));
  assert.equal(list.found, 'a list');
});

test('rejects bad environment overrides, naming the variable and the key', () => {
  const home = tempHome();
  try {
    const w = badInputOf(() => loadConfig({ home, env: { DRIVEGATE_WORKERS: 'many' } }));
    assert.equal(w.code, 'BAD_INPUT');
    assert.deepEqual(w.location, { file: 'environment variable DRIVEGATE_WORKERS', field: 'workers' });
    assert.equal(w.found, '"many"');
    const l = badInputOf(() => loadConfig({ home, env: { DRIVEGATE_LOG_LEVEL: 'verbose' } }));
    assert.equal(l.location.field, 'log.level');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('an invalid file in the workspace fails with its full path', () => {
  const home = tempHome();
  try {
    writeFileSync(join(home, 'drivegate.yaml'), 'runs:\n  folder: x\n');
    const e = badInputOf(() => openWorkspace({ home, env: {} }));
    assert.equal(e.location.file, join(home, 'drivegate.yaml'));
    assert.equal(e.location.field, 'runs.folder');
    assert.equal(e.location.line, 2);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('opening a workspace uses DRIVEGATE_HOME and places runs and cache inside it', () => {
  const home = tempHome();
  try {
    const ws = openWorkspace({ env: { DRIVEGATE_HOME: home } });
    assert.equal(ws.home, home);
    assert.equal(ws.runsDir, join(home, 'runs'));
    assert.equal(ws.cacheDir, join(home, 'cache'));
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
