# promote's image, built from Debian 12 packages only (the same build dependencies as setup.sh,
# then copied onto a slim image with the run-time libraries). By default it runs the service,
# `promote serve` on port 8080 with the GitOps repository checked out in the volume /repo
# (its pipeline /repo/promote.yaml, its history in /repo/.promote/): examples/serve/ runs it
# under Kubernetes and Compose. The GitHub container action (action.yml) runs
# /usr/local/bin/promote-action instead (its runs.entrypoint).
#
#   docker build -t promote .
#   docker run --rm -p 8080:8080 -v "$PWD:/repo" --user "$(id -u):$(id -g)" promote
#   docker run --rm -v "$PWD:/repo" --user "$(id -u):$(id -g)" promote --to dev \
#     --image api=ghcr.io/acme/api:1.4.2
#
# The image's user stays root: GitHub runs a container action as the image's user, in a
# workspace (and with output files) owned by the runner's user, which no other user may write.
# The service needs no root: examples/serve/ runs it as the user promote (uid 10001) below.
FROM debian:bookworm AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       g++ cmake ninja-build pkg-config \
       libboost1.81-dev libboost-system1.81-dev libboost-url1.81-dev \
       nlohmann-json3-dev libgit2-dev libsqlitecpp-dev libsqlite3-dev \
       libyaml-cpp-dev libpugixml-dev libcli11-dev libssl-dev libspdlog-dev \
       libhowardhinnant-date-dev libsimdjson-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    && cmake --build /build --target promote \
    && strip /build/promote

# promote links libgit2, OpenSSL, SQLite, yaml-cpp, pugixml and Boost.URL statically
# (CMakeLists.txt, PROMOTE_STATIC): the run-time image needs only the Kerberos library libgit2's
# Negotiate authentication uses, the libraries Debian ships shared only (date/tz, with the time
# zone database, and simdjson), the CA certificates and ssh-keygen.
FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       ca-certificates libgssapi-krb5-2 libdate-tz3 libsimdjson14 openssh-client \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/promote /usr/local/bin/promote
# The service's user (no login, no password) and its home; the checkout in /repo may belong to
# another user (a host's bind mount), which libgit2 accepts for the paths listed here.
RUN groupadd --system --gid 10001 promote \
    && useradd --system --uid 10001 --gid promote --home-dir /home/promote --create-home \
       --shell /usr/sbin/nologin promote \
    && printf '[safe]\n\tdirectory = /repo\n\tdirectory = /repo/\n' > /etc/gitconfig \
    && mkdir /repo && chown promote:promote /repo
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
WORKDIR /repo
EXPOSE 8080
# `docker run IMAGE --to dev ...` runs one promotion; with no arguments, the service. SIGTERM
# stops it gracefully (promote is the container's first process and handles it).
ENTRYPOINT ["/usr/local/bin/promote"]
CMD ["serve", "--listen", ":8080", "-f", "/repo/promote.yaml"]
