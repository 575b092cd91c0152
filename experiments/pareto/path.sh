#!/usr/bin/env bash
# The continuation-path results of the README (LeNet-5 and the small VGG on Fashion-MNIST).
# Run with nothing else on the machine: it reports timings. Every step resumes.
set -euo pipefail
RUN=${1:-runs}
SEEDS=${SEEDS:-"0 1 2"}
# 0. the README's `make knee` (budget 30, no per-point debiasing, the knee debiased to 12
#    epochs in all), three seeds, each timed (a resumed run is not timed again)
for s in $SEEDS; do
  start=$(date +%s.%N)
  fresh=$([ -e "$RUN/knee-s$s/front.json" ] && echo 0 || echo 1)
  moprune front --model lenet5 --dataset fashion-mnist --method path --budget 30 --epochs 10 \
    --prox --knee-epochs 12 --seed "$s" --out "$RUN/knee-s$s"
  moprune knee "$RUN/knee-s$s" --selector chord
  if [ "$fresh" = 1 ]; then
    python -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(date +%s.%N)" \
      > "$RUN/knee-s$s.seconds"
  fi
done
# 1. the path front, three seeds, every point debiased by 1 epoch; the chord knee
#    (validation error, kept share) debiased to 12 epochs in all
for s in $SEEDS; do
  moprune front --model lenet5 --method path --budget 25 --epochs 10 --prox --finetune 1 \
    --knee-epochs 12 --seed "$s" --out "$RUN/lenet5-path-s$s"
  moprune knee "$RUN/lenet5-path-s$s" --selector chord
done
# 2. the debiased path against magnitude pruning + fine-tuning, equal epochs per network
#    (the dense network trained the path point's epochs rounded up: the first rule)
for s in $SEEDS; do
  python experiments/pareto/path_vs_magnitude.py "$RUN/lenet5-path-s$s" --whole-epochs \
    --out "$RUN/path-vs-magnitude-s$s"
done
mkdir -p docs/results/path
cp "$RUN/path-vs-magnitude-s${SEEDS%% *}/comparison.png" docs/results/path/path_vs_magnitude_s0.png
# 2b. the same paths with every point debiased 3 epochs (79 epochs in all, about the
#     dichotomic front's 76), against magnitude pruning trained the path point's exact
#     mini-batch steps, then fine-tuned the same 3 epochs
for s in $SEEDS; do
  moprune front --model lenet5 --method path --budget 25 --epochs 10 --prox --finetune 3 \
    --knee-epochs 12 --seed "$s" --out "$RUN/lenet5-path-ft3-s$s"
  python experiments/pareto/path_vs_magnitude.py "$RUN/lenet5-path-ft3-s$s" \
    --out "$RUN/path-vs-magnitude-ft3-steps-s$s"
done
cp "$RUN/path-vs-magnitude-ft3-steps-s${SEEDS%% *}/comparison.png" \
  docs/results/path/path_vs_magnitude_ft3_s0.png
# 3. the dense reference (12 epochs) and the dichotomic front of the former `make knee`
moprune train --model lenet5 --epochs 12 --out "$RUN/lenet5-dense"
for s in $SEEDS; do
  [ "$s" = 0 ] || moprune train --model lenet5 --epochs 12 --seed "$s" --out "$RUN/lenet5-dense-s$s"
done
moprune front --model lenet5 --method dichotomic --budget 16 --epochs 12 --explore-epochs 4 \
  --out "$RUN/lenet5-dichotomic"
python experiments/pareto/path_summary.py "$RUN" --seeds $SEEDS --out docs/results/path \
  --make-knee knee-s
python experiments/pareto/path_summary.py "$RUN" --seeds $SEEDS --out docs/results/path/ft3 \
  --paths lenet5-path-ft3-s --magnitude path-vs-magnitude-ft3-steps-s
# 4. the wall time of the path against one dense training of the same epochs
python benchmarks/bench_path.py --epochs 10 --repeats 3 --json docs/results/bench_path.json
# 5. the small VGG with the flops complexity on 20,000 images: its compute knee compacted
moprune front --model vgg --limit-train 20000 --method path --complexity flops --prox \
  --budget 20 --epochs 8 --knee-epochs 10 --out "$RUN/vgg-flops-path"
