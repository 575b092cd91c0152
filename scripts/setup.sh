#!/usr/bin/env bash
# Installs everything moprune needs into the active Python environment:
#   - torch + torchvision (the pair that imports on this machine kind),
#   - moprune itself (editable) with its dev tools,
#   - Fashion-MNIST from Debian's dataset-fashion-mnist package, where apt is available.
# Idempotent: a second run installs nothing new. Runs with no standard input (CI).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

case "$(uname -m)" in
  aarch64|arm64) TORCH=2.9.1; TORCHVISION=0.24.1 ;;
  *)             TORCH=2.14.1; TORCHVISION=0.29.1 ;;
esac

have_torch() {
  "$PYTHON" - "$TORCH" "$TORCHVISION" <<'PY' 2>/dev/null
import sys
import torch, torchvision
ok = torch.__version__.split("+")[0] == sys.argv[1] and torchvision.__version__.split("+")[0] == sys.argv[2]
sys.exit(0 if ok else 1)
PY
}

if ! have_torch; then
  echo "setup: installing torch==$TORCH torchvision==$TORCHVISION"
  "$PYTHON" -m pip install --quiet "torch==$TORCH" "torchvision==$TORCHVISION"
fi

echo "setup: installing moprune and its dependencies"
"$PYTHON" -m pip install --quiet -e ".[dev]"

FMNIST=/usr/share/datasets/fashion-mnist
if [ ! -f "$FMNIST/train-images-idx3-ubyte.gz" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
    echo "setup: installing Debian's dataset-fashion-mnist"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq >/dev/null || echo "setup: apt-get update failed; trying the install anyway" >&2
    $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null \
      || echo "setup: could not install dataset-fashion-mnist; pass --data-root or --download to moprune" >&2
  else
    echo "setup: no apt-get here; pass --data-root DIR (Fashion-MNIST's IDX files) or --download to moprune train/front" >&2
  fi
fi
echo "setup: done"
