#!/usr/bin/env bash
# A remote repository of 100,000 commits and 20,002 files (1,000 apps of kustomize overlays;
# each commit after the first ten sets one image tag): promote's cold run (a dry run without
# --workdir: a clone into a temporary directory) beside `git clone` and `git clone --depth 1`
# of the same URL, and its warm run (--workdir, after 1 and after 100 new commits on the
# remote: fetch, move to the remote's head, dry run) beside `git fetch && git reset --hard
# origin/main` in a kept clone. The remote is served on this machine by git daemon (git
# upload-pack on the other side, as a forge has), so no network time is in the figures; the
# cold run is also measured over a file:// URL. Medians of ROUNDS rounds, peak RSS (wait4) of
# the process and its children; last a line "result COLD_PROMOTE_S COLD_GIT_S
# COLD_GIT_DEPTH1_S WARM_PROMOTE_S WARM_GIT_S RSS_COLD_KIB RSS_WARM_KIB" for tests/bench/run
# (warm: after 1 new commit; the RSS figures are promote's).
#
#   tests/bench/bench_remote.sh PROMOTE_BINARY [BENCH_MEASURE]
#     BENCH_MEASURE: default tests/bench_measure in the binary's build directory.
#     ROUNDS=N (default 3), COMMITS=N (default 100000, fewer for a quick run),
#     KEEP=1 keeps the scratch directory.
set -euo pipefail
promote=$(realpath "$1")
measure_bin=$(realpath "${2:-$(dirname "$promote")/tests/bench_measure}")
rounds=${ROUNDS:-3}
# On tmpfs when there is one: the clones are made and removed again and again, and on ext4
# (without a journal, as on this project's build machine) creating files right after 20,000
# were removed costs up to 10x (ext4's recently_deleted() scan), which would land on whichever
# command came next. BENCH_REMOTE_DIR=DIR puts the repositories elsewhere.
dir=${BENCH_REMOTE_DIR:-/dev/shm}
[ -d "$dir" ] && [ -w "$dir" ] || dir=${TMPDIR:-/tmp}
work=$(mktemp -d -p "$dir")
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
# Temporary clones (promote's without --workdir) on the same file system as git's.
export TMPDIR="$work/tmp"
mkdir -p "$TMPDIR"
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null NO_COLOR=1 PROMOTE_ACTOR=bench
apps=1000          # 20 files each: 20,000, and promote.yaml and .gitignore
seed_commits=10    # 100 apps each
commits=${COMMITS:-100000}  # in all, the seed's included

