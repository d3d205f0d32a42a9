#!/usr/bin/python3
"""Trains drivegate's reference detector: a small one-stage CenterNet-style model (heatmap, size and
offset heads at stride 4) on reference-world images, and exports it to ONNX with its inference config
and a training record.

Runs with Debian's python3-torch 1.13 on CPU and with torch 2.x on CUDA (checked with 2.11 + CUDA 13).
PNGs are read with PIL, or without it by a small zlib + numpy decoder. See docs/training.md. Typical use:

  python3 tools/train_detector.py \
      --train-manifest data/golden_train.manifest --train-coco data/golden_train.json \
      --val-manifest data/golden_val.manifest --val-coco data/golden_val.json \
      --epochs 40 --batch-size 64 --lr 2e-3 --seed 1 --device cuda --keep-best --out models/detector-v1.0.0.onnx

Outputs (written to temp files, then renamed into place):
  <out>                                  ONNX, opset 17, input "images" [N,3,H,W] float32 (dynamic N),
                                         outputs "heatmap" [N,C,H/4,W/4] (sigmoid applied), "wh" [N,2,H/4,W/4]
                                         (box width/height in input pixels), "offset" [N,2,H/4,W/4] (cells)
  <name>.inference_config.json           drivegate inference config (docs/inference-config.md)
  <name>.training.json                   training record: args, seed, versions, losses, data digests, metrics
"""
import argparse
import hashlib
import json
import math
import os
import platform
import random
import sys
import tempfile
import time

# Deterministic cuBLAS must be configured before CUDA initialises.
os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

try:
    from PIL import Image
except ImportError:  # without PIL a small zlib + numpy decoder reads the PNGs
    Image = None

CLASSES = [(1, 'car'), (2, 'truck'), (3, 'pedestrian'), (4, 'cyclist')]
STRIDE = 4
MEAN = [0.5, 0.5, 0.5]
STD = [0.25, 0.25, 0.25]
RECORD_VERSION = 1


class UsageError(Exception):
    pass


# ----------------------------------------------------------------------------------------------
# Arguments


def parse_filter(text):
    """'weather=clear,fog;time_of_day=day' -> {'weather': {'clear','fog'}, 'time_of_day': {'day'}}."""
    out = {}
    if not text:
        return out
    for part in text.split(';'):
        part = part.strip()
        if not part:
            continue
        if '=' not in part:
            raise UsageError(f"--filter: expected key=value[,value...] separated by ';', found {part!r}")
        key, values = part.split('=', 1)
        vals = {v.strip() for v in values.split(',') if v.strip()}
        if not key.strip() or not vals:
            raise UsageError(f'--filter: empty key or values in {part!r}')
        out[key.strip()] = vals
    return out


def parse_class_values(text, option, lo, hi):
    """'pedestrian:0.8,cyclist:0.5' -> {'pedestrian': 0.8, 'cyclist': 0.5}, names checked."""
    out = {}
    if not text:
        return out
    names = {n for _, n in CLASSES}
    for part in text.split(','):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition(':')
        if not sep or name.strip() not in names:
            raise UsageError(f'{option}: expected CLASS:VALUE with CLASS one of {sorted(names)}, found {part!r}')
        try:
            v = float(value)
        except ValueError:
            raise UsageError(f'{option}: {value!r} is not a number') from None
        if not (lo <= v <= hi):
            raise UsageError(f'{option}: {name} value {v} outside [{lo}, {hi}]')
        out[name.strip()] = v
    return out


def parse_size(text):
    try:
        w, h = (int(x) for x in text.lower().split('x'))
    except ValueError:
        raise UsageError(f'--input-size: expected WIDTHxHEIGHT, found {text!r}') from None
    if w % 16 or h % 16 or w < 32 or h < 32:
        raise UsageError(f'--input-size: width and height must be multiples of 16 and >= 32, found {text!r}')
    return w, h


def build_parser():
    p = argparse.ArgumentParser(
        description='Train the drivegate reference detector (CenterNet-style) and export it to ONNX.'
    )
    p.add_argument('--train-manifest', required=True, help='JSON-lines manifest; images are relative to it')
    p.add_argument('--train-coco', required=True, help='COCO annotations of the training images')
    p.add_argument('--val-manifest', help='validation manifest (with --val-coco)')
    p.add_argument('--val-coco', help='validation COCO annotations')
    p.add_argument('--epochs', type=int, default=40)
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--lr', type=float, default=2e-3)
    p.add_argument('--weight-decay', type=float, default=5e-2, help='AdamW decoupled weight decay')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    p.add_argument('--threads', type=int, default=0, help='CPU threads for torch (0: all cores on cpu, 4 on cuda)')
    p.add_argument('--input-size', default='192x96', help='model input WIDTHxHEIGHT (multiples of 16)')
    p.add_argument('--width', type=int, default=32, help='base channel width of the network')
    p.add_argument('--filter', default='', help="manifest conditions to train on: 'weather=clear,fog;time_of_day=day'")
    p.add_argument('--class-weights', default='', help="heatmap loss weight per class: 'pedestrian:0.3'")
    p.add_argument(
        '--drop-class', default='', help="drop this fraction of a class's training boxes: 'pedestrian:0.8'"
    )
    p.add_argument('--score-threshold', type=float, default=0.05, help='default score threshold in the config')
    p.add_argument('--top-k', type=int, default=100)
    p.add_argument('--model-name', help='name in the inference config (default: from --out)')
    p.add_argument('--model-version', help='version in the inference config (default: from --out, e.g. 1.0.0)')
    p.add_argument('--out', required=True, help='output ONNX path, e.g. models/detector-v1.0.0.onnx')
    p.add_argument('--val-every', type=int, default=5, help='validate every N epochs (and after the last)')
    p.add_argument(
        '--keep-best', action='store_true', help='export the weights of the validation with the best mAP50'
    )
    p.add_argument('--tiny', action='store_true', help='a few iterations only (tests)')
    p.add_argument('--quiet', action='store_true')
    return p


