#!/usr/bin/env bash
# Lee & Yim's proxy HPO at the size of 2 CPU cores: the small VGG (or LeNet-5) on
# Fashion-MNIST.
#   bash experiments/proxy_hpo/run.sh [RUN]              (about 3 hours; resumes when rerun)
#   MODEL=lenet5 bash experiments/proxy_hpo/run.sh [RUN] (about 15 minutes after the
#                                 LeNet-5 group-l1 front of experiments/pareto/run.sh)
# Every pipeline searches the same space with the same sampler, seed and number of trials
# on the same data (LIMIT training images, EPOCHS per trial), then trains its choice on the
# base network for EPOCHS and reports its test accuracy. Everything a proxy pipeline
# trains to make its proxy counts in its time.
#   full-METHOD       trials on the base network; its best is trained again (top-k 1)
#   knee-METHOD       trials on the compacted group-l1 knee; its top 3 trained on the base
#   uniform25-METHOD  trials on the base network thinned uniformly to 25% of its FLOPs
#                     (--proxy uniform:0.25, nothing to train); top 3 on the base
# Each study runs 16 trials (copied to RUN/proxy_hpo/MODEL/hpo-16), then is resumed to 32.
set -euo pipefail
RUN=${1:-runs}
MODEL=${MODEL:-vgg}
LIMIT=${LIMIT:-10000}
EPOCHS=${EPOCHS:-2}
DATA="--model $MODEL --dataset fashion-mnist --limit-train $LIMIT --epochs $EPOCHS"
OUT=$RUN/proxy_hpo/$MODEL

# 1. The knee proxy: the group-l1 front of the compaction results, its chord knee
#    compacted (group_l1_knee.sh). Resumes if it is there already; its training time
#    counts against every knee pipeline.
# shellcheck source=experiments/proxy_hpo/group_l1_knee.sh
. "$(dirname "$0")/group_l1_knee.sh"
group_l1_knee "$RUN" "$MODEL"
KNEE=$GROUP_L1

# 2. Three HPO methods, each as full pipeline and with both proxies; 16 then 32 trials.
hpo() {  # hpo TRIALS NAME ARGS...
  local trials=$1 name=$2; shift 2
  moprune hpo $DATA --trials "$trials" --top-k 1 --proxy none "$@" --out "$OUT/hpo/full-$name"
  moprune hpo $DATA --trials "$trials" --top-k 3 --proxy "$KNEE" "$@" \
    --out "$OUT/hpo/knee-$name"
  moprune hpo $DATA --trials "$trials" --top-k 3 --proxy uniform:0.25 "$@" \
    --out "$OUT/hpo/uniform25-$name"
}
for trials in 16 32; do
  hpo "$trials" tpe --sampler tpe
  hpo "$trials" tpe-hyperband --sampler tpe --pruner hyperband
  hpo "$trials" pymoo-ga --backend pymoo --sampler ga
  if [ "$trials" = 16 ] && [ ! -d "$OUT/hpo-16" ]; then cp -r "$OUT/hpo" "$OUT/hpo-16"; fi
done

# 3. Fidelity of the proxies on the same 16 quasi-random configurations: the knee (VGG: 8%
#    of the FLOPs) and uniform thinning to 25%; for the VGG also uniform thinning to the
#    knee's FLOPs, and the dense side of the front (lam 0.995, 34% of the weights,
#    compacted) pruned globally by group magnitude to 30%. The base network's 16 trainings
#    are the same for all (same configurations and seed): trained once and shared.
fidelity() {  # fidelity NAME PROXY
  if [ "$1" != knee ]; then
    mkdir -p "$OUT/fidelity/$1/fidelity"
    cp -n "$OUT"/fidelity/knee/fidelity/base-*.json "$OUT/fidelity/$1/fidelity/"
  fi
  moprune fidelity $DATA --proxy "$2" --configs 16 --out "$OUT/fidelity/$1"
}
fidelity knee "$KNEE"
fidelity uniform25 uniform:0.25
if [ "$MODEL" = vgg ]; then
  moprune compact "$KNEE/points/weighted-sum-lam0.995-e2/model.pt" \
    --out "$OUT/lam0.995-compact.pt"
  moprune compact "$OUT/lam0.995-compact.pt" --keep-flops 0.3 --mode global \
    --out "$OUT/lam0.995-global30.pt"
  fidelity uniform8 uniform:0.081
  fidelity lam0.995-global30 "$OUT/lam0.995-global30.pt"
fi

# 4. The seed noise of a test accuracy: the choices of the full and the uniform GA
#    pipelines (32 trials) trained on the base network with seeds 1-3.
if [ "$MODEL" = vgg ] && [ ! -f docs/results/proxy_hpo/vgg-seed-noise.json ]; then
  python experiments/proxy_hpo/seed_noise.py "$OUT/hpo/full-pymoo-ga" \
    "$OUT/hpo/uniform25-pymoo-ga" --out docs/results/proxy_hpo/vgg-seed-noise.json
fi

for n in 16 32; do
  hpo_dir=$OUT/hpo; [ "$n" = 16 ] && hpo_dir=$OUT/hpo-16
  python experiments/proxy_hpo/compare.py "$hpo_dir" --out "docs/results/proxy_hpo/$MODEL-$n" \
    --fidelity "$OUT"/fidelity/*/
done
