"""config/mcp_servers.yaml parsing and the tool naming rule (contract section 6)."""

import pytest

from api.mcp.config import load_mcp_config
from api.mcp.naming import exposed_names


def test_names_stay_plain_unless_two_servers_share_one():
    names = exposed_names({"demo": ["get_weather", "search"], "web": ["search", "fetch"]})
    assert names == {
        ("demo", "get_weather"): "get_weather",
        ("demo", "search"): "demo__search",
        ("web", "search"): "web__search",
        ("web", "fetch"): "fetch",
    }


def test_config_file(tmp_path):
    path = tmp_path / "servers.yaml"
    path.write_text(
        "servers:\n"
        "  - {name: demo, url: 'http://localhost:8001/mcp', headers: {Authorization: Bearer x}}\n"
        "  - {name: time, command: mcp-server-time, args: ['--local-timezone', 'UTC'], enabled: false}\n"
    )
    demo, time = load_mcp_config(path)
    assert (demo.transport, demo.headers) == ("streamable_http", {"Authorization": "Bearer x"})
    assert (time.transport, time.enabled, time.args) == ("stdio", False, ["--local-timezone", "UTC"])


def test_missing_file_means_no_servers(tmp_path):
    assert load_mcp_config(tmp_path / "absent.yaml") == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("servers:\n  - {name: a}\n", "exactly one of"),
        ("servers:\n  - {name: a, url: 'http://x', command: y}\n", "exactly one of"),
        ("servers:\n  - {name: a, url: 'http://x'}\n  - {name: a, command: y}\n", "unique"),
        ("servers:\n  - {name: 'bad name', url: 'http://x'}\n", "name"),
        ("servers: [\n", "Invalid MCP server configuration"),
    ],
)
def test_bad_config_fails_start_up_with_the_reason(tmp_path, text, problem):
    path = tmp_path / "servers.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=problem):
        load_mcp_config(path)
