"""Start a real server process on a free port, wait until it answers, stop it cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServerProcess:
    """A child process serving HTTP on `port`, with its output captured to `log_path`."""

    name: str
    command: list[str]
    port: int
    log_path: Path
    env: dict[str, str | None] = field(default_factory=dict)  # None removes an inherited variable
    cwd: Path = REPO
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_path: str, timeout: float = 60.0) -> ServerProcess:
        return self.launch().wait_ready(ready_path, timeout)

    def launch(self) -> ServerProcess:
        """Start the process without waiting for it (`wait_ready` waits): several can boot at once."""
        env = {k: v for k, v in {**os.environ, **self.env}.items() if v is not None}
        self._log = self.log_path.open("ab")
        self._terminated = False
        self.process = subprocess.Popen(
            self.command, cwd=self.cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    def wait_ready(self, ready_path: str, timeout: float = 60.0) -> ServerProcess:
        assert self.process is not None, "launch() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.logs()[-4000:]}")
            try:
                if httpx.get(self.url + ready_path, timeout=1.0).status_code < 500:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} was not ready within {timeout}s:\n{self.logs()[-4000:]}")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def terminate(self) -> None:
        """SIGTERM without waiting (`stop` waits): several can shut down at once. Sent once:
        uvicorn takes a second SIGTERM as "exit now", skipping its graceful shutdown."""
        if self.process is not None and self.process.poll() is None and not self._terminated:
            self._terminated = True
            os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self) -> None:
        if self.process is None:
            return
        self.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        self._log.close()
