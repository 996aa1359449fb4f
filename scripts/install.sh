#!/usr/bin/env bash
# One-command set-up on Debian bookworm with Node.js 20: system packages, then npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
# onnxruntime-node's install script would try to download CUDA libraries; its CPU and WebGPU
# providers ship inside the npm package, so skip it.
export ONNXRUNTIME_NODE_INSTALL=skip
npm ci