# The GitOps repository as a git fast-import stream: the apps come in the first commits, then
# each commit sets one image tag in one overlay (app and environment in a fixed order).
generate() {
  /usr/bin/python3 - "$apps" "$seed_commits" "$commits" "$@" <<'EOF'
import sys
apps, seed_commits, commits = (int(a) for a in sys.argv[1:4])
first, count = (int(a) for a in sys.argv[4:6]) if len(sys.argv) > 4 else (0, commits)
out = sys.stdout.buffer
envs = ["dev", "staging", "prod"]
replicas = {"dev": 1, "staging": 2, "prod": 4}

def overlay(app, env, tag, agent):
    return (f"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            f"namespace: {app}-{env}\nresources:\n  - ../../base\n"
            f"patches:\n  - path: patch-replicas.yaml\n  - path: patch-resources.yaml\n"
            f"images:\n  - name: ghcr.io/acme/{app}\n    newTag: {tag}\n"
            f"  - name: ghcr.io/acme/platform-agent\n    newTag: {agent}\n")

def app_dir(n):  # apps/team-NN/app-NNNN: 40 teams of 25 apps
    return f"apps/team-{n % 40:02d}/app-{n:04d}"

def app_files(n):
    app = f"app-{n:04d}"
    root = app_dir(n)
    base = f"{root}/base"
    files = {
        f"{base}/kustomization.yaml": "resources:\n  - deployment.yaml\n  - service.yaml\n"
            "  - configmap.yaml\n  - hpa.yaml\n  - serviceaccount.yaml\n  - pdb.yaml\n",
        f"{base}/deployment.yaml": f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
            f"  name: {app}\nspec:\n  selector:\n    matchLabels: {{app: {app}}}\n  template:\n"
            f"    metadata:\n      labels: {{app: {app}}}\n    spec:\n"
            f"      serviceAccountName: {app}\n      containers:\n        - name: app\n"
            f"          image: ghcr.io/acme/{app}:1.0.0\n          ports: [{{containerPort: 8080}}]\n"
            f"        - name: agent\n          image: ghcr.io/acme/platform-agent:1.0.0\n",
        f"{base}/service.yaml": f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {app}\n"
            f"spec:\n  selector: {{app: {app}}}\n  ports: [{{port: 80, targetPort: 8080}}]\n",
        f"{base}/configmap.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
            f"  name: {app}-config\ndata:\n  LOG_LEVEL: info\n  SHARD: \"{n % 16}\"\n",
        f"{base}/hpa.yaml": f"apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\n"
            f"metadata:\n  name: {app}\nspec:\n  scaleTargetRef: {{apiVersion: apps/v1, "
            f"kind: Deployment, name: {app}}}\n  minReplicas: 1\n  maxReplicas: 10\n",
        f"{base}/serviceaccount.yaml": f"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n"
            f"  name: {app}\n",
        f"{base}/pdb.yaml": f"apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n"
            f"  name: {app}\nspec:\n  minAvailable: 1\n  selector:\n    matchLabels: {{app: {app}}}\n",
        f"{root}/README.md": f"# {app}\n\nOwned by team-{n % 40:02d}.\n",
        f"{root}/OWNERS": f"team-{n % 40:02d}\n",
        f"{root}/CODEOWNERS": f"* @acme/team-{n % 40:02d}\n",
        f"{root}/.yamllint": "extends: default\n",
    }
    for env in envs:
        o = f"{root}/overlays/{env}"
        files[f"{o}/kustomization.yaml"] = overlay(app, env, "1.0.0", "1.0.0")
        files[f"{o}/patch-replicas.yaml"] = (f"apiVersion: apps/v1\nkind: Deployment\n"
            f"metadata:\n  name: {app}\nspec:\n  replicas: {replicas[env]}\n")
        files[f"{o}/patch-resources.yaml"] = (f"apiVersion: apps/v1\nkind: Deployment\n"
            f"metadata:\n  name: {app}\nspec:\n  template:\n    spec:\n      containers:\n"
            f"        - name: app\n          resources: {{requests: {{cpu: {50 * replicas[env]}m}}}}\n")
    return files

def blob(path, text):
    data = text.encode()
    out.write(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data))

def commit(i, message):
    data = message.encode()
    out.write(b"commit refs/heads/main\ncommitter Bench <bench@example.com> %d +0000\n"
              b"data %d\n%s\n" % (1700000000 + 60 * i, len(data), data))
    if i == first and first > 0:
        out.write(b"from refs/heads/main^0\n")

pipeline = ("apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: platform}\n"
            "images:\n  - {name: agent, repository: ghcr.io/acme/platform-agent}\n"
            "stages:\n" + "".join(
                f"  - name: {env}\n" + (f"    from: {envs[k - 1]}\n" if k else "") +
                "    target:\n      kustomize:\n" +
                "".join(f"        - {app_dir(n)}/overlays/{env}\n" for n in range(20))
                for k, env in enumerate(envs)))
per_seed = apps // seed_commits
for i in range(first, first + count):
    if i < seed_commits:
        commit(i, f"apps {i * per_seed} to {(i + 1) * per_seed - 1}")
        if i == 0:
            blob("promote.yaml", pipeline)
            blob(".gitignore", ".promote/\n")
        for n in range(i * per_seed, (i + 1) * per_seed):
            for path, text in app_files(n).items():
                blob(path, text)
    else:
        # Spread over the apps; the tag is the commit's number, so every commit changes a file.
        n = (i * 7919) % apps
        env = envs[i % 3]
        app = f"app-{n:04d}"
        commit(i, f"{app} {env}: 1.{i}.0")
        blob(f"{app_dir(n)}/overlays/{env}/kustomization.yaml",
             overlay(app, env, f"1.{i}.0", "1.0.0"))
