"""Alembic, driven from code: at start-up (on the store's connection) and by `make migrate`.

There is no alembic.ini: the configuration is built here, and the connection is handed
to `migrations/env.py`, so the gateway and the command line migrate exactly the same
database through the same async engine.

    python -m api.audit.migrate                     upgrade to the newest revision (make migrate)
    python -m api.audit.migrate downgrade base      drop the audit table
    python -m api.audit.migrate current             print the database's revision
    python -m api.audit.migrate revision -m "add x" [--autogenerate]   write a new revision
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from api.audit.engine import display_url, make_engine
from api.config import AuditSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection, revision: str = "head") -> None:
    command.upgrade(alembic_config(connection), revision)


def downgrade(connection: Connection, revision: str) -> None:
    command.downgrade(alembic_config(connection), revision)


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def on_database(url: str, operation: Callable[..., object], *args: object) -> object:
    """Run a synchronous Alembic `operation(connection, *args)` in one transaction on `url`."""
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            return await connection.run_sync(operation, *args)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.audit.migrate", description="Audit store migrations.")
    sub = parser.add_subparsers(dest="action")
    sub.add_parser("upgrade").add_argument("revision", nargs="?", default="head")
    sub.add_parser("downgrade").add_argument("revision")
    sub.add_parser("current")
    revision = sub.add_parser("revision")
    revision.add_argument("-m", "--message", required=True)
    revision.add_argument("--autogenerate", action="store_true")
    args = parser.parse_args(argv)
    url = AuditSettings().database_url.get_secret_value()
    action = args.action or "upgrade"

    if action == "current":
        print(asyncio.run(on_database(url, current_revision)) or "(empty)")
    elif action == "revision":
        asyncio.run(on_database(url, _revision, args.message, args.autogenerate))
    elif action == "downgrade":
        asyncio.run(on_database(url, downgrade, args.revision))
    else:
        asyncio.run(on_database(url, upgrade, getattr(args, "revision", "head")))
    print(f"{action}: done on {display_url(url)}", file=sys.stderr)
    return 0


def _revision(connection: Connection, message: str, autogenerate: bool) -> None:
    command.revision(alembic_config(connection), message=message, autogenerate=autogenerate)


if __name__ == "__main__":
    sys.exit(main())
