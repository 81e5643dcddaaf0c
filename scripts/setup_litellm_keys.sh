#!/usr/bin/env bash
# Generate the LiteLLM virtual keys of the stack (make litellm_setup).
#
#   scripts/setup_litellm_keys.sh               print the keys as .env lines on stdout
#   scripts/setup_litellm_keys.sh --write .env  write them into that file instead
#
# Waits (bounded) until LiteLLM's /health/readiness answers with its database connected,
# then asks /key/generate for two keys without budget or rate limits:
#   LLM_API_KEY       the gateway's key         (alias reasoning-api-<env>)
#   LITELLM_EVAL_KEY  for evaluation runs       (alias evaluations-<env>), tracked apart
# Progress and errors go to stderr. The master key is never printed; the new keys only as
# the final KEY=value lines on stdout, or only into the file named by --write.
#
# Environment:
#   LITELLM_URL           LiteLLM's address                     (default http://localhost:4000)
#   LITELLM_MASTER_KEY    the admin key; when unset, read from ENV_FILE
#   ENV_FILE              where the master key is read from     (default .env)
#   LITELLM_KEY_ENV       the environment these keys are for    (default development)
#   LITELLM_KEY_MODELS    comma-separated models the keys may use
#                         (default: every model_name in config/litellm_config.yaml)
#   LITELLM_WAIT_SECONDS  how long to wait for LiteLLM          (default 120)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LITELLM_URL="${LITELLM_URL:-http://localhost:4000}"
LITELLM_URL="${LITELLM_URL%/}"
ENV_FILE="${ENV_FILE:-.env}"
KEY_ENV="${LITELLM_KEY_ENV:-development}"
WAIT_SECONDS="${LITELLM_WAIT_SECONDS:-120}"
LITELLM_CONFIG="$REPO_ROOT/config/litellm_config.yaml"
WRITE_TO=""

say() { printf '%s\n' "$*" >&2; }
fail() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2; }

while (($#)); do
    case "$1" in
    --write)
        [[ $# -ge 2 && -n "$2" ]] || fail "--write needs a file name"
        WRITE_TO="$2"
        shift 2
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        usage
        fail "unknown argument: $1"
        ;;
    esac
done

command -v curl >/dev/null || fail "curl is required"
command -v python3 >/dev/null || fail "python3 is required (it reads and writes the JSON and the env file)"
[[ "$WAIT_SECONDS" =~ ^[0-9]+$ ]] || fail "LITELLM_WAIT_SECONDS must be a whole number of seconds"
[[ "$KEY_ENV" =~ ^[A-Za-z0-9._-]+$ ]] || fail "LITELLM_KEY_ENV may contain only letters, digits, '.', '_' and '-'"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# The value of NAME in a dotenv file (last assignment wins; quotes and trailing comments removed).
env_file_value() {
    python3 - "$1" "$2" <<'PY'
import re, sys
path, name = sys.argv[1], sys.argv[2]
value = ""
with open(path, encoding="utf-8") as lines:
    for line in lines:
        match = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$", line)
        if not match or match.group(1) != name:
            continue
        raw = match.group(2)
        if raw[:1] in ("'", '"') and raw.find(raw[0], 1) > 0:
            value = raw[1 : raw.find(raw[0], 1)]
        else:
            value = re.split(r"\s+#", raw, maxsplit=1)[0].strip()
print(value)
PY
}

# A top-level string field of a JSON file, or nothing when the file is not such JSON.
json_field() {
    python3 - "$1" "$2" <<'PY'
import json, sys
try:
    with open(sys.argv[1], encoding="utf-8") as f:
        value = json.load(f).get(sys.argv[2])
except (OSError, ValueError, AttributeError):
    value = None
print(value if isinstance(value, str) else "")
PY
}

# LiteLLM's error message from a response body, with anything shaped like a key masked.
error_message() {
    python3 - "$1" <<'PY'
import json, re, sys
with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
    text = f.read()
try:
    error = json.loads(text).get("error", {})
    message = error.get("message") if isinstance(error, dict) else str(error)
except (ValueError, AttributeError):
    message = None
message = " ".join(str(message or text or "(empty body)").split())[:400]
print(re.sub(r"sk-[A-Za-z0-9._\-*]{3,}", "sk-[redacted]", message))
PY
}

# The models the keys may use, as a JSON list.
key_models() {
    python3 - "$LITELLM_CONFIG" "${LITELLM_KEY_MODELS:-}" <<'PY'
import json, re, sys
config, override = sys.argv[1], sys.argv[2]
if override.strip():
    models = [m.strip() for m in override.split(",") if m.strip()]
else:
    with open(config, encoding="utf-8") as f:
        models = [m.strip("\"'") for m in re.findall(r"^\s*-?\s*model_name:\s*(\S+)", f.read(), re.M)]
print(json.dumps(models))
PY
}

master_key="${LITELLM_MASTER_KEY:-}"
if [[ -z "$master_key" && -f "$ENV_FILE" ]]; then
    master_key="$(env_file_value "$ENV_FILE" LITELLM_MASTER_KEY)"
fi
[[ -n "$master_key" ]] ||
    fail "LITELLM_MASTER_KEY is not set: export it, or set it in $ENV_FILE (see .env.dev.example)"
[[ "$master_key" == sk-* ]] || fail "LITELLM_MASTER_KEY must start with 'sk-' (LiteLLM refuses other master keys)"
models="$(key_models)"
[[ "$models" != "[]" ]] || fail "no models for the keys: set LITELLM_KEY_MODELS or list models in $LITELLM_CONFIG"

# ---- wait until LiteLLM is ready -------------------------------------------------------
say "Waiting for LiteLLM at $LITELLM_URL (up to ${WAIT_SECONDS}s)..."
deadline=$((SECONDS + WAIT_SECONDS))
while :; do
    status="$(curl -sS -o "$TMP/ready.json" -w '%{http_code}' --max-time 5 \
        "$LITELLM_URL/health/readiness" 2>"$TMP/curl.err")" || status="000"
    [[ "$status" == 200 ]] && break
    if ((SECONDS >= deadline)); then
        if [[ "$status" == 000 ]]; then
            last="no answer ($(tr -s '\n' ' ' <"$TMP/curl.err" | cut -c1-200))"
        else
            last="HTTP $status"
        fi
        fail "LiteLLM at $LITELLM_URL was not ready after ${WAIT_SECONDS}s (last: $last). Is it running? \
Check with: docker compose ps litellm; make litellm_logs"
    fi
    sleep 1
done
db="$(json_field "$TMP/ready.json" db)"
[[ "$db" == connected ]] ||
    fail "LiteLLM at $LITELLM_URL runs without a database (readiness: db=${db:-unknown}), and virtual keys live \
there. Start it with DATABASE_URL set (docker compose does), or use the master key as LLM_API_KEY."
say "LiteLLM is ready (database connected)."

# ---- generate the keys -----------------------------------------------------------------
# generate_key ALIAS COMPONENT: prints the new key; on failure explains and returns 1.
generate_key() {
    local alias="$1" component="$2" body status key message
    body="$(python3 - "$alias" "$KEY_ENV" "$component" "$models" <<'PY'
import json, sys
alias, environment, component, models = sys.argv[1:5]
print(json.dumps({
    "key_alias": alias,
    "models": json.loads(models),
    "metadata": {"environment": environment, "component": component},
}))
PY
)"
    # No max_budget, rpm/tpm or parallel limits: the keys are unlimited by design (seed 001).
    # The header comes from a file descriptor, so the master key never appears in argv.
    status="$(curl -sS -o "$TMP/key.json" -w '%{http_code}' --max-time 30 -X POST "$LITELLM_URL/key/generate" \
        -H @<(printf 'Authorization: Bearer %s\n' "$master_key") \
        -H 'Content-Type: application/json' \
        --data-binary @- <<<"$body" 2>"$TMP/curl.err")" || status="000"
    if [[ "$status" == 000 ]]; then
        say "error: could not reach $LITELLM_URL/key/generate: $(tr -s '\n' ' ' <"$TMP/curl.err" | cut -c1-200)"
        return 1
    fi
    message="$(error_message "$TMP/key.json")"
    message="${message//"$master_key"/[master key]}"
    case "$status" in
    200 | 201)
        key="$(json_field "$TMP/key.json" key)"
        if [[ "$key" != sk-* ]]; then
            say "error: LiteLLM answered HTTP $status for $alias but with no key in the body"
            return 1
        fi
        printf '%s\n' "$key"
        ;;
    401 | 403)
        say "error: LiteLLM refused the master key (HTTP $status): LITELLM_MASTER_KEY must be the key the" \
            "proxy runs with. LiteLLM said: $message"
        return 1
        ;;
    *)
        if [[ "$message" == *"already exists"* ]]; then
            say "error: LiteLLM already has a key named '$alias'. Delete it in the LiteLLM UI (make litellm_ui)," \
                "pick another LITELLM_KEY_ENV, or start over with make litellm_reset (deletes every key)."
        else
            say "error: LiteLLM could not create '$alias' (HTTP $status): $message"
        fi
        return 1
        ;;
    esac
}

