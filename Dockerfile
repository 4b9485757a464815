# promote as a GitHub container action (action.yml): built from Debian 12 packages only,
# the same build dependencies as setup.sh, then copied onto a slim image with the runtime
# libraries. Build it yourself with `docker build -t promote .` and run
# `docker run --rm -v "$PWD:/work" -w /work --entrypoint promote promote --to dev ...`.
FROM debian:bookworm AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       g++ cmake ninja-build pkg-config \
       libboost1.81-dev libboost-system1.81-dev libboost-url1.81-dev \
       nlohmann-json3-dev libgit2-dev libsqlitecpp-dev libsqlite3-dev \
       libyaml-cpp-dev libpugixml-dev libcli11-dev libssl-dev libspdlog-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    && cmake --build /build --target promote \
    && strip /build/promote

FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       ca-certificates libgit2-1.5 libsqlite3-0 libboost-url1.81.0 libssl3 \
       libyaml-cpp0.7 libpugixml1v5 libspdlog1.10 libfmt9 openssh-client \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/promote /usr/local/bin/promote
# The action's entry point: its inputs (PROMOTE_ACTION_* variables, set in action.yml) as
# promote's flags. The workspace belongs to the runner's user, not to root in here, so
# libgit2 is told that it may open it (safe.directory: the wildcard, which libgit2 1.5 may
# not know, and the paths).
RUN printf '%s\n' \
      '#!/bin/sh' \
      'set -eu' \
      'if [ -n "${PROMOTE_ACTION_WORKING_DIRECTORY:-}" ]; then cd "$PROMOTE_ACTION_WORKING_DIRECTORY"; fi' \
      'config="${HOME:-/root}/.gitconfig"' \
      'printf "[safe]\n\tdirectory = *\n" >> "$config"' \
      'for safe in "${GITHUB_WORKSPACE:-/github/workspace}" "$(pwd)"; do' \
      '  printf "\tdirectory = %s\n\tdirectory = %s/\n" "${safe%/}" "${safe%/}" >> "$config"' \
      'done' \
      'set -f' \
      'set -- --to "${PROMOTE_ACTION_TO:-}" --file "${PROMOTE_ACTION_PIPELINE:-promote.yaml}"' \
      'if [ "${PROMOTE_ACTION_DRY_RUN:-false}" = "true" ]; then set -- "$@" --dry-run; fi' \
      'if [ -n "${PROMOTE_ACTION_WAIT:-}" ]; then set -- "$@" --wait "$PROMOTE_ACTION_WAIT"; fi' \
      'if [ -n "${PROMOTE_ACTION_WAIT_MERGED:-}" ]; then' \
      '  set -- "$@" --wait-merged "$PROMOTE_ACTION_WAIT_MERGED"' \
      'fi' \
      'if [ -n "${PROMOTE_ACTION_REASON:-}" ]; then set -- "$@" --reason "$PROMOTE_ACTION_REASON"; fi' \
      'if [ -n "${PROMOTE_ACTION_HISTORY:-}" ]; then set -- "$@" --history "$PROMOTE_ACTION_HISTORY"; fi' \
      'newline="$(printf "\n_")"' \
      'old_ifs="$IFS"' \
      'IFS="${newline%_}"' \
      'for image in ${PROMOTE_ACTION_IMAGES:-}; do' \
      '  image="$(echo "$image" | tr -d " \t\r")"' \
      '  if [ -n "$image" ]; then set -- "$@" --image "$image"; fi' \
      'done' \
      'IFS="$old_ifs"' \
      'exec promote "$@"' \
      > /usr/local/bin/promote-action \
    && chmod 755 /usr/local/bin/promote-action
ENTRYPOINT ["/usr/local/bin/promote-action"]