# ----------------------------------------------------------------------------------------------
# Data


def sha256_bytes(b):
    return hashlib.sha256(b).hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def read_json(path, what):
    try:
        with open(path, 'rb') as f:
            return json.loads(f.read())
    except (OSError, ValueError) as e:
        raise UsageError(f'{path}: cannot read the {what}: {e}') from None


def read_manifest(path):
    records = []
    try:
        with open(path, 'r', encoding='utf-8') as f:
            for i, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    raise UsageError(f'{path}:{i}: a manifest line is not JSON') from None
                name = rec.get('image') or rec.get('file_name') or rec.get('path')
                if not isinstance(name, str):
                    raise UsageError(f"{path}:{i}: field 'image': expected a relative image path")
                rec['_image'] = name
                records.append(rec)
    except OSError as e:
        raise UsageError(f'{path}: cannot read the manifest: {e}') from None
    return records


def decode_png_fallback(raw, path):
    """A small PNG decoder (zlib + numpy) for when PIL is missing: 8-bit grey, RGB or RGBA, no interlace."""
    import struct
    import zlib

    if raw[:8] != b'\x89PNG\r\n\x1a\n':
        raise UsageError(f'{path}: not a PNG file')
    pos, idat, ihdr = 8, [], None
    while pos + 8 <= len(raw):
        length, kind = struct.unpack('>I4s', raw[pos:pos + 8])
        body = raw[pos + 8:pos + 8 + length]
        if kind == b'IHDR':
            ihdr = struct.unpack('>IIBBBBB', body)
        elif kind == b'IDAT':
            idat.append(body)
        elif kind == b'IEND':
            break
        pos += 12 + length
    if ihdr is None:
        raise UsageError(f'{path}: PNG without IHDR')
    w, h, depth, ctype, _, _, interlace = ihdr
    channels = {0: 1, 2: 3, 6: 4}.get(ctype)
    if depth != 8 or channels is None or interlace != 0:
        raise UsageError(f'{path}: unsupported PNG (depth {depth}, colour type {ctype}, interlace {interlace}); '
                         'install python3-pil')
    data = np.frombuffer(zlib.decompress(b''.join(idat)), dtype=np.uint8)
    stride = w * channels
    rows = data.reshape(h, stride + 1)
    out = np.zeros((h, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(h):
        f, line = rows[y, 0], rows[y, 1:].astype(np.int32)
        if f == 0:
            cur = line
        elif f == 1:
            cur = np.cumsum(line.reshape(w, channels), axis=0).reshape(-1) & 0xFF
        elif f == 2:
            cur = (line + prev) & 0xFF
        elif f in (3, 4):
            cur = np.zeros(stride, dtype=np.int32)
            for x in range(stride):
                a = cur[x - channels] if x >= channels else 0
                b = prev[x]
                if f == 3:
                    pred = (a + b) >> 1
                else:
                    c = prev[x - channels] if x >= channels else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (line[x] + pred) & 0xFF
        else:
            raise UsageError(f'{path}: bad PNG filter type {f}')
        out[y] = cur
        prev = cur
    img = out.reshape(h, w, channels)
    if channels == 1:
        return np.repeat(img, 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3])


def load_png(path, raw):
    if Image is None:
        return decode_png_fallback(raw, path)
    try:
        import io

        with Image.open(io.BytesIO(raw)) as im:
            return np.array(im.convert('RGB'), dtype=np.uint8)
    except OSError as e:
        raise UsageError(f'{path}: cannot read the image: {e}') from None


def resize_chw(img_hwc, w, h):
    """Bilinear resize (half-pixel centres, no antialias), as drivegate's runtime does."""
    t = torch.from_numpy(img_hwc).permute(2, 0, 1).float().unsqueeze(0)
    if t.shape[2] != h or t.shape[3] != w:
        t = F.interpolate(t, size=(h, w), mode='bilinear', align_corners=False)
    return t[0].round().clamp(0, 255).to(torch.uint8).numpy()


class Dataset:
    """Images (uint8 [N,3,H,W] at the input size) and their boxes (input pixels) per image."""

    def __init__(self, manifest_path, coco_path, size, cond, drop, seed, log, limit=None):
        self.size = size
        w_in, h_in = size
        coco = read_json(coco_path, 'COCO annotations')
        if not isinstance(coco.get('images'), list) or not isinstance(coco.get('annotations'), list):
            raise UsageError(f"{coco_path}: expected a COCO file with 'images' and 'annotations'")
        by_name = {c.get('name'): c.get('id') for c in coco.get('categories', [])}
        for cid, name in CLASSES:
            if name in by_name and by_name[name] != cid:
                raise UsageError(f'{coco_path}: category {name!r} has id {by_name[name]}, expected {cid}')
        images = {im['id']: im for im in coco['images']}
        images_by_file = {im['file_name']: im for im in coco['images']}
        anns = {}
        for a in coco['annotations']:
            anns.setdefault(a['image_id'], []).append(a)
        records = read_manifest(manifest_path)
        root = os.path.dirname(os.path.abspath(manifest_path))
        selected = []
        for rec in records:
            if all(str(rec.get(k, images.get(rec.get('image_id'), {}).get(k))) in v for k, v in cond.items()):
                selected.append(rec)
        if limit is not None:
            selected = selected[:limit]
        if not selected:
            raise UsageError(f'{manifest_path}: no image matches the filter {cond}')
        cls_index = {cid: i for i, (cid, _) in enumerate(CLASSES)}
        name_index = {n: i for i, (_, n) in enumerate(CLASSES)}
        drop_rng = np.random.default_rng([seed, 7])
        drop_p = {name_index[n]: p for n, p in drop.items()}
        self.pixels = np.zeros((len(selected), 3, h_in, w_in), dtype=np.uint8)
        self.boxes = []  # per image: float32 [K,4] x,y,w,h input pixels
        self.labels = []  # per image: int64 [K]
        self.crowds = []  # per image: (float32 [K,4], int64 [K])
        self.image_ids = []
        self.counts = [0] * len(CLASSES)
        self.dropped = [0] * len(CLASSES)
        digests = []
        for n, rec in enumerate(selected):
            im = images.get(rec.get('image_id')) if 'image_id' in rec else None
            if im is None:
                im = images_by_file.get(rec['_image'])
            if im is None:
                raise UsageError(f"{manifest_path}: image {rec['_image']!r} is not in {coco_path}")
            path = os.path.join(root, rec['_image'])
            try:
                with open(path, 'rb') as f:
                    raw = f.read()
            except OSError as e:
                raise UsageError(f'{path}: cannot read the image: {e}') from None
            digest = sha256_bytes(raw)
            if isinstance(rec.get('sha256'), str) and rec['sha256'] != digest:
                raise UsageError(f'{path}: sha256 {digest} differs from the manifest ({rec["sha256"]})')
            digests.append(f"{im['id']}:{digest}")
            img = load_png(path, raw)
            h0, w0 = img.shape[:2]
            self.pixels[n] = resize_chw(img, w_in, h_in)
            sx, sy = w_in / w0, h_in / h0
            bx, lb, cb, cl = [], [], [], []
            for a in anns.get(im['id'], []):
                c = cls_index.get(a.get('category_id'))
                if c is None:
                    continue
                x, y, w, h = a['bbox']
                box = [x * sx, y * sy, w * sx, h * sy]
                if a.get('iscrowd', 0):
                    cb.append(box)
                    cl.append(c)
                    continue
                if w <= 0 or h <= 0:
                    continue
                if c in drop_p and drop_rng.random() < drop_p[c]:
                    self.dropped[c] += 1
                    continue
                bx.append(box)
                lb.append(c)
                self.counts[c] += 1
            self.boxes.append(np.array(bx, dtype=np.float32).reshape(-1, 4))
            self.labels.append(np.array(lb, dtype=np.int64))
            self.crowds.append((np.array(cb, dtype=np.float32).reshape(-1, 4), np.array(cl, dtype=np.int64)))
            self.image_ids.append(im['id'])
        self.digest = sha256_bytes('\n'.join(digests).encode())
        self.files = {
            'manifest': {'path': manifest_path, 'sha256': sha256_file(manifest_path)},
            'coco': {'path': coco_path, 'sha256': sha256_file(coco_path)},
        }
        log(
            f'{manifest_path}: {len(selected)} of {len(records)} images, objects '
            + ', '.join(f'{n}={self.counts[i]}' for i, (_, n) in enumerate(CLASSES))
            + (f", dropped {dict((n, self.dropped[i]) for i, (_, n) in enumerate(CLASSES) if self.dropped[i])}"
               if any(self.dropped) else '')
        )

    def __len__(self):
        return len(self.image_ids)


def draw_gaussian(hm, cx, cy, sx, sy):
    """Max-composites exp(-(dx^2/2sx^2 + dy^2/2sy^2)) centred on integer cell (cx, cy) into hm [h,w]."""
    h, w = hm.shape
    rx, ry = max(1, int(math.ceil(3 * sx))), max(1, int(math.ceil(3 * sy)))
    x0, x1 = max(0, cx - rx), min(w, cx + rx + 1)
    y0, y1 = max(0, cy - ry), min(h, cy + ry + 1)
    if x0 >= x1 or y0 >= y1:
        return
    xs = np.arange(x0, x1, dtype=np.float32) - cx
    ys = np.arange(y0, y1, dtype=np.float32) - cy
    g = np.exp(-(ys[:, None] ** 2) / (2 * sy * sy) - (xs[None, :] ** 2) / (2 * sx * sx))
    np.maximum(hm[y0:y1, x0:x1], g, out=hm[y0:y1, x0:x1])


MAX_OBJECTS = 128


def build_targets(boxes, labels, crowds, size, flip):
    """CenterNet targets of one image: heatmap [C,h,w], ignore [C,h,w], and per-object index/wh/offset.

    The heatmap peak of an object sits in the cell holding its box centre; around it an elliptical
    Gaussian with sigma proportional to the box size in cells (0.54/6 of each side, at least 0.5 cell).
    Size targets are in cells (the exported graph multiplies by the stride); offsets are the centre's
    fraction within its cell. Crowd boxes are 'ignore' regions where the heatmap has no negative loss.
    """
    w_in, h_in = size
    w, h = w_in // STRIDE, h_in // STRIDE
    C = len(CLASSES)
    hm = np.zeros((C, h, w), dtype=np.float32)
    ignore = np.zeros((C, h, w), dtype=np.float32)
    ind = np.zeros(MAX_OBJECTS, dtype=np.int64)
    wh = np.zeros((MAX_OBJECTS, 2), dtype=np.float32)
    off = np.zeros((MAX_OBJECTS, 2), dtype=np.float32)
    mask = np.zeros(MAX_OBJECTS, dtype=np.float32)
    cboxes, clabels = crowds
    for (x, y, bw, bh), c in zip(cboxes, clabels):
        if flip:
            x = w_in - x - bw
        gx0, gy0 = int(max(0, math.floor(x / STRIDE))), int(max(0, math.floor(y / STRIDE)))
        gx1, gy1 = int(min(w, math.ceil((x + bw) / STRIDE))), int(min(h, math.ceil((y + bh) / STRIDE)))
        ignore[c, gy0:gy1, gx0:gx1] = 1.0
    k = 0
    for (x, y, bw, bh), c in zip(boxes, labels):
        if k >= MAX_OBJECTS:
            break
        if flip:
            x = w_in - x - bw
        cx, cy = (x + bw / 2) / STRIDE, (y + bh / 2) / STRIDE
        ix, iy = min(w - 1, max(0, int(cx))), min(h - 1, max(0, int(cy)))
        wc, hc = bw / STRIDE, bh / STRIDE
        draw_gaussian(hm[c], ix, iy, max(0.5, 0.54 * wc / 6), max(0.5, 0.54 * hc / 6))
        hm[c, iy, ix] = 1.0
        ind[k] = iy * w + ix
        wh[k] = (wc, hc)
        off[k] = (cx - ix, cy - iy)
        mask[k] = 1.0
        k += 1
    ignore[hm > 0] = 0.0
    return hm, ignore, ind, wh, off, mask


def make_batch(ds, idx, size, rng, augment, device):
    """A batch on `device`: normalised images (flip and contrast/brightness jitter when `augment`,
    drawn from `rng`) and the CenterNet targets (numpy, per image). The image arithmetic runs with
    torch on a CUDA device and with numpy on CPU (faster there than torch 1.13's CPU kernels)."""
    n = len(idx)
    flips = rng.random(n) < 0.5 if augment else np.zeros(n, dtype=bool)
    if augment:
        contrast = rng.uniform(0.7, 1.3, size=(n, 1, 1, 1)).astype(np.float32)
        bright = rng.uniform(-0.12, 0.12, size=(n, 1, 1, 1)).astype(np.float32)
    mean_c = np.array(MEAN, dtype=np.float32).reshape(1, 3, 1, 1)
    std_c = np.array(STD, dtype=np.float32).reshape(1, 3, 1, 1)
    if device.type == 'cuda':
        x = torch.from_numpy(ds.pixels[idx]).to(device).float().div_(255.0)
        if augment:
            flip = torch.from_numpy(flips).to(device).view(-1, 1, 1, 1)
            x = torch.where(flip, x.flip(3), x)
            m = x.mean(dim=(1, 2, 3), keepdim=True)
            x = ((x - m) * torch.from_numpy(contrast).to(device) + m + torch.from_numpy(bright).to(device)).clamp_(0, 1)
        x = ((x - torch.from_numpy(mean_c).to(device)) / torch.from_numpy(std_c).to(device)).contiguous()
    else:
        imgs = ds.pixels[idx].astype(np.float32) / 255.0
        if augment:
            imgs[flips] = imgs[flips][..., ::-1]
            m = imgs.mean(axis=(1, 2, 3), keepdims=True)
            imgs = np.clip((imgs - m) * contrast + m + bright, 0.0, 1.0)
        x = torch.from_numpy(np.ascontiguousarray((imgs - mean_c) / std_c)).to(device)
    t = [build_targets(ds.boxes[i], ds.labels[i], ds.crowds[i], size, bool(f)) for i, f in zip(idx, flips)]
    cols = [torch.from_numpy(np.stack([x_[j] for x_ in t])).to(device) for j in range(6)]
    return x, cols


# ----------------------------------------------------------------------------------------------
# Model


def conv_bn(cin, cout, stride=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class Residual(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.a = conv_bn(ch, ch)
        self.b = nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch))

    def forward(self, x):
        return F.relu(x + self.b(self.a(x)))


class Up(nn.Module):
    """x2 upsampling by a learned 2x2 transposed convolution (deterministic backward on CUDA, unlike
    nearest/bilinear upsampling), added to a 1x1 projection of the skip feature."""

    def __init__(self, cin, cskip, cout):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cout, 2, 2, bias=False)
        self.skip = nn.Conv2d(cskip, cout, 1, bias=False)
        self.post = conv_bn(cout, cout)

    def forward(self, x, skip):
        return self.post(self.up(x) + self.skip(skip))


