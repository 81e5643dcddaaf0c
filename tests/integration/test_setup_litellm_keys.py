"""scripts/setup_litellm_keys.sh (make litellm_setup) against LiteLLM's key API.

LiteLLM keeps virtual keys in Postgres through Prisma, whose engines cannot be installed
here, so the happy paths run against a stand-in of LiteLLM's `/health/readiness` and
`/key/generate` (tests/support/litellm_key_api.py); the no-database path runs against
the real LiteLLM proxy of the test suite.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.deployment_files import env_file
from tests.support.litellm_key_api import KeyApiStandIn, KeyApiState
from tests.support.processes import REPO, free_port

SCRIPT = REPO / "scripts" / "setup_litellm_keys.sh"
MASTER = "sk-master-key-for-tests-0123456789"
CONFIG_MODELS = re.findall(r"^\s*-\s*model_name:\s*(\S+)", (REPO / "config/litellm_config.yaml").read_text(), re.M)


@pytest.fixture
def key_api() -> Iterator[KeyApiStandIn]:
    stand_in = KeyApiStandIn(free_port(), KeyApiState(master_key=MASTER))
    yield stand_in
    stand_in.stop()


def run_script(
    url: str, cwd: Path, *args: str, command: list[str] | None = None, **env: str | None
) -> subprocess.CompletedProcess[str]:
    """The script (or `command`) in `cwd`, with only the variables given here about LiteLLM."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LITELLM_", "ENV_FILE"))}
    settings = {"LITELLM_URL": url, "LITELLM_MASTER_KEY": MASTER, "LITELLM_WAIT_SECONDS": "5", **env}
    full_env = {**base, **{k: v for k, v in settings.items() if v is not None}}
    return subprocess.run(
        command or [str(SCRIPT), *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=60
    )


def test_prints_one_env_line_per_key_and_sends_what_litellm_expects(key_api, tmp_path):
    key_api.state.not_ready_polls = 2  # LiteLLM still starting: the script waits

    result = run_script(key_api.url, tmp_path)

    assert result.returncode == 0, result.stderr
    issued = key_api.state.issued
    assert result.stdout.splitlines() == [
        f"LLM_API_KEY={issued['reasoning-api-development']}",
        f"LITELLM_EVAL_KEY={issued['evaluations-development']}",
    ]
    readiness = [r for r in key_api.state.requests if r.path == "/health/readiness"]
    assert len(readiness) == 3
    posts = key_api.posts()
    assert [p.path for p in posts] == ["/key/generate", "/key/generate"]
    for post, (alias, component) in zip(
        posts, [("reasoning-api-development", "reasoning-api"), ("evaluations-development", "evaluations")], strict=True
    ):
        assert post.headers["authorization"] == f"Bearer {MASTER}"
        assert post.headers["content-type"] == "application/json"
        # Unlimited keys: no budget, no rate or parallel limits (seed 001).
        assert post.body == {
            "key_alias": alias,
            "models": CONFIG_MODELS,
            "metadata": {"environment": "development", "component": component},
        }
    assert MASTER not in result.stdout + result.stderr
    for key in issued.values():
        assert key not in result.stderr, "keys appear only in the final lines"


def test_environment_and_models_can_be_chosen(key_api, tmp_path):
    result = run_script(key_api.url, tmp_path, LITELLM_KEY_ENV="production", LITELLM_KEY_MODELS="gpt-4o, gpt-4o-mini")

    assert result.returncode == 0, result.stderr
    assert [p.body["key_alias"] for p in key_api.posts()] == ["reasoning-api-production", "evaluations-production"]
    assert {tuple(p.body["models"]) for p in key_api.posts()} == {("gpt-4o", "gpt-4o-mini")}
    assert {p.body["metadata"]["environment"] for p in key_api.posts()} == {"production"}


def test_reads_the_master_key_from_the_env_file(key_api, tmp_path):
    (tmp_path / ".env").write_text(
        "# comment\nOPENAI_API_KEY=sk-real\nLITELLM_MASTER_KEY=sk-old\n"
        f'LITELLM_MASTER_KEY="{MASTER}"   # the admin key\n'
    )

    result = run_script(key_api.url, tmp_path, LITELLM_MASTER_KEY=None)

    assert result.returncode == 0, result.stderr
    assert {p.headers["authorization"] for p in key_api.posts()} == {f"Bearer {MASTER}"}


def test_writes_the_keys_into_the_file_it_is_given(key_api, tmp_path):
    target = tmp_path / ".env"
    target.write_text(f"LITELLM_MASTER_KEY={MASTER}\nLLM_API_KEY=sk-the-master-key-for-now\nLOG_LEVEL=INFO\n")
    target.chmod(0o640)

    result = run_script(key_api.url, tmp_path, "--write", ".env", LITELLM_MASTER_KEY=None)

    assert result.returncode == 0, result.stderr
    issued = key_api.state.issued
    assert env_file(target) == {
        "LITELLM_MASTER_KEY": MASTER,
        "LLM_API_KEY": issued["reasoning-api-development"],
        "LOG_LEVEL": "INFO",
        "LITELLM_EVAL_KEY": issued["evaluations-development"],
    }
    assert target.read_text().splitlines()[1] == f"LLM_API_KEY={issued['reasoning-api-development']}"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert result.stdout == ""
    assert "Wrote LLM_API_KEY LITELLM_EVAL_KEY to .env" in result.stderr
    assert not any(key in result.stderr for key in [MASTER, *issued.values()])


def test_a_new_file_is_created_readable_by_its_owner_only(key_api, tmp_path):
    result = run_script(key_api.url, tmp_path, "--write", "keys.env")

    assert result.returncode == 0, result.stderr
    assert set(env_file(tmp_path / "keys.env")) == {"LLM_API_KEY", "LITELLM_EVAL_KEY"}
    assert stat.S_IMODE((tmp_path / "keys.env").stat().st_mode) == 0o600


def test_gives_up_when_litellm_never_gets_ready(key_api, tmp_path):
    key_api.state.not_ready_polls = -1

    result = run_script(key_api.url, tmp_path, LITELLM_WAIT_SECONDS="2")

    assert result.returncode == 1
    assert "was not ready after 2s (last: HTTP 503)" in result.stderr
    assert "make litellm_logs" in result.stderr
    assert key_api.posts() == []
    assert result.stdout == ""


def test_gives_up_when_nothing_listens(tmp_path):
    result = run_script(f"http://127.0.0.1:{free_port()}", tmp_path, LITELLM_WAIT_SECONDS="1")

    assert result.returncode == 1
    assert "was not ready after 1s (last: no answer" in result.stderr


def test_a_wrong_master_key_is_reported_without_showing_it(key_api, tmp_path):
    wrong = "sk-not-the-master-key-987654321"

    result = run_script(key_api.url, tmp_path, LITELLM_MASTER_KEY=wrong)

    assert result.returncode == 1
    assert "LiteLLM refused the master key (HTTP 401)" in result.stderr
    assert "Authentication Error" in result.stderr, "LiteLLM's own words are passed on"
    assert wrong not in result.stderr
    assert "987654321" not in result.stderr
    assert result.stdout == ""
    assert key_api.state.issued == {}


def test_an_existing_alias_stops_with_advice_and_hands_over_the_keys_already_made(key_api, tmp_path):
    key_api.state.aliases.add("evaluations-development")

    result = run_script(key_api.url, tmp_path)

    assert result.returncode == 1
    assert "already has a key named 'evaluations-development'" in result.stderr
    assert "LITELLM_KEY_ENV" in result.stderr
    assert "make litellm_reset" in result.stderr
    assert result.stdout.splitlines() == [f"LLM_API_KEY={key_api.state.issued['reasoning-api-development']}"]


def test_a_litellm_without_database_is_explained(key_api, tmp_path):
    key_api.state.db = "Not connected"

    result = run_script(key_api.url, tmp_path)

    assert result.returncode == 1
    assert "runs without a database (readiness: db=Not connected)" in result.stderr
    assert key_api.posts() == []


def test_the_real_litellm_without_database_gets_the_same_explanation(litellm, tmp_path):
    # The suite's LiteLLM runs without DATABASE_URL, like `make run`: no keys can be stored.
    from tests.conftest import MASTER_KEY

    result = run_script(litellm, tmp_path, LITELLM_MASTER_KEY=MASTER_KEY)

    assert result.returncode == 1
    assert "runs without a database (readiness: db=Not connected)" in result.stderr
    assert MASTER_KEY not in result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LITELLM_MASTER_KEY": None}, "LITELLM_MASTER_KEY is not set"),
        ({"LITELLM_MASTER_KEY": "admin-secret"}, "must start with 'sk-'"),
        ({"LITELLM_WAIT_SECONDS": "soon"}, "LITELLM_WAIT_SECONDS must be a whole number"),
        ({"LITELLM_KEY_ENV": "prod env"}, "LITELLM_KEY_ENV may contain only"),
    ],
)
def test_bad_settings_fail_before_contacting_litellm(key_api, tmp_path, env, message):
    result = run_script(key_api.url, tmp_path, **env)

    assert result.returncode == 1
    assert message in result.stderr
    assert key_api.state.requests == []
    assert "admin-secret" not in result.stderr


def test_unknown_arguments_show_the_usage(key_api, tmp_path):
    result = run_script(key_api.url, tmp_path, "--frobnicate")

    assert result.returncode == 1
    assert "unknown argument: --frobnicate" in result.stderr
    assert "--write .env" in result.stderr


def test_make_litellm_setup_runs_the_script(key_api, tmp_path):
    target = tmp_path / "from-make.env"

    result = run_script(key_api.url, REPO, command=["make", "--no-print-directory", "litellm_setup", f"WRITE={target}"])

    assert result.returncode == 0, result.stderr
    assert set(env_file(target)) == {"LLM_API_KEY", "LITELLM_EVAL_KEY"}
    assert result.stdout == ""
