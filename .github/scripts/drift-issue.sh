#!/usr/bin/env bash
# Keep one open issue labelled `drift` while live settings differ from git; close it when they match.
# Usage: drift-issue.sh DIR   (DIR holds NAME.md reports and NAME.code exit codes: 0 in sync, 2 drift)
set -euo pipefail
dir=$1
drifted=false
report=""
for code_file in "$dir"/*.code; do
  [ -e "$code_file" ] || continue
  code=$(cat "$code_file")
  if [ "$code" = "2" ]; then
    drifted=true
    report+="$(cat "${code_file%.code}.md")"$'\n\n'
  fi
done
gh label create drift --color D93F0B --description "Live Clean Rooms settings differ from git" --force > /dev/null
open=$(gh issue list --label drift --state open --json number --jq '.[0].number // empty')
if [ "$drifted" = true ]; then
  body="Live Clean Rooms membership settings differ from \`desired-state/\` ([run]($RUN_URL))."$'\n\n'"$report"
  if [ -n "$open" ]; then
    gh issue edit "$open" --body "$body" > /dev/null
    gh issue comment "$open" --body "Still drifting as of [this run]($RUN_URL)." > /dev/null
  else
    gh issue create --title "Clean Rooms settings drifted from git" --label drift --body "$body" > /dev/null
  fi
elif [ "${DRIFT_RESULT:-success}" = "success" ] && [ -n "$open" ]; then
  gh issue close "$open" --comment "No drift in [this run]($RUN_URL): closing." > /dev/null
fi
# A failed account/region proves nothing about drift there: keep the issue as it is, fail the job.
if [ "${DRIFT_RESULT:-success}" != "success" ]; then
  echo "a drift job failed: see the run; the drift issue was not closed" >&2
  exit 1
fi
