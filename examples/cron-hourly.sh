#!/usr/bin/env bash
# Every hour, append the table's changes since the last run to today's folder as closed,
# gzip-compressed NDJSON files with a manifest (see "Writing files" in the README).
#
# crontab (at five past every hour, UTC dates):
#   5 * * * * SERVICENOW_URL=https://acme.service-now.com SERVICENOW_USER=export /opt/nowpipe/examples/cron-hourly.sh incident >>/var/log/nowpipe-incident.log 2>&1
#
# The password comes from $NOWPIPE_HOME/password (mode 600), never from the crontab.
# Result: $NOWPIPE_HOME/out/<yyyy-mm-dd>/<table>/<table>-<first row time>-<seq>.ndjson.gz
#         plus _manifest.ndjson there; the first run backfills everything into the first day.
set -euo pipefail

table=${1:?usage: cron-hourly.sh <table>}
home=${NOWPIPE_HOME:-/var/lib/nowpipe}
nowpipe=${NOWPIPE_BIN:-nowpipe}
mkdir -p "$home"

# flock: if the previous hour is still running, skip this one instead of queueing behind it.
exec 9>"$home/$table.lock"
flock -n 9 || { echo "nowpipe $table: previous run still going, skipped" >&2; exit 0; }

# A run that died (kill -9, reboot) may leave a .part file that only the next run on the same
# folder completes. So after a run that did not finish, keep its folder even if the day changed.
running="$home/$table.running"
if [[ -s "$running" ]]; then
  out=$(cat "$running")
else
  out="$home/out/$(date -u +%F)"
fi
printf '%s\n' "$out" >"$running"

# --deletes needs read access to sys_audit_delete; drop it if the user has none.
"$nowpipe" --table "$table" --once --deletes \
  --sink file --output "$out" --compress gzip \
  --checkpoint "$home/$table.checkpoint.json" \
  --password-file "$home/password" --quiet

rm -f "$running"
