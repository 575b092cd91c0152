#!/usr/bin/env bash
# The Pareto-training results of the README, on full Fashion-MNIST with LeNet-5.
# Every step resumes when run again.
set -euo pipefail
RUN=${1:-runs}
COMMON="--model lenet5 --dataset fashion-mnist --epochs 12"

# 1. dichotomic weighted-sum front: 16 runs of 4 epochs, the chord knee retrained for 12
moprune front $COMMON --method dichotomic --budget 16 --explore-epochs 4 --out "$RUN/lenet5-dichotomic"
moprune knee "$RUN/lenet5-dichotomic" --selector chord
# 2. SMGD: one run, no weight given
moprune front $COMMON --method smgd --budget 1 --out "$RUN/lenet5-smgd"
# 3. the dense reference, same epochs
moprune train $COMMON --out "$RUN/lenet5-dense"
# 4. global magnitude pruning + fine-tuning at the front's sparsities, same epoch budget
python experiments/pareto/compare_magnitude.py "$RUN/lenet5-dichotomic" --out "$RUN/magnitude"
# 5. SMGD against the front at equal sparsity
python experiments/pareto/smgd_vs_front.py "$RUN/lenet5-dichotomic" "$RUN/lenet5-smgd"
# 6. group-l1 fronts (scope all, and conv only), their knees compacted, and the timing
moprune front $COMMON --method dichotomic --budget 16 --explore-epochs 4 --complexity group-l1 --out "$RUN/lenet5-group-l1"
moprune knee "$RUN/lenet5-group-l1" --selector chord --compact
moprune front $COMMON --method dichotomic --budget 16 --explore-epochs 4 --complexity group-l1 --scope conv --out "$RUN/lenet5-group-l1-conv"
moprune knee "$RUN/lenet5-group-l1-conv" --selector chord --compact
moprune compact "$RUN/lenet5-dichotomic"
# the small VGG's group-l1 front on 20,000 images (its knee is also the proxy of the HPO
# experiment), compacted
moprune front --model vgg --dataset fashion-mnist --limit-train 20000 --method grid \
  --lams 0,0.99,0.995,0.997,0.998,0.999 --epochs 4 --explore-epochs 2 \
  --complexity group-l1 --knee chord --out "$RUN/vgg-group-l1-grid"
moprune knee "$RUN/vgg-group-l1-grid" --selector chord --compact
python benchmarks/bench_compact.py "$RUN/vgg-group-l1-grid" "$RUN/lenet5-group-l1" \
  "$RUN/lenet5-dichotomic" "$RUN/lenet5-group-l1-conv" --json docs/results/bench_compact.json
# 7. the cost of a training step
python benchmarks/bench_step.py --json docs/results/bench_step.json
# 8. the continuation path: `make knee` over three seeds, debiased fronts against the
#    dichotomic one and magnitude pruning, the small VGG with flops (experiments/pareto/path.sh)
bash experiments/pareto/path.sh "$RUN"
