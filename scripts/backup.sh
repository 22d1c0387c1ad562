#!/usr/bin/env bash
# Dump the database named by DATABASE_URL into FILE (pg_dump's custom format: compressed, and
# restorable table by table with pg_restore). Usage: DATABASE_URL=postgres://… scripts/backup.sh FILE
#
# The dump is written next to FILE under a temporary name, checked readable (pg_restore --list)
# and only then renamed to FILE: a failed or interrupted backup never leaves a truncated FILE that
# looks like a good one. FILE holds personal data: it is created readable by its owner only.
#
# Exit codes: 0 done; 2 usage error (wrong arguments, DATABASE_URL unset or not PostgreSQL);
# 1 pg_dump or the check failed (FILE untouched).
set -euo pipefail

usage() {
    echo "usage: DATABASE_URL=postgres://USER@HOST:PORT/DB $0 FILE" >&2
    exit 2
}

[[ $# -eq 1 && -n "$1" && "$1" != -* ]] || usage
out=$1
url=${DATABASE_URL:-}
[[ -n "$url" ]] || { echo "backup: DATABASE_URL is not set" >&2; usage; }
# django-environ's scheme aliases; libpq takes postgresql:// and postgres://.
case "$url" in
    postgres://* | postgresql://*) ;;
    psql://* | pgsql://*) url="postgresql://${url#*://}" ;;
    *) echo "backup: DATABASE_URL is not a PostgreSQL URL" >&2; exit 2 ;;
esac
command -v pg_dump >/dev/null || { echo "backup: pg_dump not found on PATH" >&2; exit 2; }

dir=$(dirname -- "$out")
[[ -d "$dir" ]] || { echo "backup: no such directory: $dir" >&2; exit 2; }
tmp=$(mktemp -- "$dir/.backup.XXXXXX")
trap 'rm -f -- "$tmp"' EXIT
chmod 600 -- "$tmp"

pg_dump --format=custom --compress=6 --no-password --dbname="$url" --file="$tmp"
pg_restore --list -- "$tmp" >/dev/null
mv -f -- "$tmp" "$out"
trap - EXIT
echo "backup: wrote $out ($(wc -c <"$out") bytes)" >&2
