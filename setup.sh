#!/usr/bin/env bash
# Sets up a fresh Debian machine for promote and runs it.
#   ./setup.sh demo    install the build dependencies, build, run the demo promotion
#   ./setup.sh test    install the build and test dependencies, build, run every test
#   ./setup.sh bench   build in Release and run the benchmarks (tests/bench)
# Needs root (or sudo) for apt-get; everything else stays in this checkout.
set -euo pipefail
cd "$(dirname "$0")"

build_packages=(
  g++ cmake ninja-build pkg-config git ccache
  libboost1.81-dev libboost-system1.81-dev libboost-url1.81-dev
  nlohmann-json3-dev libgit2-dev libsqlitecpp-dev libsqlite3-dev
  libyaml-cpp-dev libpugixml-dev libcli11-dev libssl-dev libspdlog-dev
)
test_packages=(
  doctest-dev python3 python3-jsonschema python3-yaml sqlite3
  prometheus prometheus-pushgateway
  openssh-server openssh-client
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
}

build() {
  local dir=$1 type=$2
  shift 2
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" "$@" >/dev/null
  cmake --build "$dir" -j2
}

demo() {
  install "${build_packages[@]}"
  build build Release -DBUILD_TESTING=OFF
  bash examples/demo.sh "$PWD/build/promote"
}

run_tests() {
  install "${build_packages[@]}" "${test_packages[@]}"
  # The kustomize rendering tests use the real kubectl where it can be had.
  command -v kubectl >/dev/null || install kubernetes-client || true
  # The SSH remote tests start their own sshd on 127.0.0.1, which needs this directory.
  as_root mkdir -p /run/sshd
  build build-test RelWithDebInfo -DBUILD_TESTING=ON
  ctest --test-dir build-test --output-on-failure -j2
}

bench() {
  install "${build_packages[@]}" libxml2-utils
  build build-bench Release -DBUILD_TESTING=ON
  cmake --build build-bench --target bench -j2
  bash tests/bench/run build-bench
}

case "${1:-}" in
  demo) demo ;;
  test) run_tests ;;
  bench) bench ;;
  *) echo "usage: $0 demo|test|bench" >&2; exit 2 ;;
esac
