import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliIn } from '../cli/cli-testing.js';
import { packageRoot } from '../core/paths.js';
import { snapshotFiles, writeFastRecipe } from './testing.js';

const python = '/usr/bin/python3';
const hasTorch = ((): boolean => {
  try {
    execFileSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Makes a tiny TorchScript detector (3 heads at stride 4) and a reference-architecture checkpoint. */
function makeModels(dir: string): { ts: string; pth: string } {
  const ts = join(dir, 'tiny.ts');
  const pth = join(dir, 'ckpt.pth');
  const script = `
import sys, torch, torch.nn as nn, torch.nn.functional as F
sys.path.insert(0, ${JSON.stringify(join(packageRoot(), 'tools'))})
class M(nn.Module):
    def __init__(s):
        super().__init__(); s.c = nn.Conv2d(3, 8, 3, 4, 1); s.h = nn.Conv2d(8, 4, 1); s.w = nn.Conv2d(8, 2, 1); s.o = nn.Conv2d(8, 2, 1)
    def forward(s, x):
        f = F.relu(s.c(x)); return torch.sigmoid(s.h(f)), F.relu(s.w(f)) * 4.0, s.o(f)
torch.manual_seed(0)
torch.jit.trace(M().eval(), torch.zeros(1, 3, 96, 192)).save(sys.argv[1])
import train_detector as td
torch.save({'state_dict': td.CenterNetSmall(4, 8).state_dict(), 'width': 8}, sys.argv[2])
`;
  execFileSync(python, ['-c', script, ts, pth], { stdio: ['ignore', 'ignore', 'inherit'] });
  const cfg = join(packageRoot(), 'models', 'detector-v1.0.0.inference_config.json');
  copyFileSync(cfg, join(dir, 'tiny.inference_config.json'));
  copyFileSync(cfg, join(dir, 'ckpt.inference_config.json'));
  return { ts, pth };
}

interface Report {
  torch_export: {
    status: string;
    source: { kind: string; sha256: string };
    pins: { python: string; torch: string };
    equivalence: { reference: string; ok: boolean; max_abs: number; samples: number };
  };
  staging: { locks: { python?: { torch: string } } };
}

test(
  'a TorchScript file and a reference-detector checkpoint are exported through tools/export_onnx.py, checked against PyTorch and packed with python/torch pins',
  { skip: hasTorch ? false : `${python} has no torch` },
  () => {
    const home = mkdtempSync(join(tmpdir(), 'dg-pack-torch-'));
    try {
      const { ts, pth } = makeModels(home);
      const recipe = writeFastRecipe(home, (t) =>
        t.replace(/targets:\n(( {2}- .*\n)+)/, 'targets:\n  - cpu-ort-fp32\n'),
      );
      for (const [model, kind] of [
        [ts, 'torchscript'],
        [pth, 'checkpoint'],
      ] as const) {
        const out = join(home, `pack-${kind}`);
        const version = kind === 'torchscript' ? '0.1.0' : '0.2.0';
        const r = runCliIn(import.meta.url, home, [
          'package',
          '--version',
          version,
          '--model',
          model,
          '--recipe',
          recipe,
          '--out',
          out,
        ]);
        assert.equal(r.code, 0, r.stderr.slice(-2000));
        const rep = JSON.parse(readFileSync(join(out, 'export_report.json'), 'utf8')) as Report;
        assert.equal(rep.torch_export.status, 'exported');
        assert.equal(rep.torch_export.source.kind, kind);
        assert.match(rep.torch_export.pins.torch, /^\d+\.\d+/);
        assert.match(rep.torch_export.pins.python, /^3\.\d+/);
        assert.equal(rep.staging.locks.python?.torch, rep.torch_export.pins.torch);
        assert.equal(rep.torch_export.equivalence.reference, 'pytorch');
        assert.equal(rep.torch_export.equivalence.ok, true);
        assert.ok(rep.torch_export.equivalence.max_abs < 1e-4, String(rep.torch_export.equivalence.max_abs));
        assert.ok(existsSync(join(out, 'model_repository', 'detector', '1', 'model.onnx')));
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  },
);

test('PyTorch input without torch is a clear UNAVAILABLE error (exit 3) that seals nothing', () => {
  const home = mkdtempSync(join(tmpdir(), 'dg-pack-notorch-'));
  try {
    const model = join(home, 'm.pt');
    copyFileSync(join(packageRoot(), 'models', 'detector-v1.0.0.onnx'), model);
    copyFileSync(
      join(packageRoot(), 'models', 'detector-v1.0.0.inference_config.json'),
      join(home, 'm.inference_config.json'),
    );
    const recipe = writeFastRecipe(home);
    const before = snapshotFiles(join(home, 'store'));
    // A python without torch: a script that fails the way `import torch` does.
    const fake = join(home, 'python-without-torch');
    execFileSync('sh', [
      '-c',
      `printf '#!/bin/sh\\necho "No module named torch" >&2\\nexit 3\\n' > ${fake} && chmod +x ${fake}`,
    ]);
    const out = join(home, 'out');
    const r = runCliIn(
      import.meta.url,
      home,
      ['package', '--model', model, '--recipe', recipe, '--out', out],
      { DRIVEGATE_TORCH_PYTHON: fake },
    );
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /PyTorch is not installed/);
    assert.match(r.stderr, /m\.pt/);
    assert.equal(existsSync(out), false);
    assert.equal(snapshotFiles(join(home, 'store')), before);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
