#!/usr/bin/python3
"""Writes a reference detector's model card (models/detector-vX.Y.Z.md) from the files drivegate made:
its training record (<name>.training.json), its evaluation on golden_test (eval_report.json from
`drivegate eval run`), the production model's report for deltas, and the gate verdict when given.

  /usr/bin/python3 tools/model_card.py --name detector-v1.1.0 --role candidate \
      --report R.json [--baseline B.json] [--verdict V.json] --weaknesses 'text' ...

Numbers are copied from the reports, never recomputed here.
"""
import argparse
import json
import os

GOLDEN = ('drivegate world generate --out data/reference --scenes 1200 --frames-per-scene 8 --seed 7 '
          '--min-gap-seconds 600 --geo-separation')


def f3(x):
    return '—' if x is None else f'{x:.3f}'


def delta(x, b):
    if x is None or b is None:
        return '—'
    d = x - b
    return f'{d:+.3f}'


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--name', required=True)
    p.add_argument('--role', required=True)
    p.add_argument('--summary', required=True)
    p.add_argument('--report', required=True)
    p.add_argument('--baseline')
    p.add_argument('--verdict')
    p.add_argument('--weakness', action='append', default=[])
    p.add_argument('--models', default='models')
    a = p.parse_args()
    tr = json.load(open(os.path.join(a.models, a.name + '.training.json')))
    rep = json.load(open(a.report))
    base = json.load(open(a.baseline)) if a.baseline else None
    verdict = json.load(open(a.verdict)) if a.verdict else None
    m = tr['model']
    args = tr['args']
    env = tr['environment']
    t = tr['training']
    o = rep['overall']
    bo = base['overall'] if base else {}
    bslices = {s['name']: s for s in base['slices']} if base else {}
    lines = []
    w = lines.append
    w(f"# {a.name}: {a.role}")
    w('')
    w(a.summary)
    w('')
    w('## Files')
    w('')
    w(f"- `models/{m['onnx']}`: ONNX opset {m['opset']}, {m['onnx_bytes']:,} bytes, sha256 `{m['onnx_sha256']}`")
    w(f"- `models/{a.name}.inference_config.json`: input `images` [N,3,96,192] float32 NCHW (dynamic N), RGB,"
      " bilinear resize, (x/255 - 0.5)/0.25; classes car=1, truck=2, pedestrian=3, cyclist=4; CenterNet decoder"
      " (stride 4, 3x3 peaks, top 100), score threshold 0.05, per-class NMS at IoU 0.6")
    w(f"- `models/{a.name}.training.json`: the training record (arguments, seed, versions, loss and validation history, data digests)")
    w(f"- `models/{a.name}.eval_report.json`: the evaluation below, as `drivegate eval run` wrote it")
    w('')
    w('## Model')
    w('')
    w(f"{m['architecture']}: a small CenterNet-style one-stage detector with {m['parameters']:,} parameters; "
      'outputs a sigmoid heatmap per class, box size and centre offset at stride 4.')
    w('')
    w('## Training data and conditions')
    w('')
    w(f'- Data: the reference world `{GOLDEN}` (dataset.json sha256 '
      '`42b46ba72f7da3125474417467137ea134abc1ad4236cdc96d5affda1b0e42f2`), its train split (840 scenes, 6,720 images);'
      ' model selection on nothing (the last epoch is exported); validation split for monitoring.')
    sel = args.get('filter') or 'every condition'
    w(f"- Selection: `--filter {args['filter']!r}`" if args.get('filter') else f'- Selection: {sel}')
    if args.get('drop_class'):
        w(f"- Deliberate weakening: `--drop-class {args['drop_class']}` and `--class-weights {args['class_weights']}`")
    w(f"- Seed {tr['seed']}; {t['epochs']} epochs, batch {t['batch_size']}, {t['optimizer']} lr {t['lr']} "
      f"weight decay {t['weight_decay']}, {t['schedule']}; augmentation: {t['augmentation']}; loss: {t['loss']}")
    w(f"- Trained on {env['gpu']} with torch {env['torch']} (CUDA {env['cuda']}, Python {env['python']}) in "
      f"{t['seconds']:.0f} s; deterministic algorithms on ({tr['deterministic']['note']}).")
    w('- Reproduce: `bash tools/train_reference_detectors.sh data/reference models cuda` (EPOCHS=56 gives these files).')
    w('')
    w('## Metrics on golden_test')
    w('')
    w('The test split of the reference world above (180 scenes, 1,440 images, 5,197 objects), evaluated by drivegate:')
    w('')
    w('```sh')
    extra = ' --baseline models/detector-v1.0.0.eval_report.json --gates examples/gates.yaml' if base else ''
    w(f'drivegate eval run --model models/{a.name}.onnx --manifest data/reference/golden_test.manifest \\')
    w(f'  --slices data/reference/slices.yaml --out eval/{a.name}{extra}')
    w('```')
    w('')
    w('| metric | value |' + (' vs v1.0.0 |' if base else ''))
    w('| --- | ---: |' + (' ---: |' if base else ''))
    for key, label in [('map', 'mAP@[.5:.95]'), ('map50', 'AP50'), ('map75', 'AP75'), ('map_small', 'AP small'),
                       ('map_medium', 'AP medium'), ('map_large', 'AP large'), ('mar100', 'AR@100')]:
        w(f'| {label} | {f3(o.get(key))} |' + (f' {delta(o.get(key), bo.get(key))} |' if base else ''))
    cal = rep['calibration']
    bcal = base['calibration'] if base else {}
    w(f"| ECE (15 equal-width bins, detection confidence vs matched at IoU 0.5) | {cal['ece']:.4f} |"
      + (f" {cal['ece'] - bcal['ece']:+.4f} |" if base else ''))
    lat = rep['latency']
    w(f"| latency p50 / p95 per image (CPU, batch 1, {lat['workers']} workers x {lat['intra_op_threads']} thread) | "
      f"{lat['p50_ms']:.1f} / {lat['p95_ms']:.1f} ms |" + (' |' if base else ''))
    w('')
    w('Per slice (mAP@[.5:.95]; `image` slices select images, `category` slices restrict to a class, `recall-oriented`'
      ' slices ignore unmatched detections, see docs/evaluation.md):')
    w('')
    w('| slice | scoring | critical | objects | mAP | AP50 |' + (' Δ mAP vs v1.0.0 |' if base else ''))
    w('| --- | --- | :-: | ---: | ---: | ---: |' + (' ---: |' if base else ''))
    for s in rep['slices']:
        mm = s['metrics']
        b = bslices.get(s['name'], {}).get('metrics', {}) if base else {}
        crit = 'yes' if s.get('critical') else ''
        n = s.get('num_gt', '')
        w(f"| `{s['name']}` | {s.get('scoring', '')} | {crit} | {n} | {f3(mm.get('map'))} | {f3(mm.get('map50'))} |"
          + (f" {delta(mm.get('map'), b.get('map'))} |" if base else ''))
    w('')
    if verdict:
        w(f"## Release gate against production (examples/gates.yaml): {verdict['status'].upper()}")
        w('')
        for r in verdict['rules']:
            w(f"- `{r['id']}`: **{r['status']}**: {r['rationale']}")
        w('')
    w('## Known weaknesses')
    w('')
    for x in a.weakness:
        w(f'- {x}')
    w('- AP large rests on a single object in golden_test (objects over 96x96 px are rare at 192x96): read it as unmeasured.')
    w('- Trained and tested only on the synthetic reference world (192x96 renders); it says nothing about real cameras.')
    w('')
    out = os.path.join(a.models, a.name + '.md')
    with open(out, 'w') as fh:
        fh.write('\n'.join(lines))
    print('wrote', out)


if __name__ == '__main__':
    main()