moprune knee "$RUN/vgg-flops-path" --selector chord --compact
moprune train --model vgg --limit-train 20000 --epochs 10 --out "$RUN/vgg-dense"
# 6. the same path with group-l1 on the small VGG (is the cliff the flops weighting's?)
moprune front --model vgg --limit-train 20000 --method path --complexity group-l1 --prox \
  --budget 20 --epochs 8 --knee-epochs 10 --knee-axes flops --out "$RUN/vgg-group-l1-path"
# 7. the flops path on the small VGG from lam 0.99, every point debiased one epoch
moprune front --model vgg --limit-train 20000 --method path --complexity flops --prox \
  --budget 20 --epochs 8 --path-start-lam 0.99 --path-max-drop 0.3 --finetune 1 \
  --knee-epochs 10 --out "$RUN/vgg-flops-path-ft"
moprune knee "$RUN/vgg-flops-path-ft" --selector chord --compact
# 8. the same flops path over 20 epochs (the pruning needs the time: at 8 epochs it ran out
#    at 1.47x), its knee debiased to 22 epochs in all, against a dense VGG of 22 epochs
moprune front --model vgg --limit-train 20000 --method path --complexity flops --prox \
  --budget 20 --epochs 20 --path-start-lam 0.99 --path-max-drop 0.3 --finetune 1 \
  --knee-epochs 22 --out "$RUN/vgg-flops-path-20"
moprune knee "$RUN/vgg-flops-path-20" --selector chord --compact
moprune train --model vgg --limit-train 20000 --epochs 22 --out "$RUN/vgg-dense-22"
python experiments/pareto/vgg_flops_table.py "$RUN/vgg-flops-path-20" --dense "$RUN/vgg-dense-22" \
  --out docs/results/path/vgg_flops_path_20.md

# 8b. The same front within a budget of 5x fewer FLOPs (moprune knee --max-share 0.2: the
#     most accurate non-dominated point keeping <= 20% of the FLOPs, debiased to 22 epochs
#     in all) on three seeds, each against the dense VGG of its seed and 22 epochs (about
#     90 minutes per seed on 2 CPU cores; every step resumes)
for s in 0 1 2; do
  suffix=$([ "$s" = 0 ] || echo "-s$s")
  moprune front --model vgg --limit-train 20000 --method path --complexity flops --prox \
    --budget 20 --epochs 20 --path-start-lam 0.99 --path-max-drop 0.3 --finetune 1 \
    --knee-epochs 22 --seed "$s" --out "$RUN/vgg-flops-path-20$suffix"
  moprune knee "$RUN/vgg-flops-path-20$suffix" --max-share 0.2 --compact
  moprune train --model vgg --limit-train 20000 --epochs 22 --seed "$s" \
    --out "$RUN/vgg-dense-22$suffix"
done
python experiments/pareto/vgg_budget_summary.py "$RUN" --seeds 0 1 2 \
  --out docs/results/path/vgg_flops_budget

# 9. gradual magnitude pruning (Zhu & Gupta; moprune.GradualMagnitudePruning) against the
#    dense LeNet-5, 12 epochs per network, 3 seeds: the stronger magnitude baseline at the
#    knee's budget (about 25 minutes)
#    (one thread per run, as measured; the same with two threads: gmp_knee_2threads)
for args in "--sparsity 0.89 0.95 0.97 0.98" "--sparsity 0.97 --begin 0 --end 6" \
            "--sparsity 0.97 --begin 2 --end 10"; do
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=1 python experiments/pareto/gmp_knee.py $args --out docs/results/path/gmp_knee
done
python experiments/pareto/gmp_knee.py --sparsity 0.89 0.95 0.97 0.98 \
  --out docs/results/path/gmp_knee_2threads
# 9b. GMP to 3% kept given three times the epochs (36, cuts from epoch 3 to 24), against
#     the dense network at 12 epochs and at 36: is <= 3% within 1 point out of LeNet-5's
#     reach, or only out of 12 epochs' reach? With the 12-epoch GMP of the same machine
#     (AMD EPYC, 2026-12-07) beside it (one thread per run, about 45 minutes)
OMP_NUM_THREADS=1 python experiments/pareto/gmp_knee.py --sparsity 0.95 0.97 \
  --out docs/results/path/gmp_knee_cpu3
for dense in 12 36; do
  OMP_NUM_THREADS=1 python experiments/pareto/gmp_knee.py --sparsity 0.97 --epochs 36 \
    --begin 3 --end 24 --dense-epochs "$dense" --out docs/results/path/gmp_knee_e36
