# Sourced by run.sh and knee_proxy.sh: the old knee proxy, the chord knee of a group-l1
# front, compacted. Resumes if it is there already.
#   group_l1_knee RUN MODEL   sets GROUP_L1 to the front's run directory
# VGG: six weights, two epochs each on 20,000 images, the knee retrained for four.
# LeNet-5: the dichotomic front of experiments/pareto/run.sh.
group_l1_knee() {
  local run=$1 model=$2
  case $model in
    vgg) GROUP_L1=$run/vgg-group-l1-grid
         moprune front --model vgg --dataset fashion-mnist --limit-train 20000 --method grid \
           --lams 0,0.99,0.995,0.997,0.998,0.999 --epochs 4 --explore-epochs 2 \
           --complexity group-l1 --knee chord --out "$GROUP_L1" ;;
    lenet5) GROUP_L1=$run/lenet5-group-l1
         moprune front --model lenet5 --dataset fashion-mnist --epochs 12 --method dichotomic \
           --budget 16 --explore-epochs 4 --complexity group-l1 --out "$GROUP_L1" ;;
    *) echo "MODEL must be vgg or lenet5" >&2; exit 2 ;;
  esac
  moprune knee "$GROUP_L1" --selector chord --compact
}
