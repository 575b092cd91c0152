#!/usr/bin/env bash
# Issue 45's measurement: the default recipe from the example config, against the full
# pipeline it replaces, on the small VGG (seed 0, declared before the runs; nothing else on
# the machine, it reports times). SEED=1: a second seed, declared (2026-12-08) before its
# run, read as exploratory (one more path and study, not an interval):
#   bash experiments/proxy_hpo/default_recipe.sh [RUN]          (about 25 minutes)
# 1. moprune run examples/vgg-fashion.yaml: the recipe's channel path on 10,000 images,
#    its knee compacted, the pay check, 32 TPE trials of 2 epochs on the proxy (when it
#    pays), the top 3 trained 5 epochs on the VGG, the default-hyperparameter reference.
# 2. The full pipeline of the same study: 32 TPE trials of 2 epochs on the VGG itself, its
#    top 3 trained 5 epochs (moprune hpo --proxy none; same data, space, seed).
# 3. default_recipe.py: the saving (HPO time, creation included, against the full
#    pipeline's) and the regret (test accuracy, points), predicted and measured, into
#    docs/results/proxy_hpo/default_recipe.json.
set -euo pipefail
RUN=${1:-runs}
SEED=${SEED:-0}
OUT=$RUN/default_recipe/vgg-seed$SEED
mkdir -p "$OUT"
# the example itself for seed 0, with its seed set otherwise
if [ "$SEED" = 0 ]; then cp examples/vgg-fashion.yaml "$OUT/config.yaml"; else
  sed "s/^  model: vgg$/  model: vgg\n  train: {seed: $SEED}/" examples/vgg-fashion.yaml > "$OUT/config.yaml"; fi
moprune run "$OUT/config.yaml" --out "$OUT/proxy" || [ $? -eq 3 ]  # (3: a verdict failed)
moprune hpo --model vgg --dataset fashion-mnist --limit-train 10000 --epochs 2 --trials 32 \
  --final-epochs 5 --top-k 3 --seed "$SEED" --proxy none --out "$OUT/full"
python experiments/proxy_hpo/default_recipe.py "$OUT" --out docs/results/proxy_hpo/default_recipe.json \
  --page docs/results/proxy_hpo/default_recipe.md
