"""A stand-in for the part of LiteLLM's admin API that scripts/setup_litellm_keys.sh uses.

LiteLLM stores virtual keys in Postgres through Prisma, whose engines cannot be installed
offline here, so the key workflow is tested against this server instead. It answers as
LiteLLM 1.106 does (read from its source: `health_readiness`, `generate_key_fn`,
`_enforce_unique_key_alias`, `user_api_key_auth`):

- `GET /health/readiness` → 200 `{"status": "healthy", "db": "connected"}` (503 while "starting")
- `POST /key/generate` with `Authorization: Bearer <master key>` → 200 with the new `key`;
  a wrong key → 401 `auth_error`; an alias in use → 400 "... already exists ...".

Every request is recorded (method, path, headers, JSON body) for the tests to inspect.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class KeyApiState:
    master_key: str
    not_ready_polls: int = 0  # readiness answers 503 this many times first (-1: never ready)
    db: str = "connected"
    aliases: set[str] = field(default_factory=set)
    requests: list[Recorded] = field(default_factory=list)
    issued: dict[str, str] = field(default_factory=dict)  # alias -> key


class _Handler(BaseHTTPRequestHandler):
    state: KeyApiState

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _record(self, body: Any = None) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.state.requests.append(Recorded(self.command, self.path, headers, body))

    def _answer(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._record()
        if self.path != "/health/readiness":
            self._answer(404, {"detail": "Not Found"})
        elif self.state.not_ready_polls != 0:
            self.state.not_ready_polls -= 1 if self.state.not_ready_polls > 0 else 0
            self._answer(503, {"status": "healthy", "db": "disconnected"})
        else:
            self._answer(200, {"status": "healthy", "db": self.state.db})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        self._record(body)
        if self.path != "/key/generate":
            self._answer(404, {"detail": "Not Found"})
            return
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        if token != self.state.master_key:
            shown = f"{token[:3]}...{token[-4:]}" if len(token) > 8 else token
            self._answer(
                401,
                _error(
                    f"Authentication Error, Invalid proxy server token passed. Received API Key = {shown}",
                    "auth_error",
                    401,
                ),
            )
            return
        alias = body.get("key_alias") if isinstance(body, dict) else None
        if alias in self.state.aliases:
            message = f"Key with alias '{alias}' already exists. Unique key aliases across all keys are required."
            self._answer(400, _error(message, "bad_request_error", 400, param="key_alias"))
            return
        key = "sk-" + secrets.token_urlsafe(16)
        self.state.aliases.add(alias)
        self.state.issued[alias] = key
        self._answer(200, {**body, "key": key, "key_name": f"sk-...{key[-4:]}", "token": secrets.token_hex(32)})


def _error(message: str, kind: str, code: int, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param or "None", "code": str(code)}}


class KeyApiStandIn:
    """The stand-in on 127.0.0.1:`port`, serving from a thread until `stop()`."""

    def __init__(self, port: int, state: KeyApiState) -> None:
        handler = type("Handler", (_Handler,), {"state": state})
        self.state = state
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.url = f"http://127.0.0.1:{port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def posts(self) -> list[Recorded]:
        return [r for r in self.state.requests if r.method == "POST"]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