EOF
}

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
secs() { awk -v s="$1" 'BEGIN {printf "%.2f s", s}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.0f MiB", k / 1024}'; }
max() { printf '%s\n' "$@" | sort -n | tail -1; }
# measure COMMAND...: "SECONDS MAX_RSS_KIB" of one run
measure() { "$measure_bin" 1 - "$@"; }

load=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(now)
git init -q --bare -b main "$work/remote.git"
generate | git -C "$work/remote.git" fast-import --quiet
made=$(awk -v a="$start" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}')
# A reachability bitmap, as forges keep one, so that the server counts a clone's objects
# without walking 100,000 commits (git halves its clone with it).
git -C "$work/remote.git" multi-pack-index write --bitmap
count=$(git -C "$work/remote.git" rev-list --count main)
files=$(git -C "$work/remote.git" ls-tree -r --name-only main | wc -l)
size=$(du -sk "$work/remote.git" | cut -f1)
echo "remote: $count commits, $files files, $(mib "$size") in one pack with a bitmap;" \
  "made in $made s (git fast-import)"

# The remote as a forge serves it: git upload-pack on the other side (git daemon on
# 127.0.0.1), which sends the deltas its pack already has.
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
git daemon --reuseaddr --listen=127.0.0.1 --port="$port" --base-path="$work" --export-all \
  "$work/remote.git" 2>"$work/daemon.log" &
daemon=$!
trap 'kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
url="git://127.0.0.1:$port/remote.git"
for _ in $(seq 100); do
  git ls-remote "$url" main >/dev/null 2>&1 && break
  sleep 0.1
done
git ls-remote "$url" main >/dev/null
echo "transport: $url (git daemon on this machine, git upload-pack serving both clients as a" \
  "forge does over https or ssh); no network time in these figures"

# The pipeline file outside the repository, promoting in a clone of it (repository.url).
pipeline() {  # pipeline DIR URL
  mkdir -p "$1"
  git -C "$work/remote.git" show main:promote.yaml |
    sed "s|^images:|repository: {url: '$2', branch: main}\nimages:|" > "$1/promote.yaml"
}
pipeline "$work/ci" "$url"
pipeline "$work/ci-file" "file://$work/remote.git"
dry_run=("$promote" -q -f "$work/ci/promote.yaml" --to dev
  --image agent=ghcr.io/acme/platform-agent:1.1.0 --dry-run)
dry_run_file=("$promote" -q -f "$work/ci-file/promote.yaml" "${dry_run[@]:4}")

# --- cold: a clone each time ---------------------------------------------------------
cold_promote=() cold_git=() cold_depth=() rss_promote=() rss_git=() rss_depth=()
file_promote=() file_git=() file_promote_kib=() file_git_kib=()
for round in $(seq "$rounds"); do
  read -r s kib < <(measure "${dry_run[@]}")
  cold_promote+=("$s") rss_promote+=("$kib")
  read -r s kib < <(measure git clone -q -b main --single-branch "$url" "$work/git-$round")
  cold_git+=("$s") rss_git+=("$kib")
  read -r s kib < <(measure git clone -q -b main --depth 1 "$url" "$work/depth-$round")
  cold_depth+=("$s") rss_depth+=("$kib")
  read -r s kib < <(measure "${dry_run_file[@]}")
  file_promote+=("$s") file_promote_kib+=("$kib")
  read -r s kib < <(measure git clone -q -b main --single-branch "file://$work/remote.git" \
    "$work/file-$round")
  file_git+=("$s") file_git_kib+=("$kib")
  rm -rf "$work/git-$round" "$work/depth-$round" "$work/file-$round"
done
leftover=$(find "$TMPDIR" -mindepth 1 -maxdepth 1 | wc -l)
[ "$leftover" = 0 ] || { echo "promote left $leftover temporary clones" >&2; exit 1; }
cold_promote_s=$(printf '%s\n' "${cold_promote[@]}" | median)
cold_git_s=$(printf '%s\n' "${cold_git[@]}" | median)
cold_depth_s=$(printf '%s\n' "${cold_depth[@]}" | median)
rss_cold=$(max "${rss_promote[@]}")

