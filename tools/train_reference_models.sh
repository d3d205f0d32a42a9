#!/usr/bin/env bash
# Trains drivegate's suggested reference detector set (docs/training.md) from one world dataset:
#   detector-v1.0.0            "production": all conditions, seed 1
#   detector-v1.1.0            improves: wider network (--width 40), seed 2
#   detector-v1.1.0-rc-ped     regresses on pedestrians: --drop-class pedestrian:0.8
#   detector-v1.0.1-clearday   regresses on fog/rain/snow/night: trained on clear daytime only
# Usage: tools/train_reference_models.sh DATA_DIR OUT_DIR [cpu|cuda] [EPOCHS]
# DATA_DIR holds golden_{train,val}.json and .manifest (drivegate world generate). Set PYTHON to pick
# the interpreter (default: python3 on PATH; use /usr/bin/python3 for Debian's torch). On cuda the four
# trainings run two at a time.
set -euo pipefail
if [ "$#" -lt 2 ]; then
  echo "usage: $0 DATA_DIR OUT_DIR [cpu|cuda] [EPOCHS]" >&2
  exit 2
fi
data=$1
out=$2
device=${3:-cuda}
epochs=${4:-40}
py=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
common=(--train-manifest "$data/golden_train.manifest" --train-coco "$data/golden_train.json"
  --val-manifest "$data/golden_val.manifest" --val-coco "$data/golden_val.json"
  --epochs "$epochs" --batch-size 64 --lr 2e-3 --device "$device" --keep-best --quiet)

train() {
  local name=$1
  shift
  "$py" -W ignore "$here/train_detector.py" "${common[@]}" "$@" --out "$out/$name.onnx" \
    >"$out/$name.log" 2>&1 || { echo "training $name failed: see $out/$name.log" >&2; return 1; }
  echo "trained $name"
}

if [ "$device" = cuda ]; then
  train detector-v1.0.0 --seed 1 &
  train detector-v1.1.0 --seed 2 --width 40 &
  wait
  train detector-v1.1.0-rc-ped --seed 1 --drop-class pedestrian:0.8 --model-name detector \
    --model-version 1.1.0-rc-ped &
  train detector-v1.0.1-clearday --seed 1 --filter 'weather=clear;time_of_day=day' --model-name detector \
    --model-version 1.0.1-clearday &
  wait
else
  train detector-v1.0.0 --seed 1
  train detector-v1.1.0 --seed 2 --width 40
  train detector-v1.1.0-rc-ped --seed 1 --drop-class pedestrian:0.8 --model-name detector \
    --model-version 1.1.0-rc-ped
  train detector-v1.0.1-clearday --seed 1 --filter 'weather=clear;time_of_day=day' --model-name detector \
    --model-version 1.0.1-clearday
fi
"$py" - "$out" <<'EOF'
import glob, json, os, sys
for f in sorted(glob.glob(os.path.join(sys.argv[1], '*.training.json'))):
    r = json.load(open(f))
    v = r.get('final_val') or {}
    ap = {k: (round(x, 3) if x is not None else None) for k, x in (v.get('ap50') or {}).items()}
    print(f"{os.path.basename(f)[:-14]:28s} epoch {r.get('exported_epoch')} val mAP50 "
          f"{round(v['map50'], 4) if v.get('map50') is not None else None} {ap}")
EOF