# write_env_file FILE LINES_FILE: puts the NAME=value lines into FILE, replacing those
# names' assignments and appending the others; FILE keeps its mode (new files: 0600).
write_env_file() {
    python3 - "$1" "$2" <<'PY'
import os, re, sys, tempfile
path = sys.argv[1]
with open(sys.argv[2], encoding="utf-8") as f:
    updates = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
lines = open(path, encoding="utf-8").read().splitlines() if os.path.exists(path) else []
done = set()
for i, line in enumerate(lines):
    match = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=", line)
    if match and match.group(1) in updates:
        lines[i] = f"{match.group(1)}={updates[match.group(1)]}"
        done.add(match.group(1))
lines += [f"{name}={value}" for name, value in updates.items() if name not in done]
mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o600
folder = os.path.dirname(os.path.abspath(path))
fd, tmp = tempfile.mkstemp(dir=folder, prefix=".env-update-")
with os.fdopen(fd, "w", encoding="utf-8") as f:
    f.write("\n".join(lines) + "\n")
os.chmod(tmp, mode)
os.replace(tmp, path)
PY
}

lines=()
failed=0
for spec in "LLM_API_KEY reasoning-api-$KEY_ENV reasoning-api" "LITELLM_EVAL_KEY evaluations-$KEY_ENV evaluations"; do
    read -r name alias component <<<"$spec"
    say "Generating $name (alias $alias)..."
    if key="$(generate_key "$alias" "$component")"; then
        lines+=("$name=$key")
    else
        failed=1
        break
    fi
done

# Keys already created are handed over even after a failure: LiteLLM cannot show them again.
if ((${#lines[@]})); then
    if [[ -n "$WRITE_TO" ]]; then
        # $TMP is private to us (mktemp -d), so the keys never sit anywhere readable by others.
        printf '%s\n' "${lines[@]}" >"$TMP/keys"
        write_env_file "$WRITE_TO" "$TMP/keys"
        say "Wrote ${lines[*]%%=*} to $WRITE_TO."
    else
        say "Copy these lines into your .env:"
        printf '%s\n' "${lines[@]}"
    fi
fi
((failed == 0)) || exit 1
say "Done. Recreate the gateway so it reads the new key: docker compose up -d reasoning-api"
