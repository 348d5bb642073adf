#!/usr/bin/env bash
# Installs the Debian 12 packages modctx needs to build and test, when they
# are missing, and says which. Runs apt-get as root, or through sudo.
# Fails, saying why, when it cannot: neither root nor sudo, or apt-get failing
# (no network to the package archive, a package it cannot find).
set -euo pipefail

packages=(
  g++ clang libclang-rt-14-dev meson ninja-build pkg-config python3
  libtorch-dev catch2 nlohmann-json3-dev   # build: LibTorch, tests, the checker's JSON
  libtomlplusplus-dev                      # build: reading KempnerForge's TOML configs
  python3-torch                            # tests: PyTorch as the oracle for slices and the C ABI
  valgrind gcovr abigail-tools libbenchmark-dev libdlpack-dev
)

# The Rust bindings' tests need cargo: Debian's when the machine has none.
command -v cargo >/dev/null || [ -x "$HOME/.cargo/bin/cargo" ] || packages+=(cargo)

# Every installed package, once (dpkg-query with names would complain about
# the ones it does not know).
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' | awk '$2 == "installed" {print $1}')
missing=()
for p in "${packages[@]}"; do
  grep -qxF "$p" <<<"$installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: the ${#packages[@]} Debian packages modctx needs are installed; nothing to install" >&2
  exit 0
fi

echo "install-deps: ${#missing[@]} of the ${#packages[@]} Debian packages modctx needs are missing: ${missing[*]}" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "install-deps: FAILED: not root, and there is no sudo to run apt-get with." >&2
    echo "  As root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  # sudo -n: no password prompt; its answer, when it refuses, is shown.
  if ! sudo_answer=$(sudo -n true 2>&1) && [ ! -t 0 ]; then
    echo "install-deps: FAILED: not root, and sudo cannot run without a password here (no terminal):" >&2
    echo "  ${sudo_answer}" >&2
    echo "  Run: sudo apt-get install ${missing[*]}   (or this script from a terminal)" >&2
    exit 1
  fi
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp "${TMPDIR:-/tmp}/install-deps.XXXXXX")
trap 'rm -f "$log"' EXIT

echo "install-deps: ${sudo[*]:+sudo }apt-get update" >&2
if ! "${sudo[@]}" apt-get update -q >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-deps: FAILED: apt-get update failed (see above). Missing: ${missing[*]}" >&2
  exit 1
fi
# apt-get update succeeds even when it could not reach the archive: say so.
if grep -qE '^(Err:|W: Failed to fetch|W: Some index files failed)' "$log"; then
  echo "install-deps: warning: apt-get update could not read every package list (no network to the archive?):" >&2
  grep -E '^(Err:|W:|E:)' "$log" | sed 's/^/  /' >&2
fi
echo "install-deps: ${sudo[*]:+sudo }apt-get install ${missing[*]}" >&2
if ! "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-deps: FAILED: apt-get install could not install ${missing[*]} (see above: no network to the" >&2
  echo "  package archive, or a package this Debian does not have; modctx needs Debian 12)" >&2
  exit 1
fi
echo "install-deps: installed ${missing[*]}" >&2
