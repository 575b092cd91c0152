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
#      kneel1-METHOD    the old knee: the chord knee of the group-l1 front that
#                       experiments/proxy_hpo/run.sh makes (VGG: 6-weight grid on 20,000
#                       images), compacted, top 3; that front's training is its creation
#    ROWS picks the proxies (default: all but kneel1 on LeNet-5; on the VGG the prox
#    path's knee keeps over 95% of the FLOPs and is refused, so its rows are left out
#    there) and METHODS the HPO methods; the full pipeline of a method always runs first.
#    SEEDS= (set and empty) runs no HPO: only the fronts and the fidelity of FIDELITY_ROWS.
# 3. Fidelity of each proxy: CONFIGS Sobol configurations x FSEEDS seeds, bootstrap
#    intervals; the base network's trainings are shared.
# 4. compare.py: the table (mean over seeds), docs/results/proxy_hpo/summary.json.
set -euo pipefail
RUN=${1:-runs}
MODEL=${MODEL:-lenet5}
LIMIT=${LIMIT:-10000}
EPOCHS=${EPOCHS:-2}
TRIALS=${TRIALS:-32}
SEEDS=${SEEDS-"0 1 2"}
FLOOR=${FLOOR:-0.2}
CH_FLOOR=${CH_FLOOR:-0.05}
TOL=${TOL:-0.02}
CONFIGS=${CONFIGS:-24}
FSEEDS=${FSEEDS:-2}
PATH_EPOCHS=${PATH_EPOCHS:-10}
BUDGET=${BUDGET:-30}
RESULTS=${RESULTS:-docs/results/proxy_hpo}
METHODS=${METHODS:-"tpe tpe-hyperband pymoo-ga"}
case $MODEL in
  vgg) ROWS=${ROWS:-"kneechmup kneechtol uniform25 kneel1"} ;;
  *) ROWS=${ROWS:-"knee kneemup kneechmup kneechtol uniform25"} ;;
esac
DATA="--model $MODEL --dataset fashion-mnist --limit-train $LIMIT --epochs $EPOCHS"
OUT=$RUN/knee_proxy/$MODEL

# (from lam 0.99 down to 30 points under the dense accuracy, as the VGG's flops path: from
#  the default 0.5 the flops path on LeNet-5 stays at 96% of the FLOPs over 10 epochs)
FIDELITY_ROWS=${FIDELITY_ROWS-"$ROWS kneech"}
wants() { case " $ROWS $FIDELITY_ROWS " in *" $1 "*) return 0 ;; esac; return 1; }
if wants knee || wants kneemup; then
moprune front --model "$MODEL" --dataset fashion-mnist --limit-train "$LIMIT" --method path \
  --complexity flops --prox --budget "$BUDGET" --epochs "$PATH_EPOCHS" \
  --path-start-lam 0.99 --path-max-drop 0.3 --out "$OUT/path"
fi
KNEE="--proxy $OUT/path --proxy-flops-floor $FLOOR"
moprune front --model "$MODEL" --dataset fashion-mnist --limit-train "$LIMIT" --method path \
  --complexity flops --path-corrector channel --budget 20 --epochs 5 --path-warmup 1 \
  --limit-eval 2000 --path-start-lam 0.2 --path-max-drop 0.3 --out "$OUT/path-channel"
KNEECH_SHAPE="--proxy $OUT/path-channel --proxy-flops-floor $CH_FLOOR"
KNEECH="$KNEECH_SHAPE --lr-transfer mup"
KNEETOL="$KNEECH --proxy-tolerance $TOL"
if wants kneel1; then  # the same front and knee as experiments/proxy_hpo/run.sh
  # shellcheck source=experiments/proxy_hpo/group_l1_knee.sh
  . "$(dirname "$0")/group_l1_knee.sh"
  group_l1_knee "$RUN" "$MODEL"
  L1=$GROUP_L1
fi

proxy_args() {  # proxy_args ROW: sets $args, the proxy's options
  case $1 in
    knee) args=$KNEE ;;
    kneemup) args="$KNEE --lr-transfer mup" ;;
    kneechmup) args=$KNEECH ;;
    kneech) args=$KNEECH_SHAPE ;;
    kneechtol) args=$KNEETOL ;;
    uniform25) args="--proxy uniform:0.25" ;;
    kneel1) args="--proxy $L1" ;;
    *) echo "unknown row $1" >&2; exit 2 ;;
  esac
}

for s in $SEEDS; do
  for method in $METHODS; do
    case $method in
      tpe) how="--sampler tpe" ;;
      tpe-hyperband) how="--sampler tpe --pruner hyperband" ;;
      pymoo-ga) how="--backend pymoo --sampler ga" ;;
      *) echo "unknown method $method" >&2; exit 2 ;;
    esac
    hpo="moprune hpo $DATA --seed $s --trials $TRIALS $how"
    $hpo --top-k 1 --proxy none --out "$OUT/hpo-s$s/full-$method"
    for row in $ROWS; do
      proxy_args "$row"
      # shellcheck disable=SC2086
      $hpo --top-k 3 $args --out "$OUT/hpo-s$s/$row-$method"
    done
  done
done

# the base network's trainings are the same for every proxy: copied from the first one
first=""
for row in $FIDELITY_ROWS; do
  proxy_args "$row"
  if [ -n "$first" ]; then
    mkdir -p "$OUT/fidelity/$row/fidelity"
    cp -n "$OUT/fidelity/$first"/fidelity/base-*.json "$OUT/fidelity/$row/fidelity/" 2>/dev/null || true
  fi
  first=${first:-$row}
  # shellcheck disable=SC2086
  moprune fidelity $DATA --configs "$CONFIGS" --seeds "$FSEEDS" $args --out "$OUT/fidelity/$row"
done

dirs=""
for s in $SEEDS; do dirs="$dirs $OUT/hpo-s$s"; done
[ -n "$dirs" ] || exit 0  # no HPO run: nothing to compare (fidelity.json is in each run)
shopt -s nullglob
fids=("$OUT"/fidelity/*/)
# shellcheck disable=SC2086
python experiments/proxy_hpo/compare.py $dirs ${fids[@]:+--fidelity "${fids[@]}"} \
  --out "$RESULTS/$MODEL-knee-proxy" --summary "$RESULTS/summary.json"
