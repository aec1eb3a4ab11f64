#!/usr/bin/env bash
# Post the plan as ONE comment on the pull request, editing it on every push instead of adding more.
# Usage: sticky-comment.sh DIR   (DIR holds one *.md plan per account/region)
set -euo pipefail
dir=$1
marker='<!-- cleanrooms-reconciler:plan -->'
body="$marker"$'\n'
if compgen -G "$dir/*.md" > /dev/null; then
  for plan in "$dir"/*.md; do
    body+="$(cat "$plan")"$'\n\n'
  done
else
  body+="No plan was produced."$'\n'
fi
if [ "${PLAN_RESULT:-success}" != "success" ]; then
  body+=":warning: Planning failed for at least one account/region: see the workflow run."$'\n'
fi
existing=$(gh api --paginate "repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments" \
  --jq ".[] | select(.user.type == \"Bot\" and (.body | startswith(\"$marker\"))) | .id" | head -n 1)
if [ -n "$existing" ]; then
  gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$existing" -f body="$body" > /dev/null
else
  gh api --method POST "repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments" -f body="$body" > /dev/null
fi
