"""`python -m web_client`: serve the web client on WEB_CLIENT_HOST:WEB_CLIENT_PORT (default 127.0.0.1:8080)."""

from __future__ import annotations

import uvicorn

from web_client.app import create_app
from web_client.config import WebClientSettings

# Open streams get this long to finish on shutdown (Ctrl-C in `make run`, a container stop).
GRACEFUL_SHUTDOWN_SECONDS = 5


def main() -> None:
    settings = WebClientSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


if __name__ == "__main__":
    main()
