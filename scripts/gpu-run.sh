#!/usr/bin/env bash
# Runs a command with the kit that scripts/gpu-kit.sh packed, on a machine without Node.js (the
# GPU machine of docs/gpu/README.md):
#
#   scripts/gpu-run.sh dit bench --device webgpu --json
#   scripts/gpu-run.sh bash bench/gpu.sh "$OUT"
#
# It unpacks the kit into $DIT_GPU_DEST (default /tmp/dit-kit; skipped when that copy is of the
# same kit), completes the app there with what travels in the checkout (bin/, assets/,
# package.json, bench/), installs the Vulkan loader from the kit's debs when the system has none,
# points Vulkan at the NVIDIA driver when its ICD file exists, and runs the command with the
# kit's node and a `dit` first on PATH. The command runs in the current folder.
#
# Environment: DIT_GPU_KIT (default: the checkout's .gpu-kit), DIT_GPU_DEST (default /tmp/dit-kit),
# DIT_GPU_PRIVATE_GL=1 (unpack the loader debs under DIT_GPU_DEST, never into /).
# The command sees DIT_APP (the unpacked app), DIT_KIT, and DIT_OFFICIAL_MODELS_PY and DIT_FIXTURES
# where the kit packed them.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kit=${DIT_GPU_KIT:-$root/.gpu-kit}
dest=${DIT_GPU_DEST:-/tmp/dit-kit}
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
nvidia_egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json

say() { printf 'gpu-run: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[ $# -ge 1 ] || die "usage: scripts/gpu-run.sh COMMAND [ARGS...]  (e.g. dit bench --device webgpu)"
[ -f "$kit/manifest.json" ] || die "no kit at $kit (build it with scripts/gpu-kit.sh; carry .gpu-kit)"

# xz through tar where the tools exist, else through Python's lzma (any image with python3).
untar_xz() {
  if command -v xz >/dev/null 2>&1; then
    xz -dc "$1" | tar -xf - -C "$2"
  else
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$1" "$2"
  fi
}

# --- 1. unpack (once per kit) ---------------------------------------------------------------
stamp=$(cksum <"$kit/manifest.json")
if [ "$(cat "$dest/.kit-stamp" 2>/dev/null || true)" != "$stamp" ]; then
  if [ -d "$dest" ] && [ -n "$(ls -A "$dest")" ] && [ ! -f "$dest/.kit-stamp" ]; then die "$dest is not empty and holds no unpacked kit: set DIT_GPU_DEST to a new folder"; fi
  rm -rf "$dest"
  mkdir -p "$dest/app"
  untar_xz "$kit/node.tar.xz" "$dest"
  untar_xz "$kit/ort.tar.xz" "$dest/app"
  untar_xz "$kit/app.tar.xz" "$dest/app"
  echo "$stamp" >"$dest/.kit-stamp"
fi
# What the checkout carries is copied afresh each run: it may have changed since the unpacking.
# (Copies, not links: Node resolves a module's imports from its real path.)
rm -rf "$dest/app/bin" "$dest/app/assets" "$dest/app/bench"
cp -R "$root/bin" "$root/assets" "$root/bench" "$dest/app/"
cp "$root/package.json" "$dest/app/"
mkdir -p "$dest/shims"
printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$dest/node/bin/node" "$dest/app/bin/dit.js" >"$dest/shims/dit"
chmod +x "$dest/shims/dit"
"$dest/node/bin/node" --version >/dev/null || die "the kit's node does not run here"

kit_commit=$("$dest/node/bin/node" -p 'require(process.argv[1]).commit' "$kit/manifest.json")
here_commit=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$here_commit" != unknown ] && [ "$kit_commit" != "$here_commit" ]; then
  say "note: the kit's dist/ was built at ${kit_commit:0:12}, the checkout is at ${here_commit:0:12}"
fi

# --- 2. Vulkan ------------------------------------------------------------------------------
# The device image may have no Vulkan loader: its notes say to unpack the debs into / (as root).
# (The list is read whole first: grep -q closing the pipe early would fail it under pipefail.)
libs=$(ldconfig -p 2>/dev/null || true)
if ! grep -q 'libvulkan\.so\.1' <<<"$libs"; then
  if [ "$(id -u)" = 0 ] && [ "${DIT_GPU_PRIVATE_GL:-0}" != 1 ] && command -v dpkg >/dev/null 2>&1; then
    say "installing the Vulkan loader from the kit's debs"
    for f in "$kit"/gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
  else
    # Not root (or no dpkg): a private copy on the library path does for a Node process.
    mkdir -p "$dest/gl"
    for f in "$kit"/gl/*.deb; do
      (cd "$dest/gl" && ar p "$f" "$(ar t "$f" | grep '^data\.tar')" | tar -xJf - 2>/dev/null || true)
    done
    export LD_LIBRARY_PATH="$dest/gl/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
fi
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && [ -f "$nvidia_icd" ]; then
  export VK_DRIVER_FILES=$nvidia_icd
  [ ! -f "$nvidia_egl" ] || export __EGL_VENDOR_LIBRARY_FILENAMES=$nvidia_egl
fi
# Dawn (WebGPU) warns and may refuse without a runtime dir.
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
  export XDG_RUNTIME_DIR=/tmp/xdg-runtime-$(id -u)
  mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
fi

# --- 3. run ---------------------------------------------------------------------------------
export PATH="$dest/shims:$dest/node/bin:$PATH"
export DIT_APP="$dest/app" DIT_KIT="$kit"
[ ! -f "$kit/official/models.py" ] || export DIT_OFFICIAL_MODELS_PY="$kit/official/models.py"
exec "$@"
