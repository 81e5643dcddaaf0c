#!/usr/bin/env bash
# Make sure the PostgreSQL server the audit tests use is up (CI runs this before `make test`).
#
# With TEST_DATABASE_URL set, that server must answer; nothing is started. Otherwise the
# machine's own server on 127.0.0.1:5432 is used: started when it is installed but stopped,
# and a loud failure when it is not installed (the tests never skip a missing database).
set -euo pipefail

url="${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"

fail() {
    echo "ensure_postgres: $*" >&2
    echo "ensure_postgres: the audit tests need a real PostgreSQL server: install one (Debian: apt-get install postgresql)," >&2
    echo "ensure_postgres: or set TEST_DATABASE_URL=postgresql://user:password@host:port/postgres to one you have." >&2
    exit 1
}

command -v pg_isready >/dev/null || fail "pg_isready not found: the PostgreSQL client tools are not installed."

if pg_isready -q -d "$url"; then
    exit 0
fi
[[ -n "${TEST_DATABASE_URL:-}" ]] && fail "TEST_DATABASE_URL does not answer."
[[ -d /etc/postgresql ]] && command -v pg_ctlcluster >/dev/null || fail "no PostgreSQL server is installed on this machine."

version="$(ls /etc/postgresql | sort -V | tail -n 1)"
echo "ensure_postgres: starting PostgreSQL ${version} (cluster main)"
pg_ctlcluster --skip-systemctl-redirect "$version" main start || true  # already starting is fine
for _ in $(seq 1 30); do
    pg_isready -q -d "$url" && exit 0
    sleep 1
done
fail "PostgreSQL ${version} did not start answering on ${url}."
