#!/bin/sh
# A backup of hallscore: `flask --app app backup` into a dated .zip (every table, and every stored file:
# incident photos, notice answers' attachments, the files of appeals, rectifications and claims), checked,
# then a plain copy of EVIDENCE_DIR beside it, and backups older than BACKUP_KEEP_DAYS removed.
# Run by deploy/systemd/hallscore-backup.service (with /etc/hallscore/env) or by hand from the app folder.
# Restore: see the README (flask --app app restore FILE.zip).
set -eu
cd "$(dirname "$0")/.."
dir="${BACKUP_DIR:-/var/backups/hallscore}"
keep="${BACKUP_KEEP_DAYS:-30}"
mkdir -p "$dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
partial="$dir/partial-$stamp.zip"
trap 'rm -f "$partial"' EXIT
.venv/bin/flask --app app backup "$partial"
.venv/bin/python -m zipfile -t "$partial" >/dev/null  # a truncated file fails here, not on restore day
mv "$partial" "$dir/hallscore-$stamp.zip"
# The files as they are on disk too (stored names are random and never rewritten: copy only new ones).
if [ -n "${EVIDENCE_DIR:-}" ] && [ -d "$EVIDENCE_DIR" ]; then
    mkdir -p "$dir/evidence"
    cp -a -n "$EVIDENCE_DIR"/. "$dir/evidence/"
fi
find "$dir" -maxdepth 1 -name 'hallscore-*.zip' -mtime +"$keep" -delete
echo "backup written: $dir/hallscore-$stamp.zip"
