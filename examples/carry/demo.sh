#!/usr/bin/env bash
# The carried-configuration demo: a release of an image and its settings (one kustomize overlay
# per environment; settings.yml travels with the release) promoted qa -> staging, a hand edit
# refused, and a rollback, in a scratch repository.
#   bash examples/carry/demo.sh PATH_TO_PROMOTE
set -euo pipefail
promote=$(realpath "${1:-promote}")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/promote-carry.XXXXXX")
echo "==> carry demo repository in $work/app (remote: $work/remote.git)"

source "$here/../lib.sh"
scratch_repo app ci@app.example "app: an overlay per environment" \
  "$here/base" "$here/envs" "$here/promote.yaml"
export PROMOTE_ACTOR=demo-ci

step "image 2.0 enters qa, and qa's settings change for it"
run --to qa --image app=ghcr.io/acme/simple-env-app:2.0
sed -i 's/"light"/"dark"/' envs/qa/settings.yml
git commit -q -am "qa: the dark theme that 2.0 brings"
step "staging takes qa's release: the image and settings.yml, one commit"
run --to staging
git --no-pager show --stat --format='%s%n%n%b' HEAD | sed '/^$/d'
step "staging's settings are edited by hand; the next promotion will not overwrite that (exit 4)"
sed -i 's/"1024kb"/"4096kb"/' envs/staging/settings.yml
git commit -q -am "staging: a bigger cache, by hand"
sed -i 's/"dark"/"blue"/' envs/qa/settings.yml
git commit -q -am "qa: the blue theme"
run --to staging
step "the hand edit is undone; staging takes qa's settings"
git revert --no-edit HEAD~1 >/dev/null
run --to staging
step "staging is rolled back: image and settings as they were"
run rollback --stage staging --reason "the blue theme is unreadable"
step "what each stage runs now"
run status
if command -v kubectl >/dev/null; then
  step "what staging renders (kubectl kustomize)"
  kubectl kustomize envs/staging | grep -A4 'env:'
fi
