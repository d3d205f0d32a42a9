#!/usr/bin/python3
"""Exports a PyTorch model to ONNX for `drivegate package --model X.pt|.pth|.ts`.

Input: a TorchScript file (torch.jit.save), or a checkpoint of the reference detector architecture
(tools/train_detector.py CenterNetSmall): a state_dict, or a dict with 'state_dict' (and optionally
'num_classes', 'width'). The exported graph has one float32 input [N,3,H,W] (dynamic N) and the
named outputs; for a checkpoint it is train_detector's ExportWrapper (sigmoid heatmap, wh in pixels).

It also runs the PyTorch model on `--samples` seeded random inputs (uniform in [-2, 2]) and writes
inputs and outputs as raw little-endian float32 to `--reference-out`, so drivegate can check the
exported ONNX against PyTorch itself (the FP32 export equivalence).

Prints one JSON object on stdout: versions (python, torch, numpy, onnx), kind, opset, outputs and
their shapes. Exit 0 ok; 2 bad input (unreadable model, wrong architecture); 3 PyTorch missing.

  /usr/bin/python3 tools/export_onnx.py --model m.pt --out m.onnx --height 96 --width 192 \\
      --input-name images --output-names heatmap,wh,offset --opset 17 --samples 8 --reference-out ref.bin
"""
import argparse
import json
import os
import platform
import sys


def fail(code, message):
    sys.stderr.write(message.rstrip() + '\n')
    sys.exit(code)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--model', required=True)
    p.add_argument('--out', required=True)
    p.add_argument('--height', type=int, required=True)
    p.add_argument('--width', type=int, required=True)
    p.add_argument('--input-name', default='images')
    p.add_argument('--output-names', required=True)
    p.add_argument('--opset', type=int, default=17)
    p.add_argument('--samples', type=int, default=8)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--reference-out', default=None)
    a = p.parse_args()

    try:
        import numpy as np
        import torch
    except ImportError as e:
        fail(3, f'PyTorch is not available to {sys.executable}: {e}. Install python3-torch (Debian) or export to ONNX yourself.')

    torch.manual_seed(a.seed)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    outputs = [o for o in a.output_names.split(',') if o]
    path = a.model
    kind = None
    model = None
    try:
        model = torch.jit.load(path, map_location='cpu')
        kind = 'torchscript'
    except Exception:
        model = None
    if model is None:
        try:
            ckpt = torch.load(path, map_location='cpu')
        except Exception as e:
            fail(2, f'{path}: neither a TorchScript file nor a torch checkpoint ({type(e).__name__}: {e})')
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import train_detector as td

        state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
        if not isinstance(state, dict) or 'hm.2.weight' not in state or 'stem.0.0.weight' not in state:
            fail(2, f'{path}: a checkpoint, but not of the reference detector architecture '
                    '(tools/train_detector.py CenterNetSmall: expected keys hm.2.weight, stem.0.0.weight)')
        num_classes = int(ckpt.get('num_classes', state['hm.2.weight'].shape[0])) if isinstance(ckpt, dict) else 0
        width = int(ckpt.get('width', 2 * state['stem.0.0.weight'].shape[0]))
        net = td.CenterNetSmall(num_classes, width)
        try:
            net.load_state_dict(state)
        except Exception as e:
            fail(2, f'{path}: the state_dict does not fit CenterNetSmall(num_classes={num_classes}, width={width}): {e}')
        model = td.ExportWrapper(net)
        kind = 'checkpoint'
    model = model.cpu().eval()

    dummy = torch.zeros(1, 3, a.height, a.width)
    dyn = {a.input_name: {0: 'N'}}
    for o in outputs:
        dyn[o] = {0: 'N'}
    tmp = a.out + '.tmp'
    try:
        torch.onnx.export(model, (dummy,), tmp, opset_version=a.opset, input_names=[a.input_name],
                          output_names=outputs, dynamic_axes=dyn, do_constant_folding=True)
        os.replace(tmp, a.out)
    except Exception as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        fail(2, f'{path}: torch.onnx.export failed: {type(e).__name__}: {e}')

    shapes = {}
    if a.reference_out:
        g = torch.Generator().manual_seed(a.seed)
        x = torch.rand(a.samples, 3, a.height, a.width, generator=g) * 4 - 2
        with torch.no_grad():
            y = model(x)
        if isinstance(y, torch.Tensor):
            y = (y,)
        if len(y) != len(outputs):
            fail(2, f'{path}: the model returns {len(y)} outputs, the inference config names {len(outputs)}')
        with open(a.reference_out, 'wb') as f:
            f.write(x.numpy().astype('<f4').tobytes())
            for name, t in zip(outputs, y):
                f.write(t.detach().numpy().astype('<f4').tobytes())
                shapes[name] = list(t.shape)
    try:
        import onnx
        onnx_version = onnx.__version__
    except ImportError:
        onnx_version = None
    print(json.dumps({
        'kind': kind,
        'opset': a.opset,
        'input': {'name': a.input_name, 'shape': [a.samples, 3, a.height, a.width]},
        'outputs': [{'name': n, 'shape': shapes.get(n)} for n in outputs],
        'samples': a.samples if a.reference_out else 0,
        'seed': a.seed,
        'versions': {
            'python': platform.python_version(),
            'torch': torch.__version__,
            'numpy': np.__version__,
            'onnx': onnx_version,
        },
    }))


if __name__ == '__main__':
    main()
