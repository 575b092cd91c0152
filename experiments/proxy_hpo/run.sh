#!/usr/bin/env bash
# Lee & Yim's proxy HPO at the size of 2 CPU cores: the small VGG on Fashion-MNIST.
#   bash experiments/proxy_hpo/run.sh [RUN]       (about 50 minutes; resumes when rerun)
# Both pipelines search the same space with the same sampler, seed and number of trials on
# the same data (LIMIT training images, EPOCHS per trial), then train their choice on the
# base network for EPOCHS and report its test accuracy. Everything the proxy pipeline
# trains to make its proxy counts in its time.
set -euo pipefail
RUN=${1:-runs}
MODEL=${MODEL:-vgg}
LIMIT=${LIMIT:-10000}
EPOCHS=${EPOCHS:-2}
TRIALS=${TRIALS:-16}
DATA="--model $MODEL --dataset fashion-mnist --limit-train $LIMIT"
PROXY=$RUN/vgg-group-l1-grid

# 1. The proxy: the group-l1 front of the compaction results (six weights, two epochs each
#    on 20,000 images, the knee retrained for four), its chord knee compacted. Resumes if
#    it is there already; its training time counts against every proxy pipeline.
moprune front --model vgg --dataset fashion-mnist --limit-train 20000 --method grid \
  --lams 0,0.99,0.995,0.997,0.998,0.999 --epochs 4 --explore-epochs 2 \
  --complexity group-l1 --knee chord --out "$PROXY"
moprune knee "$PROXY" --selector chord --compact

# 2. Three HPO methods, each as proxy pipeline and as full pipeline.
hpo() {  # hpo NAME ARGS...
  local name=$1; shift
  moprune hpo $DATA --epochs "$EPOCHS" --trials "$TRIALS" --top-k 1 --proxy "$PROXY" "$@" \
    --out "$RUN/proxy_hpo/hpo/proxy-$name"
  moprune hpo $DATA --epochs "$EPOCHS" --trials "$TRIALS" --top-k 1 --proxy none "$@" \
    --out "$RUN/proxy_hpo/hpo/full-$name"
}
hpo tpe --sampler tpe
hpo tpe-hyperband --sampler tpe --pruner hyperband
hpo pymoo-ga --backend pymoo --sampler ga

# 3. Fidelity: both networks on 16 quasi-random configurations.
moprune fidelity $DATA --epochs "$EPOCHS" --proxy "$PROXY" --configs 16 \
  --out "$RUN/proxy_hpo/fidelity"

python experiments/proxy_hpo/compare.py "$RUN/proxy_hpo/hpo" \
  --fidelity "$RUN/proxy_hpo/fidelity" --out docs/results
