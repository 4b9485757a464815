#!/usr/bin/env bash
# Sets up a fresh Debian machine for promote and runs it.
#   ./setup.sh demo    install the build dependencies, build, run the demo promotion
#   ./setup.sh test    install the build and test dependencies; build everything with clang,
#                      AddressSanitizer and UBSan; run every test
#   ./setup.sh fuzz [SECONDS]    the same build; run each libFuzzer target SECONDS (default 60)
#   ./setup.sh bench   build in Release and run the benchmarks (tests/bench)
# Needs root (or sudo) for apt-get; everything else stays in this checkout.
set -euo pipefail
cd "$(dirname "$0")"

# openssh-client is needed at run time too: ssh-keygen signs and checks SSH signatures.
build_packages=(
  g++ cmake ninja-build pkg-config git ccache
  libboost1.81-dev libboost-system1.81-dev libboost-url1.81-dev
  nlohmann-json3-dev libgit2-dev libsqlitecpp-dev libsqlite3-dev
  libyaml-cpp-dev libpugixml-dev libcli11-dev libssl-dev libspdlog-dev
  libhowardhinnant-date-dev libsimdjson-dev
  openssh-client
)
# chromium (headless, with a font to render text in) runs the dashboard's browser test, driven
# by playwright-core from npm (tests/browser; its lock file pins it); strace shows a test what
# a command opens and starts.
test_packages=(
  doctest-dev python3 python3-jsonschema python3-yaml sqlite3
  prometheus prometheus-pushgateway
  openssh-server
  chromium fonts-dejavu-core
  strace
)

# clang and its runtimes for the sanitized test build and libFuzzer; llvm-14 for
# llvm-symbolizer, which turns sanitizer reports into file:line stacks.
sanitize_packages=(clang libclang-rt-14-dev llvm-14)

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

# PROMOTE_WERROR=ON (as CI sets it) makes a compiler warning fail the build.
demo() {
  install "${build_packages[@]}"
  build build Release -DBUILD_TESTING=OFF -DPROMOTE_WERROR="${PROMOTE_WERROR:-OFF}"
  bash examples/demo.sh "$PWD/build/promote"
}

# The tests build with clang, AddressSanitizer and UBSan (and libFuzzer's coverage in the
# engine, so the same build serves ./setup.sh fuzz): a memory error or undefined behaviour
# fails the test that meets it. llvm-14 brings llvm-symbolizer for file:line stacks. A
# compiler warning fails the build (PROMOTE_WERROR).
configure_tests() {
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON \
    -DCMAKE_CXX_COMPILER=clang++ -DPROMOTE_SANITIZE=ON -DPROMOTE_FUZZ=ON \
    -DPROMOTE_WERROR=ON >/dev/null
}

run_tests() {
  install "${build_packages[@]}" "${sanitize_packages[@]}" "${test_packages[@]}"
  # The kustomize rendering tests use the real kubectl where it can be had.
  command -v kubectl >/dev/null || install kubernetes-client || true
  # The SSH remote tests start their own sshd on 127.0.0.1, which needs this directory.
  as_root mkdir -p /run/sshd
  # Node.js and npm from Debian unless the machine has them already (another build of Node.js
  # with its own npm must not be replaced).
  command -v npm >/dev/null || install nodejs npm
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
  configure_tests
  cmake --build build-asan -j2
  # UBSan aborts the test that meets undefined behaviour; ASan fails it on a memory error
  # or a leak (suppressed only in the third-party libraries of tests/sanitizers/lsan.supp).
  ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=0:check_initialization_order=1 \
    LSAN_OPTIONS=suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    PROMOTE_REQUIRE_BROWSER=1 \
    ctest --test-dir build-asan --output-on-failure -j2
}

fuzz() {
  install "${build_packages[@]}" "${sanitize_packages[@]}"
  configure_tests
  cmake --build build-asan --target fuzz -j2
  bash tests/fuzz/run "${1:-60}" build-asan 2
}

bench() {
  # The peers each figure is measured beside: xmllint, jq, curl, git; Prometheus to query;
  # python3 writes the generated inputs.
  install "${build_packages[@]}" doctest-dev libxml2-utils jq curl prometheus python3
  # Only what the benchmarks run: promote and tests/bench (BUILD_TESTING declares the latter).
  cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON >/dev/null
  cmake --build build-bench --target promote bench -j2
  bash tests/bench/run build-bench
}

case "${1:-}" in
  demo) demo ;;
  test) run_tests ;;
  bench) bench ;;
  fuzz) fuzz "${2:-60}" ;;
  *) echo "usage: $0 demo|test|fuzz [SECONDS]|bench" >&2; exit 2 ;;
esac
