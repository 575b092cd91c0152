#!/usr/bin/env bash
# Lee & Yim's proxy HPO at the size of 2 CPU cores: the small VGG on Fashion-MNIST.
#   bash experiments/proxy_hpo/run.sh [RUN]       (about 45 minutes; resumes when rerun)
# Both pipelines search the same space with the same sampler, seed and number of trials on
# the same data (LIMIT training images, EPOCHS per trial), then train their choice on the
# base network for EPOCHS and report its test accuracy. The proxy pipeline first builds
# its proxy: a group-l1 front of one-epoch runs, its knee compacted. Everything it trains
# counts in its time.
set -euo pipefail
RUN=${1:-runs}
MODEL=${MODEL:-vgg}
LIMIT=${LIMIT:-10000}
EPOCHS=${EPOCHS:-2}
TRIALS=${TRIALS:-10}
DATA="--model $MODEL --dataset fashion-mnist --limit-train $LIMIT"
PROXY=$RUN/proxy_hpo/$MODEL-proxy-front

# 1. The proxy: a cheap group-l1 front (one epoch per weight), its knee, compacted.
moprune front $DATA --method grid --lams 0,0.995,0.998,0.999 --epochs 1 --explore-epochs 1 \
  --complexity group-l1 --out "$PROXY"
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
