#!/usr/bin/env bash
# Matthiesen's question on LeNet-5 / Fashion-MNIST: do pruned networks need their learning
# rate and weight decay tuned again, and from which pruning level on?
#   bash experiments/sensitivity/run.sh [RUN]     (about 40 minutes on 2 CPU cores; resumes)
# 20 TPE trials find LeNet-5's optimum; a 7 x 7 log grid (one decade each side) is trained
# with 3 seeds per cell (not the HPO's seed) on LeNet-5 and on LeNet-5 pruned structurally
# (group magnitude, global) to 80/60/40/20% of its FLOPs, each cell from fresh weights for
# 2 epochs on 20,000 training images: 20 + 735 trainings, two workers.
# VGG: MODEL=vgg LIMIT=10000 LEVELS=0.5,0.25 GRID=5 SEEDS=2 bash experiments/sensitivity/run.sh
set -euo pipefail
RUN=${1:-runs}
MODEL=${MODEL:-lenet5}
LIMIT=${LIMIT:-20000}
EPOCHS=${EPOCHS:-2}
LEVELS=${LEVELS:-0.8,0.6,0.4,0.2}
GRID=${GRID:-7}
SEEDS=${SEEDS:-3}
OUT=$RUN/sensitivity/$MODEL
moprune sensitivity --model "$MODEL" --dataset fashion-mnist --limit-train "$LIMIT" \
  --epochs "$EPOCHS" --levels "$LEVELS" --grid-size "$GRID" --span 1 --hpo-trials 20 \
  --sampler tpe --seeds "$SEEDS" --workers 2 --out "$OUT"
mkdir -p docs/results
cp "$OUT/landscapes.png" "docs/results/sensitivity_${MODEL}_landscapes.png"
cp "$OUT/distances.png" "docs/results/sensitivity_${MODEL}_distances.png"
cp "$OUT/sensitivity.json" "docs/results/sensitivity_${MODEL}.json"
