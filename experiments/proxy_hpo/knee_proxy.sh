#!/usr/bin/env bash
# The knee proxy, made and measured as issue 12 asks, on LeNet-5 (or MODEL=vgg):
#   bash experiments/proxy_hpo/knee_proxy.sh [RUN]      (LeNet-5: about 45 minutes on 2
#                                                        CPU cores; resumes when rerun)
# Run it with nothing else on the machine: it reports timings.
# 1. Two continuation paths with the flops complexity on the HPO's own training subset
#    (LIMIT images); a proxy is a path's knee in (validation error, FLOPs share) among the
#    points keeping at least its floor of the FLOPs, compacted, not retrained. Its
#    creation time is the whole path.
#      path          l1 proximal path from lam 0.99 (the "old" knee; FLOOR)
#      path-channel  channel corrector: whole channels cut by layer-normalised norm along
#                    the FLOPs share, 5 epochs (1 dense), 2000 evaluation images per point
#                    (CH_FLOOR; only the knee's shape is used, so its points need not be
#                    trained long nor measured on every image)
# 2. For each seed and each HPO method (TPE; TPE + Hyperband; pymoo GA), TRIALS trials:
#      full-METHOD      trials on the base network, its best transferred (read from the
#                       identical trial, not trained again)
#      knee-METHOD      trials on the knee, top 3 trained on the base network
#      kneemup-METHOD   the same with muP's per-layer lr factors (--lr-transfer mup)
#      kneechmup-METHOD the channel path's knee, with muP's factors, top 3
#      kneechtol-METHOD the same with --proxy-tolerance TOL: the smallest network above
#                       the floor within TOL of the knee's validation accuracy (the
#                       channel path is flat within its noise: see the README)
#      uniform25-METHOD the base thinned uniformly to 25% of its FLOPs, top 3
# 3. Fidelity of each proxy: CONFIGS Sobol configurations x FSEEDS seeds, bootstrap
#    intervals; the base network's trainings are shared.
# 4. compare.py: the table (mean over seeds), docs/results/proxy_hpo/summary.json.
set -euo pipefail
RUN=${1:-runs}
MODEL=${MODEL:-lenet5}
LIMIT=${LIMIT:-10000}
EPOCHS=${EPOCHS:-2}
TRIALS=${TRIALS:-32}
SEEDS=${SEEDS:-"0 1 2"}
FLOOR=${FLOOR:-0.2}
CH_FLOOR=${CH_FLOOR:-0.05}
TOL=${TOL:-0.02}
CONFIGS=${CONFIGS:-24}
FSEEDS=${FSEEDS:-2}
PATH_EPOCHS=${PATH_EPOCHS:-10}
BUDGET=${BUDGET:-30}
RESULTS=${RESULTS:-docs/results/proxy_hpo}
DATA="--model $MODEL --dataset fashion-mnist --limit-train $LIMIT --epochs $EPOCHS"
OUT=$RUN/knee_proxy/$MODEL

# (from lam 0.99 down to 30 points under the dense accuracy, as the VGG's flops path: from
#  the default 0.5 the flops path on LeNet-5 stays at 96% of the FLOPs over 10 epochs)
moprune front --model "$MODEL" --dataset fashion-mnist --limit-train "$LIMIT" --method path \
  --complexity flops --prox --budget "$BUDGET" --epochs "$PATH_EPOCHS" \
  --path-start-lam 0.99 --path-max-drop 0.3 --out "$OUT/path"
KNEE="--proxy $OUT/path --proxy-flops-floor $FLOOR"
moprune front --model "$MODEL" --dataset fashion-mnist --limit-train "$LIMIT" --method path \
  --complexity flops --path-corrector channel --budget 20 --epochs 5 --path-warmup 1 \
  --limit-eval 2000 --path-start-lam 0.2 --path-max-drop 0.3 --out "$OUT/path-channel"
KNEECH="--proxy $OUT/path-channel --proxy-flops-floor $CH_FLOOR --lr-transfer mup"
KNEETOL="$KNEECH --proxy-tolerance $TOL"

for s in $SEEDS; do
  for method in tpe tpe-hyperband pymoo-ga; do
    case $method in
      tpe) how="--sampler tpe" ;;
      tpe-hyperband) how="--sampler tpe --pruner hyperband" ;;
      pymoo-ga) how="--backend pymoo --sampler ga" ;;
    esac
    hpo="moprune hpo $DATA --seed $s --trials $TRIALS $how"
    $hpo --top-k 1 --proxy none --out "$OUT/hpo-s$s/full-$method"
    $hpo --top-k 3 $KNEE --out "$OUT/hpo-s$s/knee-$method"
    $hpo --top-k 3 $KNEE --lr-transfer mup --out "$OUT/hpo-s$s/kneemup-$method"
    $hpo --top-k 3 $KNEECH --out "$OUT/hpo-s$s/kneechmup-$method"
    $hpo --top-k 3 $KNEETOL --out "$OUT/hpo-s$s/kneechtol-$method"
    $hpo --top-k 3 --proxy uniform:0.25 --out "$OUT/hpo-s$s/uniform25-$method"
  done
done

fidelity() {  # fidelity NAME ARGS...
  local name=$1; shift
  if [ "$name" != knee ]; then  # the base network's trainings: the same for every proxy
    mkdir -p "$OUT/fidelity/$name/fidelity"
    cp -n "$OUT"/fidelity/knee/fidelity/base-*.json "$OUT/fidelity/$name/fidelity/" 2>/dev/null || true
  fi
  moprune fidelity $DATA --configs "$CONFIGS" --seeds "$FSEEDS" "$@" --out "$OUT/fidelity/$name"
}
fidelity knee $KNEE
fidelity kneemup $KNEE --lr-transfer mup
fidelity kneechmup $KNEECH
fidelity kneechtol $KNEETOL
fidelity kneech --proxy "$OUT/path-channel" --proxy-flops-floor "$CH_FLOOR"
fidelity uniform25 --proxy uniform:0.25

dirs=""
for s in $SEEDS; do dirs="$dirs $OUT/hpo-s$s"; done
# shellcheck disable=SC2086
python experiments/proxy_hpo/compare.py $dirs --fidelity "$OUT"/fidelity/*/ \
  --out "$RESULTS/$MODEL-knee-proxy" --summary "$RESULTS/summary.json"