class CenterNetSmall(nn.Module):
    """Backbone to stride 16, two top-down fusions back to stride 4, three heads."""

    def __init__(self, num_classes, width=32):
        super().__init__()
        c1, c2, c3, c4 = width // 2, width, width * 2, width * 3
        self.stem = nn.Sequential(conv_bn(3, c1, 2), conv_bn(c1, c2, 2), Residual(c2))  # /4
        self.s8 = nn.Sequential(conv_bn(c2, c3, 2), Residual(c3))  # /8
        self.s16 = nn.Sequential(conv_bn(c3, c4, 2), Residual(c4), Residual(c4))  # /16
        self.up8 = Up(c4, c3, c3)
        self.up4 = Up(c3, c2, c2 * 2)
        head = c2 * 2

        def make_head(out):
            return nn.Sequential(nn.Conv2d(head, head, 3, 1, 1), nn.ReLU(inplace=True), nn.Conv2d(head, out, 1))

        self.hm = make_head(num_classes)
        self.wh = make_head(2)
        self.off = make_head(2)
        nn.init.constant_(self.hm[-1].bias, -2.19)  # initial score ~0.1 (focal-loss prior)

    def forward(self, x):
        f4 = self.stem(x)
        f8 = self.s8(f4)
        f16 = self.s16(f8)
        p8 = self.up8(f16, f8)
        p4 = self.up4(p8, f4)
        return self.hm(p4), self.wh(p4), self.off(p4)


