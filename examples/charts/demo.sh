#!/usr/bin/env bash
# The chart demo: a release of an image and a Helm chart (one Flux HelmRelease per
# environment) promoted dev -> staging, then rolled back, in a scratch repository.
#   bash examples/charts/demo.sh PATH_TO_PROMOTE
set -euo pipefail
promote=$(realpath "${1:-promote}")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/promote-charts.XXXXXX")
echo "==> chart demo repository in $work/podinfo (remote: $work/remote.git)"

git init -q --bare -b main "$work/remote.git"
mkdir "$work/podinfo"
cp -r "$here/apps" "$here/promote.yaml" "$work/podinfo/"
cd "$work/podinfo"
git init -q -b main
git config user.name "Demo CI"
git config user.email "ci@podinfo.example"
printf '.promote/\n' > .gitignore
git add -A
git commit -q -m "podinfo: a HelmRelease per environment"
git remote add origin "$work/remote.git"
git push -q -u origin main
export PROMOTE_ACTOR=demo-ci

step() { printf '\n==> %s\n' "$*"; }
run() {
  echo "\$ promote $*"
  local code=0
  "$promote" "$@" || code=$?
  echo "(exit $code)"
  return 0
}

step "chart 6.5.0 and image 6.5.0 enter dev as one release"
run --to dev --chart podinfo=6.5.0 --image podinfo=ghcr.io/stefanprodan/podinfo:6.5.0
step "staging takes dev's release: the chart version and the image, one commit"
run --to staging
git --no-pager show --stat --format='%s%n%n%b' HEAD | sed '/^$/d'
step "a range is no version to promote (exit 2)"
run --to dev --chart 'podinfo=>=6.0.0'
step "staging is rolled back: chart and image as they were"
run rollback --stage staging --reason "the new chart's probes fail"
step "what each stage runs now"
run status
