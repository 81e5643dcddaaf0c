"""The rule that names tools for the agent (contract section 6).

A tool keeps its own name when exactly one configured server offers it; when several
servers offer the same name, each becomes `<server>__<tool>`. Names are computed from
every server's last known tool list (down servers included), so a server going down does
not rename the others' tools under the agent's feet.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

SEPARATOR = "__"


def exposed_names(tools_by_server: Mapping[str, Sequence[str]]) -> dict[tuple[str, str], str]:
    """(server, tool) → the name the agent sees."""
    counts = Counter(tool for tools in tools_by_server.values() for tool in set(tools))
    return {
        (server, tool): f"{server}{SEPARATOR}{tool}" if counts[tool] > 1 else tool
        for server, tools in tools_by_server.items()
        for tool in tools
    }
