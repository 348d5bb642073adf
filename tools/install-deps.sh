#!/usr/bin/env bash
# Installs the Debian 12 packages modctx needs to build and test, when they
# are missing. Runs apt-get as root (directly, or through sudo).
set -euo pipefail

packages=(
  g++ clang libclang-rt-14-dev meson ninja-build pkg-config python3
  libtorch-dev catch2 nlohmann-json3-dev   # build: LibTorch, tests, the checker's JSON
  python3-torch                            # tests: PyTorch as the oracle for slices and the C ABI
  valgrind gcovr abigail-tools libbenchmark-dev libdlpack-dev
)

# The Rust bindings' tests need cargo: Debian's when the machine has none.
command -v cargo >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/cargo" ] || packages+=(cargo)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
