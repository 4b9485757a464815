#!/usr/bin/env bash
# The demo promotion: a scratch GitOps repository made from this directory, with a
# local bare repository as its remote, promoted dev -> staging -> prod.
#   bash examples/demo.sh PATH_TO_PROMOTE
set -euo pipefail
promote=$(realpath "${1:-promote}")
examples=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/promote-demo.XXXXXX")
echo "==> demo repository in $work/shop (remote: $work/remote.git)"

source "$examples/lib.sh"
scratch_repo shop ci@shop.example "shop: GitOps repository with dev, staging and prod overlays" \
  "$examples/k8s" "$examples/reports" "$examples/promote.yaml"

# Who promotes: in CI this comes from GITHUB_ACTOR or GITLAB_USER_LOGIN.
export PROMOTE_ACTOR=demo-ci

step "check the pipeline"
run validate
step "what each stage runs now"
run status
step "CI built api 1.4.3: it enters dev"
run --to dev --image api=ghcr.io/acme/api:1.4.3
step "staging takes what dev runs, once the JUnit reports and the Trivy scan pass"
run --to staging
step "prod wants 2h of soak in staging: pending (exit 3), nothing written"
run --to prod
step "the same as a dry run, as JSON (outcome and gates)"
"$promote" --to prod --dry-run --output json | python3 -c '
import json, sys
doc = json.load(sys.stdin)
print("outcome:", doc["outcome"])
for gate in doc["gates"]:
    print(" ", gate["name"], gate["status"], "-", gate["summary"])
' || true
step "alice approves exactly what prod would take (recorded in the history)"
PROMOTE_ACTOR=alice run approve --stage prod --reason "staging dashboards are clean"
step "bob rejects it: a rejection blocks the approval gate (a dry run shows it, exit 1)"
PROMOTE_ACTOR=bob run reject --stage prod --reason "wait for the load test"
run --to prod --dry-run
step "a bad build reaches dev; dev is rolled back to what it held before (a recorded promotion)"
run --to dev --image api=ghcr.io/acme/api:1.4.4
run rollback --stage dev --reason "1.4.4 fails its smoke test"
step "the remote's log: every promotion is a commit with trailers"
git --git-dir="$work/remote.git" log --format='%h %s%n%(trailers:only,unfold)' | sed '/^$/d'
step "the history"
run history
step "what each stage runs now"
run status

step "releases are more than images: a Helm chart and an image together (examples/charts)"
bash "$examples/charts/demo.sh" "$promote"
step "configuration travels with the release: settings.yml carried from stage to stage (examples/carry)"
bash "$examples/carry/demo.sh" "$promote"