class ExportWrapper(nn.Module):
    """The exported graph: heatmap sigmoid'ed, wh converted from cells to input pixels."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, images):
        hm, wh, off = self.net(images)
        return torch.sigmoid(hm), F.relu(wh) * float(STRIDE), off


# ----------------------------------------------------------------------------------------------
# Loss


def focal_loss(logits, gt, ignore, class_w):
    """CenterNet's penalty-reduced pixel-wise focal loss (alpha 2, beta 4), normalised by positives;
    per-class weights scale each class channel; ignored cells give no negative loss."""
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = gt.eq(1).float()
    neg = (1 - pos) * (1 - ignore)
    pos_loss = torch.log(p) * (1 - p) ** 2 * pos
    neg_loss = torch.log(1 - p) * p**2 * (1 - gt) ** 4 * neg
    w = class_w.view(1, -1, 1, 1)
    num_pos = pos.sum()
    total = -((pos_loss + neg_loss) * w).sum()
    return total / num_pos.clamp(min=1.0)


def gather(feat, ind):
    """feat [N,2,h,w], ind [N,K] -> [N,K,2]."""
    n, c = feat.shape[:2]
    f = feat.view(n, c, -1).permute(0, 2, 1)
    return f.gather(1, ind.unsqueeze(2).expand(-1, -1, c))


def reg_l1(pred, ind, target, mask):
    p = gather(pred, ind)
    m = mask.unsqueeze(2)
    return (torch.abs(p - target) * m).sum() / (m.sum() * 2).clamp(min=1.0)


def compute_loss(out, targets, class_w):
    hm_logits, wh, off = out
    hm, ignore, ind, wh_t, off_t, mask = targets
    l_hm = focal_loss(hm_logits, hm, ignore, class_w)
    l_wh = reg_l1(wh, ind, wh_t, mask)
    l_off = reg_l1(off, ind, off_t, mask)
    return l_hm + 0.1 * l_wh + l_off, (l_hm.item(), l_wh.item(), l_off.item())


# ----------------------------------------------------------------------------------------------
# Validation (AP at IoU 0.5, a quick check: not the COCO protocol drivegate's evaluator implements)


def decode(hm, wh, off, top_k):
    """hm [N,C,h,w] scores, wh [N,2,h,w] input pixels, off [N,2,h,w] -> per image (boxes xywh, scores, cls)."""
    n, c, h, w = hm.shape
    peaks = (F.max_pool2d(hm, 3, 1, 1) == hm).float() * hm
    scores, idx = peaks.view(n, -1).topk(min(top_k, c * h * w))
    cls = idx // (h * w)
    pix = idx % (h * w)
    ys, xs = (pix // w).float(), (pix % w).float()
    out = []
    for i in range(n):
        p = pix[i]
        bw, bh = wh[i, 0].view(-1)[p], wh[i, 1].view(-1)[p]
        cx = (xs[i] + off[i, 0].view(-1)[p]) * STRIDE
        cy = (ys[i] + off[i, 1].view(-1)[p]) * STRIDE
        boxes = torch.stack([cx - bw / 2, cy - bh / 2, bw, bh], 1)
        out.append((boxes.cpu().numpy(), scores[i].cpu().numpy(), cls[i].cpu().numpy()))
    return out


def iou_matrix(a, b):
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax2[:, None], bx2[None]) - np.maximum(a[:, 0][:, None], b[:, 0][None]), 0, None)
    ih = np.clip(np.minimum(ay2[:, None], by2[None]) - np.maximum(a[:, 1][:, None], b[:, 1][None]), 0, None)
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return inter / np.maximum(union, 1e-9)


def ap50(dets, ds):
    """Per-class AP at IoU 0.5 (all-point interpolated); detections on crowd regions are ignored."""
    result = {}
    for c, (_, name) in enumerate(CLASSES):
        records, n_gt = [], 0
        for i, (boxes, scores, cls) in enumerate(dets):
            gt = ds.boxes[i][ds.labels[i] == c]
            n_gt += len(gt)
            sel = cls == c
            b, s = boxes[sel], scores[sel]
            order = np.argsort(-s, kind='stable')
            b, s = b[order], s[order]
            ious = iou_matrix(b, gt)
            crowd = ds.crowds[i][0][ds.crowds[i][1] == c]
            used = np.zeros(len(gt), dtype=bool)
            for k in range(len(b)):
                j = int(np.argmax(ious[k])) if len(gt) else -1
                if j >= 0 and ious[k, j] >= 0.5 and not used[j]:
                    used[j] = True
                    records.append((s[k], 1))
                elif len(crowd) and iou_matrix(b[k:k + 1], crowd).max() >= 0.5:
                    continue
                else:
                    records.append((s[k], 0))
        if n_gt == 0:
            result[name] = None
            continue
        records.sort(key=lambda r: -r[0])
        tp = np.cumsum([r[1] for r in records]) if records else np.zeros(0)
        fp = np.cumsum([1 - r[1] for r in records]) if records else np.zeros(0)
        recall = tp / n_gt
        precision = tp / np.maximum(tp + fp, 1e-9)
        mrec = np.concatenate([[0.0], recall, [1.0]])
        mpre = np.concatenate([[0.0], precision, [0.0]])
        for k in range(len(mpre) - 2, -1, -1):
            mpre[k] = max(mpre[k], mpre[k + 1])
        steps = np.where(mrec[1:] != mrec[:-1])[0]
        result[name] = float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))
    vals = [v for v in result.values() if v is not None]
    return result, (float(np.mean(vals)) if vals else None)


def evaluate(net, ds, size, batch_size, device, class_w, top_k):
    net.eval()
    rng = np.random.default_rng(0)
    totals, n_batches, dets = np.zeros(4), 0, []
    with torch.no_grad():
        for s in range(0, len(ds), batch_size):
            idx = np.arange(s, min(len(ds), s + batch_size))
            x, t = make_batch(ds, idx, size, rng, False, device)
            out = net(x)
            loss, parts = compute_loss(out, t, class_w)
            totals += np.array([loss.item(), *parts])
            n_batches += 1
            hm = torch.sigmoid(out[0])
            dets += decode(hm, F.relu(out[1]) * STRIDE, out[2], top_k)
    per_class, mean_ap = ap50(dets, ds)
    avg = totals / max(1, n_batches)
    return {'loss': avg[0], 'hm': avg[1], 'wh': avg[2], 'off': avg[3], 'ap50': per_class, 'map50': mean_ap}


# ----------------------------------------------------------------------------------------------
# Export


def atomic_write(path, data):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', suffix='.tmp', dir=d)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def export_onnx(net, size):
    """The ONNX bytes of the model (opset 17, dynamic batch), checked with onnx.checker."""
    import inspect
    import io

    w, h = size
    wrapper = ExportWrapper(net).cpu().eval()
    buf = io.BytesIO()
    dummy = torch.zeros(1, 3, h, w)
    dyn = {'images': {0: 'N'}, 'heatmap': {0: 'N'}, 'wh': {0: 'N'}, 'offset': {0: 'N'}}
    extra = {}
    if 'dynamo' in inspect.signature(torch.onnx.export).parameters:
        extra['dynamo'] = False  # the TorchScript exporter (torch >= 2.9 defaults to dynamo)
    torch.onnx.export(
        wrapper,
        dummy,
        buf,
        opset_version=17,
        input_names=['images'],
        output_names=['heatmap', 'wh', 'offset'],
        dynamic_axes=dyn,
        do_constant_folding=True,
        **extra,
    )
    try:
        import onnx
    except ImportError:
        return buf.getvalue(), False
    onnx.checker.check_model(onnx.load_from_string(buf.getvalue()))
    return buf.getvalue(), True


def name_and_version(out, args):
    base = os.path.basename(out)
    stem = base[:-5] if base.endswith('.onnx') else base
    name, version = stem, None
    if '-v' in stem:
        n, v = stem.rsplit('-v', 1)
        if v and v[0].isdigit():
            name, version = n, v
    return args.model_name or name, args.model_version or version, stem


def inference_config(args, size, name, version):
    w, h = size
    cfg = {
        'schema_version': 1,
        'model': {'name': name, **({'version': version} if version else {})},
        'input': {'name': 'images', 'width': w, 'height': h, 'channels': 3, 'layout': 'NCHW', 'dtype': 'float32',
                  'color': 'RGB'},
        'preprocess': {
            'resize': {'mode': 'resize', 'interpolation': 'bilinear', 'pad_value': 114},
            'normalize': {'scale': 1 / 255, 'mean': MEAN, 'std': STD},
        },
        'classes': {str(i): {'id': cid, 'name': n} for i, (cid, n) in enumerate(CLASSES)},
        'output': {'decoder': 'centernet', 'heatmap': 'heatmap', 'wh': 'wh', 'offset': 'offset', 'stride': STRIDE,
                   'heatmap_activation': 'none', 'peak_kernel': 3, 'top_k': args.top_k},
        'postprocess': {
            'score_threshold': args.score_threshold,
            'score_thresholds': {},
            'nms': {'iou_threshold': 0.6, 'per_class': True, 'max_detections': args.top_k},
        },
    }
    return cfg


# ----------------------------------------------------------------------------------------------
# Main


def set_determinism(seed, device):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if device == 'cuda':
        torch.cuda.manual_seed_all(seed)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True, warn_only=True)


def main(argv):
    args = build_parser().parse_args(argv)
    log = (lambda *_: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    try:
        size = parse_size(args.input_size)
        cond = parse_filter(args.filter)
        class_weights = parse_class_values(args.class_weights, '--class-weights', 0.0, 100.0)
        drop = parse_class_values(args.drop_class, '--drop-class', 0.0, 1.0)
        if (args.val_manifest is None) != (args.val_coco is None):
            raise UsageError('--val-manifest and --val-coco go together')
        if args.epochs < 1 or args.batch_size < 1 or not (args.lr > 0):
            raise UsageError('--epochs and --batch-size must be >= 1 and --lr > 0')
        if args.device == 'cuda' and not torch.cuda.is_available():
            raise UsageError('--device cuda: CUDA is not available to this torch')
        if args.threads > 0:
            torch.set_num_threads(args.threads)
        else:
            # CPU training uses every core; with CUDA a few CPU threads avoid oversubscription when
            # several trainings share a machine (the CPU side only builds targets).
            cores = os.cpu_count() or 1
            torch.set_num_threads(cores if args.device == 'cpu' else min(4, cores))
        set_determinism(args.seed, args.device)
        device = torch.device(args.device)
        started = time.time()
        limit = 8 if args.tiny else None
        train = Dataset(args.train_manifest, args.train_coco, size, cond, drop, args.seed, log, limit)
        val = None
        if args.val_manifest:
            val = Dataset(args.val_manifest, args.val_coco, size, {}, {}, args.seed, log, limit)

        net = CenterNetSmall(len(CLASSES), args.width).to(device)
        params = sum(p.numel() for p in net.parameters())
        log(f'model: {params} parameters, input {size[0]}x{size[1]}, device {args.device}')
        class_w = torch.tensor([class_weights.get(n, 1.0) for _, n in CLASSES], dtype=torch.float32, device=device)
        opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
        steps_per_epoch = max(1, math.ceil(len(train) / args.batch_size))
        epochs = 1 if args.tiny else args.epochs
        max_steps = 3 if args.tiny else None
        total_steps = epochs * steps_per_epoch if max_steps is None else min(max_steps, epochs * steps_per_epoch)
        warmup = min(100, max(1, total_steps // 20))

        def lr_at(step):
            if step < warmup:
                return args.lr * (step + 1) / warmup
            t = (step - warmup) / max(1, total_steps - warmup)
            return args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))

        history = []
        step = 0
        best = None  # (map50, epoch, state_dict) with --keep-best
        for epoch in range(epochs):
            net.train()
            rng = np.random.default_rng([args.seed, epoch])
            order = rng.permutation(len(train))
            sums, n = np.zeros(4), 0
            for s in range(0, len(order), args.batch_size):
                if max_steps is not None and step >= max_steps:
                    break
                for g in opt.param_groups:
                    g['lr'] = lr_at(step)
                x, t = make_batch(train, order[s:s + args.batch_size], size, rng, True, device)
                loss, parts = compute_loss(net(x), t, class_w)
                if not math.isfinite(loss.item()):
                    raise RuntimeError(f'the loss became {loss.item()} at step {step}')
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
                opt.step()
                sums += np.array([loss.item(), *parts])
                n += 1
                step += 1
            avg = sums / max(1, n)
            entry = {'epoch': epoch + 1, 'steps': n, 'lr': lr_at(max(0, step - 1)),
                     'train': {'loss': avg[0], 'hm': avg[1], 'wh': avg[2], 'off': avg[3]}}
            msg = f'epoch {epoch + 1}/{epochs} loss {avg[0]:.4f} (hm {avg[1]:.4f} wh {avg[2]:.4f} off {avg[3]:.4f})'
            last = epoch == epochs - 1
            if val is not None and (last or (epoch + 1) % max(1, args.val_every) == 0):
                v = evaluate(net, val, size, args.batch_size, device, class_w, args.top_k)
                entry['val'] = v
                msg += f" | val loss {v['loss']:.4f} mAP50 {v['map50'] if v['map50'] is None else round(v['map50'], 4)}"
                if args.keep_best and v['map50'] is not None and (best is None or v['map50'] > best[0]):
                    best = (v['map50'], epoch + 1, {k: t.detach().clone() for k, t in net.state_dict().items()})
            history.append(entry)
            log(msg)

        final_val = history[-1].get('val') if history else None
        if best is not None:
            net.load_state_dict(best[2])
            final_val = next(h['val'] for h in history if h['epoch'] == best[1])
            log(f'keeping the weights of epoch {best[1]} (val mAP50 {best[0]:.4f})')
        name, version, stem = name_and_version(args.out, args)
        onnx_bytes, checked = export_onnx(net, size)
        if not checked:
            log('note: the onnx package is missing; the exported model was not checked with onnx.checker')
        if len(onnx_bytes) > 5 * 1024 * 1024:
            log(f'warning: the ONNX file is {len(onnx_bytes)} bytes (> 5 MB)')
        out_dir = os.path.dirname(os.path.abspath(args.out))
        cfg = inference_config(args, size, name, version)
        record = {
            'record_version': RECORD_VERSION,
            'tool': 'tools/train_detector.py',
            'model': {'name': name, 'version': version, 'onnx': os.path.basename(args.out),
                      'onnx_sha256': sha256_bytes(onnx_bytes), 'onnx_bytes': len(onnx_bytes), 'parameters': params,
                      'onnx_checked': checked, 'opset': 17,
                      'architecture': f'CenterNetSmall(width={args.width}), stride {STRIDE}'},
            'args': vars(args),
            'seed': args.seed,
            'deterministic': {'torch.use_deterministic_algorithms': True, 'cudnn.deterministic': args.device == 'cuda',
                              'note': 'bitwise repeatable on the same hardware, software versions and thread count'},
            'environment': {'python': platform.python_version(), 'torch': torch.__version__,
                            'png_decoder': 'PIL' if Image is not None else 'fallback (zlib + numpy)',
                            'numpy': np.__version__, 'device': args.device,
                            'cuda': torch.version.cuda if args.device == 'cuda' else None,
                            'gpu': torch.cuda.get_device_name(0) if args.device == 'cuda' else None,
                            'threads': torch.get_num_threads(), 'platform': platform.platform()},
            'data': {
                'classes': [{'index': i, 'id': cid, 'name': n} for i, (cid, n) in enumerate(CLASSES)],
                'filter': {k: sorted(v) for k, v in cond.items()},
                'class_weights': class_weights,
                'drop_class': drop,
                'train': {**train.files, 'images': len(train), 'images_digest': train.digest,
                          'objects': dict(zip([n for _, n in CLASSES], train.counts)),
                          'dropped': dict(zip([n for _, n in CLASSES], train.dropped))},
                'val': None if val is None else {**val.files, 'images': len(val), 'images_digest': val.digest,
                                                 'objects': dict(zip([n for _, n in CLASSES], val.counts))},
            },
            'training': {'epochs': epochs, 'steps': step, 'batch_size': args.batch_size, 'lr': args.lr,
                         'optimizer': 'AdamW', 'weight_decay': args.weight_decay,
                         'schedule': f'linear warmup {warmup} steps, cosine to 2%',
                         'augmentation': 'horizontal flip p=0.5, contrast U(0.7,1.3), brightness U(-0.12,0.12)',
                         'loss': 'focal(hm) + 0.1 * L1(wh, cells) + L1(offset)', 'history': history,
                         'seconds': round(time.time() - started, 3)},
            'exported_epoch': best[1] if best is not None else epochs,
            'final_val': final_val,
        }
        atomic_write(os.path.join(out_dir, f'{stem}.inference_config.json'),
                     (json.dumps(cfg, indent=2) + '\n').encode())
        atomic_write(os.path.join(out_dir, f'{stem}.training.json'),
                     (json.dumps(record, indent=2, default=float) + '\n').encode())
        atomic_write(args.out, onnx_bytes)
        log(f'wrote {args.out} ({len(onnx_bytes)} bytes), {stem}.inference_config.json, {stem}.training.json')
        return 0
    except UsageError as e:
        print(f'train_detector: {e}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