done
# 9c. the same 12-epoch GMP to 3% kept with weight decay 5e-4, then with label smoothing
#     0.1, for both networks (the default recipe has neither): does a regulariser lift the
#     sparse network more than the dense one? (AMD EPYC, 2026-12-07; one thread, about 7
#     minutes each)
OMP_NUM_THREADS=1 python experiments/pareto/gmp_knee.py --sparsity 0.97 --weight-decay 5e-4 \
  --out docs/results/path/gmp_knee_wd
OMP_NUM_THREADS=1 python experiments/pareto/gmp_knee.py --sparsity 0.97 --label-smoothing 0.1 \
  --out docs/results/path/gmp_knee_ls
# 9d. the same 12-epoch GMP at 5% and 3% kept, cutting by LAMP score (Lee et al. 2021)
#     instead of one global magnitude threshold, beside step 9b's GMP by magnitude: does
#     another allocation of the kept weights across the layers lift it? (AMD EPYC,
#     2026-12-07; one thread, about 8 minutes)
OMP_NUM_THREADS=1 python experiments/pareto/gmp_knee.py --sparsity 0.97 0.95 --importance lamp \
  --out docs/results/path/gmp_knee_cpu3

# 10. the path with the magnitude corrector (the smallest weights cut, f1 trained alone in
#     between): `make knee`'s settings without prox, budgets 30 and 40, 3 seeds; its knees
#     and budget choices at 12 epochs in all; summary against the l1 fronts of step 0
for s in $SEEDS; do
  for b in 30 40; do
    moprune front --model lenet5 --dataset fashion-mnist --method path \
      --path-corrector magnitude --budget "$b" --epochs 10 --knee-epochs 12 --seed "$s" \
      --out "$RUN/mag$b-s$s"
    moprune knee "$RUN/mag$b-s$s" --selector chord
  done
  for share in 0.03 0.05; do
    moprune knee "$RUN/mag30-s$s" --max-share "$share" --axes kept
  done
done
python experiments/pareto/path_summary.py "$RUN" --seeds $SEEDS --paths mag30-s \
  --magnitude none-s --make-knee knee-s --out docs/results/path/magnitude
python benchmarks/bench_path.py --epochs 10 --budget 30 --corrector magnitude --repeats 3 \
  --json docs/results/bench_path_magnitude.json

# 11. the magnitude path, every point debiased one epoch, against magnitude pruning +
#     fine-tuning at equal epochs per network (one thread per run, as measured): read at
#     the path's own non-dominated points, and on a grid of sparsities from 50% to 99%
#     (the path answering with its non-dominated point at least that sparse); then the
#     same with 5 and 7 warm-up epochs at lam 0 instead of 2.5 (`--path-warmup 5`)
GRID="0.5 0.6 0.7 0.8 0.9 0.95 0.97 0.98 0.99"
warmup_tag() { [ "$1" = 2.5 ] && echo "" || echo "w$1"; }  # 2.5: the default, no tag
# the debiased magnitude path of seed $2 with $1 warm-up epochs, its knee, and the grid
magnitude_path_grid() {
  local front="$RUN/mag30$(warmup_tag "$1")-ft1-s$2"
  OMP_NUM_THREADS=1 moprune front --model lenet5 --dataset fashion-mnist --method path \
    --path-corrector magnitude --budget 30 --epochs 10 --finetune 1 --path-warmup "$1" \
    --knee-epochs 12 --seed "$2" --out "$front"
  OMP_NUM_THREADS=1 moprune knee "$front" --selector chord
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=1 python experiments/pareto/path_vs_magnitude.py "$front" \
    --sparsities $GRID --out "$RUN/mag$(warmup_tag "$1")-vs-magnitude-grid-s$2"
}
for w in 2.5 5 7; do
  tag=$(warmup_tag "$w")
  for s in $SEEDS; do
    magnitude_path_grid "$w" "$s"
    OMP_NUM_THREADS=1 python experiments/pareto/path_vs_magnitude.py "$RUN/mag30$tag-ft1-s$s" \
      --out "$RUN/mag$tag-vs-magnitude-ft1-s$s"
  done
  python experiments/pareto/path_summary.py "$RUN" --seeds $SEEDS --paths "mag30$tag-ft1-s" \
    --magnitude "mag$tag-vs-magnitude-ft1-s" --out "docs/results/path/magnitude$tag-ft1"
  python experiments/pareto/path_summary.py "$RUN" --seeds $SEEDS --paths "mag30$tag-ft1-s" \
    --magnitude "mag$tag-vs-magnitude-grid-s" --out "docs/results/path/magnitude$tag-ft1-grid"
