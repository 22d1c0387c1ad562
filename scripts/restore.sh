#!/usr/bin/env bash
# Restore a dump made by scripts/backup.sh into the database TARGET_DATABASE_URL names (which
# must exist: createdb it first). Usage: scripts/restore.sh [--force] FILE TARGET_DATABASE_URL
#
# All or nothing: pg_restore runs in one transaction and stops at the first error, so a failed
# restore leaves the target as it was. It refuses a target that already has tables (restoring
# over live data by mistake is the accident a drill must not cause) unless --force, which first
# drops the objects the dump contains. Roles and grants are not restored: the target's owner
# owns everything (--no-owner --no-privileges).
#
# Exit codes: 0 restored; 2 usage error; 3 the target is not empty (nothing done);
# 4 FILE missing or not a pg_dump archive; 1 pg_restore failed (target unchanged).
set -euo pipefail

usage() {
    echo "usage: $0 [--force] FILE TARGET_DATABASE_URL" >&2
    exit 2
}

force=0
if [[ "${1:-}" == "--force" ]]; then
    force=1
    shift
fi
[[ $# -eq 2 && -n "$1" && -n "$2" ]] || usage
file=$1
url=$2
case "$url" in
    postgres://* | postgresql://*) ;;
    psql://* | pgsql://*) url="postgresql://${url#*://}" ;;
    *) echo "restore: TARGET_DATABASE_URL is not a PostgreSQL URL" >&2; exit 2 ;;
esac
for tool in pg_restore psql; do
    command -v "$tool" >/dev/null || { echo "restore: $tool not found on PATH" >&2; exit 2; }
done

[[ -r "$file" ]] || { echo "restore: cannot read $file" >&2; exit 4; }
pg_restore --list -- "$file" >/dev/null 2>&1 || {
    echo "restore: $file is not a pg_dump custom-format archive" >&2
    exit 4
}

relations=$(psql --no-password --no-psqlrc --quiet --tuples-only --no-align --dbname="$url" \
    --command="SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
                 AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                 AND n.nspname NOT LIKE 'pg_toast%'")
args=(--no-password --no-owner --no-privileges --exit-on-error --single-transaction)
if [[ "$relations" != "0" ]]; then
    if [[ $force -eq 0 ]]; then
        echo "restore: the target database is not empty ($relations relations);" \
            "refusing (use --force to replace the objects the dump contains)" >&2
        exit 3
    fi
    args+=(--clean --if-exists)
fi

pg_restore "${args[@]}" --dbname="$url" -- "$file"
echo "restore: restored $file" >&2