# --- warm: a kept clone, fetched after new commits on the remote ------------------------
"${dry_run[@]}" --workdir "$work/workdir"
git clone -q -b main --single-branch "$url" "$work/kept"
next=$commits
push() {  # push N: N more commits on the remote's main
  generate "$next" "$1" | git -C "$work/remote.git" fast-import --quiet
  next=$((next + $1))
}
declare -A warm_promote warm_git warm_rss warm_git_rss
for new in 1 100; do
  ours=() theirs=() ours_kib=() theirs_kib=()
  for round in $(seq "$rounds"); do
    push "$new"
    read -r s kib < <(measure "${dry_run[@]}" --workdir "$work/workdir")
    ours+=("$s") ours_kib+=("$kib")
    # shellcheck disable=SC2016  # $1 is the inner shell's
    read -r s kib < <(measure sh -c 'cd "$1" && git fetch -q origin main &&
      git reset -q --hard origin/main' sh "$work/kept")
    theirs+=("$s") theirs_kib+=("$kib")
    want=$(git -C "$work/remote.git" rev-parse main)
    for dir in workdir kept; do
      [ "$(git -C "$work/$dir" rev-parse HEAD)" = "$want" ] ||
        { echo "$dir is not at the remote's head after the fetch" >&2; exit 1; }
    done
  done
  warm_promote[$new]=$(printf '%s\n' "${ours[@]}" | median)
  warm_git[$new]=$(printf '%s\n' "${theirs[@]}" | median)
  warm_rss[$new]=$(max "${ours_kib[@]}")
  warm_git_rss[$new]=$(max "${theirs_kib[@]}")
done
# Nothing new: what a kept clone costs promote beside its own dry run.
read -r idle_s idle_kib < <("$measure_bin" "$rounds" - "${dry_run[@]}" --workdir "$work/workdir")
read -r local_s local_kib < <("$measure_bin" "$rounds" - "$promote" -q -f "$work/kept/promote.yaml" \
  --to dev --image agent=ghcr.io/acme/platform-agent:1.1.0 --dry-run)

row() { printf '%-66s %10s %9s\n' "$1" "$(secs "$2")" "$(mib "$3")"; }
echo "medians of $rounds rounds; $(nproc) cores; load average $load at the start," \
  "$(cut -d' ' -f1-3 /proc/loadavg) at the end"
printf '%-66s %10s %9s\n' "" "time" "peak RSS"
row "cold: promote dry run, cloning (no --workdir)" "$cold_promote_s" "$rss_cold"
row "cold: git clone --single-branch (with checkout)" "$cold_git_s" "$(max "${rss_git[@]}")"
row "cold: git clone --depth 1 (libgit2 1.5 has no shallow clone)" "$cold_depth_s" \
  "$(max "${rss_depth[@]}")"
row "cold over file://: promote dry run (copies the objects)" \
  "$(printf '%s\n' "${file_promote[@]}" | median)" "$(max "${file_promote_kib[@]}")"
row "cold over file://: git clone --single-branch (runs upload-pack)" \
  "$(printf '%s\n' "${file_git[@]}" | median)" "$(max "${file_git_kib[@]}")"
for new in 1 100; do
  row "warm, $new new commit(s): promote --workdir (fetch, move, dry run)" \
    "${warm_promote[$new]}" "${warm_rss[$new]}"
  row "warm, $new new commit(s): git fetch && git reset --hard origin/main" \
    "${warm_git[$new]}" "${warm_git_rss[$new]}"
done
row "warm, nothing new: promote --workdir" "$idle_s" "$idle_kib"
row "in a checkout (repository.url '.'): promote dry run" "$local_s" "$local_kib"
echo "the kept clone (--workdir): $(mib "$(du -sk "$work/workdir" | cut -f1)"), what a CI cache holds"
echo "result $cold_promote_s $cold_git_s $cold_depth_s ${warm_promote[1]} ${warm_git[1]}" \
  "$rss_cold ${warm_rss[1]}"
