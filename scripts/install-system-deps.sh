#!/usr/bin/env bash
# Debian packages the tests need. Idempotent; runs apt as root (or through sudo).
#  - mesa-vulkan-drivers 25.x from bookworm-backports: lavapipe, the software Vulkan driver that
#    onnxruntime-node's WebGPU provider uses on a machine without a GPU (bookworm's 22.x is refused).
#  - chromium: the headless browser for the web page tests.
#  - dataset-fashion-mnist: the test set the shipped classifier is checked against.
#  - redis-server: the tests of dit generate --queue / dit worker start their own on a loopback port.
#  - binutils: strip, for the node binary scripts/gpu-kit.sh packs (the kit test checks its size).
# Set DIT_TRAINING=1 to add what training/ needs (PyTorch for /usr/bin/python3, OpenBLAS, SciPy for
# fd_reference.py's and checks.py's matrix square root).
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
pkgs=(chromium dataset-fashion-mnist redis-server binutils)
if [ "${DIT_TRAINING:-0}" = 1 ]; then pkgs+=(python3-torch python3-scipy libopenblas0-pthread); fi

missing=()
for p in mesa-vulkan-drivers "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
mesa_version=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
case "$mesa_version" in 2[5-9].*) ;; *) missing+=(mesa-vulkan-drivers) ;; esac
if [ ${#missing[@]} = 0 ]; then echo "system packages: all present"; exit 0; fi

if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/backports.list >/dev/null
fi
$SUDO apt-get update -q
$SUDO apt-get install -y -q -t bookworm-backports mesa-vulkan-drivers
$SUDO apt-get install -y -q --no-install-recommends "${pkgs[@]}"