done
# 11b. the grid with 5 warm-up epochs on two more seeds, and their dense networks
for s in 3 4; do
  OMP_NUM_THREADS=1 moprune train --model lenet5 --epochs 12 --seed "$s" \
    --out "$RUN/lenet5-dense-s$s"
  magnitude_path_grid 5 "$s"
done
python experiments/pareto/path_summary.py "$RUN" --seeds 0 1 2 3 4 --paths mag30w5-ft1-s \
  --magnitude magw5-vs-magnitude-grid-s --out docs/results/path/magnitudew5-ft1-grid-5seeds

# 12. the magnitude path from a first cut of 83% (--path-start-lam 0.9), budgets 40 and 50,
#     with the default 2.5 and with 5 warm-up epochs (one thread per run, as measured), its
#     non-dominated points and hypervolume against step 3's dichotomic front run with
#     one thread too, and its wall time against one dense training (machine idle, two
#     threads)
OMP_NUM_THREADS=1 moprune front --model lenet5 --method dichotomic --budget 16 --epochs 12 \
  --explore-epochs 4 --out "$RUN/lenet5-dichotomic-1thread"
for b in 40 50; do
  for s in $SEEDS; do
    for w in 2.5 5; do
      tag=$(warmup_tag "$w")
      OMP_NUM_THREADS=1 moprune front --model lenet5 --dataset fashion-mnist --method path \
        --path-corrector magnitude --budget "$b" --epochs 10 --path-start-lam 0.9 \
        --path-warmup "$w" --knee-epochs 12 --seed "$s" --out "$RUN/mag${b}st9$tag-s$s"
      OMP_NUM_THREADS=1 moprune knee "$RUN/mag${b}st9$tag-s$s" --selector chord
    done
  done
  python benchmarks/bench_path.py --epochs 10 --budget "$b" --start-lam 0.9 --warmup 5 \
    --corrector magnitude --repeats 3 --json "docs/results/bench_path_magnitude_b${b}w5.json"
done
python experiments/pareto/path_summary.py "$RUN" --seeds $SEEDS --paths mag50st9w5-s \
  --magnitude none-s --also mag40st9w5-s mag50st9-s mag40st9-s \
  --dichotomic lenet5-dichotomic-1thread --out docs/results/path/magnitude-nd

# 13. the small VGG's compute knee from the channel corrector (whole channels cut along the
#     FLOPs share, f1 trained in between), 20,000 images, 10 path epochs (3 dense), its
#     chord knee in (validation error, FLOPs share) debiased to 12 epochs in all and
#     compacted, against the dense VGG of 12 epochs, 8 seeds (5-7 were run after 0-4 were
#     read; about 18-24 minutes per seed with its dense VGG on 2 CPU cores, alone on the
#     machine)
for s in 0 1 2 3 4 5 6 7; do
  moprune front --model vgg --dataset fashion-mnist --limit-train 20000 --method path \
    --complexity flops --path-corrector channel --budget 20 --epochs 10 --path-warmup 3 \
    --path-start-lam 0.5 --knee-epochs 12 --seed "$s" --out "$RUN/vgg-channel-s$s"
  moprune knee "$RUN/vgg-channel-s$s" --selector chord --compact
  moprune train --model vgg --dataset fashion-mnist --limit-train 20000 --epochs 12 \
    --seed "$s" --out "$RUN/vgg-dense-12-s$s"
done
# the same fronts read three more ways (each point debiased to 12 epochs in all and
# compacted): the knee rule of the HPO proxy (the chord knee of the points keeping at
# least 5% of the FLOPs, then the smallest within 2 points of its validation accuracy),
# the 5x budget of the target (the most accurate point keeping at most 20%), and that
# budget with ties (the largest point within two standard errors of the most accurate)
for s in 0 1 2 3 4 5 6 7; do
  moprune knee "$RUN/vgg-channel-s$s" --axes flops --floor 0.05 --tolerance 0.02 --compact
  moprune knee "$RUN/vgg-channel-s$s" --max-share 0.2 --compact
  moprune knee "$RUN/vgg-channel-s$s" --max-share 0.2 --noise auto --compact
done
for stem in knee-chord knee-chord-floor0.05-tol0.02 knee-max-flops0.2 \
    knee-max-flops0.2-noiseauto; do
  # shellcheck disable=SC2016
  python experiments/pareto/vgg_budget_summary.py "$RUN" --seeds 0 1 2 3 4 5 6 7 \
    --knee "$stem" --front 'vgg-channel-s{seed}' --dense 'vgg-dense-12-s{seed}' \
    --out "docs/results/path/vgg_channel_knee_readings/$stem"
