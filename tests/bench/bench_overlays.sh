#!/usr/bin/env bash
# One image promoted into 500 service overlays in one commit, in a repository of 20,000
# files (each overlay over its service's base and a platform base all of them share, so that
# promote reads what each overlay renders: 1,503 files), beside git's own `git add -A && git commit` (and `git push`) of the same change made
# by sed, in the same run, on copies of the same repository. Prints the median of 5 rounds,
# and last a line "result PROMOTE_NS COMMIT_NS PUSH_NS SAME" for tests/bench/run.
#
#   tests/bench/bench_overlays.sh PROMOTE_BINARY    (KEEP=1 keeps the scratch repositories, to profile)
set -euo pipefail
promote=$(realpath "$1")
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
services=500
files_per_service=40  # the overlay's kustomization, its base's two files, 37 others: 20,000 in all

/usr/bin/python3 - "$work/seed" "$services" "$files_per_service" <<'EOF'
import os, sys
root, services, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
stage = []
# The runtime every service runs beside it: a base all 500 overlays share.
platform = os.path.join(root, "platform", "base")
os.makedirs(platform)
with open(os.path.join(platform, "kustomization.yaml"), "w") as f:
    f.write("resources:\n  - agent.yaml\n")
with open(os.path.join(platform, "agent.yaml"), "w") as f:
    f.write("apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: platform-agent\nspec:\n"
            "  template:\n    spec:\n      containers:\n        - name: agent\n"
            "          image: ghcr.io/acme/platform:1.0.0\n")
for s in range(services):
    name = f"svc-{s:03d}"
    overlay = os.path.join(root, "services", name, "overlays", "prod")
    os.makedirs(overlay)
    with open(os.path.join(overlay, "kustomization.yaml"), "w") as f:
        f.write(f"# {name}, production\nresources:\n  - ../../base\n  - ../../../../platform/base\n"
                f"namespace: {name}\n"
                "images:\n  - name: ghcr.io/acme/platform  # the shared runtime\n"
                "    newTag: 1.0.0\n"
                f"  - name: ghcr.io/acme/{name}\n    newTag: 3.{s}.0\n")
    # The service's own base (its kustomization and a Deployment: the service and the platform
    # beside it), and 37 more files of the service that no kustomization names.
    base = os.path.join(root, "services", name, "base")
    os.makedirs(base)
    config = os.path.join(root, "services", name, "config")
    os.makedirs(config)
    parts = [f"part-{i:02d}.yaml" for i in range(per - 3)]
    with open(os.path.join(base, "kustomization.yaml"), "w") as f:
        f.write("resources:\n  - deployment.yaml\n")
    with open(os.path.join(base, "deployment.yaml"), "w") as f:
        f.write(f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n"
                "  template:\n    spec:\n      containers:\n"
                f"        - name: app\n          image: ghcr.io/acme/{name}:3.0.0\n"
                "        - name: platform\n          image: ghcr.io/acme/platform:0.9.0\n")
    for i, part in enumerate(parts):
        with open(os.path.join(config, part), "w") as f:
            f.write(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-{i}\n"
                    f"data:\n  key: value-{s}-{i}\n")
    stage.append(f"      - services/{name}/overlays/prod\n")
with open(os.path.join(root, "promote.yaml"), "w") as f:
    f.write("apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: fleet}\n"
            "images:\n  - {name: platform, repository: ghcr.io/acme/platform}\n"
            "stages:\n  - name: prod\n    target:\n      kustomize:\n" + "".join(stage))
with open(os.path.join(root, ".gitignore"), "w") as f:
    f.write(".promote/\n")
EOF
git -C "$work/seed" init -q -b main
git -C "$work/seed" -c user.name=bench -c user.email=b@x add -A
git -C "$work/seed" -c user.name=bench -c user.email=b@x commit -q -m seed
files=$(git -C "$work/seed" ls-files | wc -l)
for copy in ours theirs; do
  git init -q --bare -b main "$work/$copy.git"
  git -C "$work/seed" push -q "$work/$copy.git" main
  git clone -q "$work/$copy.git" "$work/$copy"
  git -C "$work/$copy" config user.name bench
  git -C "$work/$copy" config user.email b@x
done

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { awk -v n="$1" 'BEGIN {printf "%.0f ms", n / 1e6}'; }

ours=() commits=() pushes=()
for round in 1 2 3 4 5; do
  tag="2.0.$round"
  start=$(now)
  PROMOTE_ACTOR=bench "$promote" -f "$work/ours/promote.yaml" --to prod \
    --image "platform=ghcr.io/acme/platform:$tag" --history "$work/history.db" >/dev/null
  ours+=($(( $(now) - start )))
  (cd "$work/theirs" && git ls-files -z 'services/*/overlays/prod/kustomization.yaml' |
    xargs -0 sed -i "/name: ghcr.io\/acme\/platform/{n;s/newTag: .*/newTag: $tag/}")
  start=$(now)
  git -C "$work/theirs" add -A
  git -C "$work/theirs" commit -q -m "platform $tag"
  commits+=($(( $(now) - start )))
  start=$(now)
  git -C "$work/theirs" push -q origin main
  pushes+=($(( $(now) - start )))
done
changed=$(git -C "$work/ours" show --name-only --format= HEAD | wc -l)
same=$(diff -r -q -x .git -x .promote "$work/ours" "$work/theirs" >/dev/null && echo yes || echo no)
ours_ms=$(printf '%s\n' "${ours[@]}" | median)
commit_ms=$(printf '%s\n' "${commits[@]}" | median)
push_ms=$(printf '%s\n' "${pushes[@]}" | median)
echo "repository: $files files; one promotion changes $changed kustomizations in one commit"
echo "both trees identical after 5 rounds: $same"
printf '%-58s %10s\n' "promote --to prod (plan, 500 edits, commit, push, history)" "$(ms "$ours_ms")"
printf '%-58s %10s\n' "git add -A && git commit (the same change, made by sed)" "$(ms "$commit_ms")"
printf '%-58s %10s\n' "git push" "$(ms "$push_ms")"
awk -v a="$ours_ms" -v b="$commit_ms" -v c="$push_ms" \
  'BEGIN {printf "promote / (git add + commit): %.2fx;  promote / (git add + commit + push): %.2fx\n", a / b, a / (b + c)}'
echo "result $ours_ms $commit_ms $push_ms $same"
