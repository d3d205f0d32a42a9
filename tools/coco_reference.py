"""pycocotools' COCOeval numbers for COCO files: the reference drivegate's COCO evaluator is checked
against (src/eval/metrics/coco/reference.test.ts). Needs pycocotools (not a drivegate dependency).

usage: python3 tools/coco_reference.py CASES.json
  CASES.json: [{"gt": path, "dt": path, "iouType": "bbox" | "segm"}, ...]
  prints one JSON list, per case {"stats": [12 numbers], "per_class": {"<catId>": AP}} or {"error": text}
"""
import contextlib
import io
import json
import sys

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def evaluate(case):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(case["gt"])
        dt = gt.loadRes(case["dt"])
        ev = COCOeval(gt, dt, case["iouType"])
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    per_class = {}
    for k, cat in enumerate(ev.params.catIds):
        p = ev.eval["precision"][:, :, k, 0, 2]
        per_class[str(cat)] = float(np.mean(p[p > -1])) if (p > -1).any() else -1.0
    return {"stats": [float(x) for x in ev.stats], "per_class": per_class}


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    out = []
    for case in cases:
        try:
            out.append(evaluate(case))
        except Exception as e:  # pycocotools crashes on some inputs drivegate accepts
            out.append({"error": f"{type(e).__name__}: {e}"})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
