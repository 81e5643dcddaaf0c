"""`make run` (scripts/run_stack.py): which token the web client gets."""

from __future__ import annotations

import importlib.util

from tests.support.processes import REPO

spec = importlib.util.spec_from_file_location("run_stack", REPO / "scripts" / "run_stack.py")
run_stack = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_stack)


def test_the_web_client_uses_its_own_token_when_set():
    assert run_stack.web_client_token({"WEB_CLIENT_API_TOKEN": "mine", "API_TOKENS": "a,b"}) == "mine"


def test_else_the_gateways_first_token():
    assert run_stack.web_client_token({"WEB_CLIENT_API_TOKEN": "", "API_TOKENS": " a , b"}) == "a"


def test_no_token_when_the_gateway_has_none():
    assert run_stack.web_client_token({"API_TOKENS": ""}) == ""
