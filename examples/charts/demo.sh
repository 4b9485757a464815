#!/usr/bin/env bash
# The chart demo: a release of an image and a Helm chart (one Flux HelmRelease per
# environment) promoted dev -> staging, then rolled back, in a scratch repository.
#   bash examples/charts/demo.sh PATH_TO_PROMOTE
set -euo pipefail
promote=$(realpath "${1:-promote}")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/promote-charts.XXXXXX")
echo "==> chart demo repository in $work/podinfo (remote: $work/remote.git)"

source "$here/../lib.sh"
scratch_repo podinfo ci@podinfo.example "podinfo: a HelmRelease per environment" \
  "$here/apps" "$here/promote.yaml"
export PROMOTE_ACTOR=demo-ci

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
