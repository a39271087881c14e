#!/usr/bin/env bash
# The plain page loop a shell script would be, for bench/realistic.mjs: curl a page by keyset,
# jq out the rows after the cursor and the new cursor, until a short page. No checkpoint, no
# retries, no checks. Usage: bash bench/curl-jq.sh <url> <table> <batch> > rows.ndjson
set -euo pipefail
url=$1 table=$2 batch=$3
ts='1970-01-01 00:00:00' id='' rows=0 requests=0
body=$(mktemp) taken_rows=$(mktemp)
trap 'rm -f "$body" "$taken_rows"' EXIT
while :; do
  curl -sS -u admin:admin -G "$url/api/now/table/$table" -H 'accept: application/json' -o "$body" \
    --data-urlencode "sysparm_query=sys_updated_on>=$ts^ORDERBYsys_updated_on^ORDERBYsys_id" --data-urlencode "sysparm_limit=$batch"
  requests=$((requests + 1))
  n=$(jq '.result | length' "$body")
  # (Not `| tee /dev/stdout`: with stdout redirected to a file, tee reopens it and truncates it.)
  jq -c --arg ts "$ts" --arg id "$id" '.result[] | select(.sys_updated_on > $ts or (.sys_updated_on == $ts and .sys_id > $id))' "$body" > "$taken_rows"
  cat "$taken_rows"
  taken=$(wc -l < "$taken_rows")
  rows=$((rows + taken))
  if [ "$n" -lt "$batch" ] || [ "$taken" -eq 0 ]; then break; fi
  last=$(jq -r '.result[-1] | "\(.sys_updated_on)|\(.sys_id)"' "$body")
  ts=${last%%|*} id=${last#*|}
done
echo "curl|jq: $rows rows in $requests requests" >&2