done
# every point debiased one epoch first (the knee read on debiased objectives), seed 0
moprune front --model vgg --dataset fashion-mnist --limit-train 20000 --method path \
  --complexity flops --path-corrector channel --budget 20 --epochs 10 --path-warmup 3 \
  --path-start-lam 0.5 --finetune 1 --knee-epochs 12 --seed 0 --out "$RUN/vgg-channel-ft1-s0"
moprune knee "$RUN/vgg-channel-ft1-s0" --selector chord --compact
# shellcheck disable=SC2016
python experiments/pareto/vgg_budget_summary.py "$RUN" --seeds 0 1 2 3 4 --knee knee-chord \
  --front 'vgg-channel-s{seed}' --dense 'vgg-dense-12-s{seed}' \
  --out docs/results/path/vgg_channel_knee

# 14. the magnitude path (5 warm-up epochs) against magnitude pruning on the 50-99% grid
#     with every network at 12 epochs in all: each path point debiased from its raw
#     network to 12 epochs (its non-dominated ones form the front), each twin fine-tuned
#     what is left of 12 epochs after the point's steps (one thread per run, as measured;
#     about 28 minutes per seed). The grid is read two ways: at s, the least sparse
#     non-dominated point at least s sparse, and with validation ties (of the points at
#     least s sparse within two standard errors of the best one's validation accuracy, the
#     least sparse: --noise auto). magnitudew5-t12-grid is seeds $SEEDS on the machine of
#     2026-12-06; the -cpu3 summaries are five seeds on a third CPU (AMD EPYC, 2026-12-07),
#     with the dense networks of every seed trained at one thread
magnitude_path_grid12() {  # one seed of step 14: the front, its knee, both grid readings
  OMP_NUM_THREADS=1 moprune front --model lenet5 --dataset fashion-mnist --method path \
    --path-corrector magnitude --budget 30 --epochs 10 --path-warmup 5 --knee-epochs 12 \
    --seed "$1" --out "$RUN/mag30w5-s$1"
  OMP_NUM_THREADS=1 moprune knee "$RUN/mag30w5-s$1" --selector chord
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=1 python experiments/pareto/path_vs_magnitude.py "$RUN/mag30w5-s$1" \
    --total-epochs 12 --sparsities $GRID --out "$RUN/magw5-t12-grid-s$1"
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=1 python experiments/pareto/path_vs_magnitude.py "$RUN/mag30w5-s$1" \
    --total-epochs 12 --sparsities $GRID --noise auto --out "$RUN/magw5-t12-noise-grid-s$1"
}
for s in 0 1 2 3 4; do
  magnitude_path_grid12 "$s"
done
python experiments/pareto/path_summary.py "$RUN" --seeds $SEEDS --paths mag30w5-s \
  --magnitude magw5-t12-grid-s --dichotomic none --out docs/results/path/magnitudew5-t12-grid
for reading in grid noise-grid; do
  python experiments/pareto/path_summary.py "$RUN" --seeds 0 1 2 3 4 --paths mag30w5-s \
    --magnitude "magw5-t12-$reading-s" --dichotomic none \
    --out "docs/results/path/magnitudew5-t12-$reading-cpu3"
done

# 15. four more seeds of step 14 on the same kind of CPU (AMD EPYC, 2026-12-07, two runs at
#     a time, nothing else running), both readings declared before the runs, with their
#     dense networks at one thread; then both readings pooled with seeds 0-4 (9 seeds)
for s in 5 6 7 8; do
  magnitude_path_grid12 "$s"
  OMP_NUM_THREADS=1 moprune train --model lenet5 --epochs 12 --seed "$s" \
    --out "$RUN/lenet5-dense-s$s"
done
for reading in grid noise-grid; do
  python experiments/pareto/path_summary.py "$RUN" --seeds 5 6 7 8 --paths mag30w5-s \
    --magnitude "magw5-t12-$reading-s" --dichotomic none \
    --out "docs/results/path/magnitudew5-t12-$reading-s5-8"
  python experiments/pareto/pool_bands.py \
    "docs/results/path/magnitudew5-t12-$reading-cpu3/summary.json" \
    "docs/results/path/magnitudew5-t12-$reading-s5-8/summary.json" \
    --out "docs/results/path/magnitudew5-t12-$reading-9seeds"
done
