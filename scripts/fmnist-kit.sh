#!/usr/bin/env bash
# Copies Debian's Fashion-MNIST files (dataset-fashion-mnist, ~31 MB gzipped) into .fmnist/
# (git-ignored) so that a call to the lent GPU machine can carry them for training/gpu_round.py:
#   run(command='cd training && PYTHONUNBUFFERED=1 python3 gpu_round.py --out "$OUT" 2>&1 | tee "$OUT/log.txt"', carry=[".fmnist"])
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src=${FMNIST_SOURCE:-/usr/share/datasets/fashion-mnist}
mkdir -p "$root/.fmnist"
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
  [ -f "$src/$f" ] || { echo "fmnist-kit: $src/$f is missing: apt-get install dataset-fashion-mnist" >&2; exit 1; }
  cp "$src/$f" "$root/.fmnist/$f"
done
du -sh "$root/.fmnist"
