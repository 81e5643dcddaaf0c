"""The demo MCP server (`fake-mcp-server` in the design): deterministic tools, no keys needed.

    python scripts/demo_mcp_server.py --port 8001                  # streamable HTTP at /mcp
    python scripts/demo_mcp_server.py --port 8001 --token secret   # MCP requests need that bearer token

Tools: get_weather, get_stock_price, analyze_text, convert_units, slow_operation. Answers
are derived from the inputs (a hash), so the same question always gets the same answer and
the reasoning agent can be tried, tested and benchmarked with no external service.

`GET /` is a health check; `GET /events` lists tool calls as they start, finish or are
cancelled, so tests can see a cancelled call arrive here.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import re
import time
from collections import Counter, deque
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

CONDITIONS = ("sunny", "partly cloudy", "overcast", "light rain", "windy", "snow")
LENGTH_M = {"mm": 0.001, "cm": 0.01, "m": 1.0, "km": 1000.0, "in": 0.0254, "ft": 0.3048, "mi": 1609.344}
MASS_KG = {"g": 0.001, "kg": 1.0, "lb": 0.45359237, "oz": 0.028349523125}
TEMPERATURES = ("c", "f", "k")


def stable_number(text: str, low: float, high: float) -> float:
    """A number in [low, high) that depends only on `text`."""
    digest = int.from_bytes(hashlib.sha256(text.lower().encode()).digest()[:8], "big")
    return low + (digest / 2**64) * (high - low)


def weather(city: str) -> dict[str, Any]:
    return {
        "city": city,
        "temperature_c": round(stable_number(city + ":t", -5, 32), 1),
        "condition": CONDITIONS[int(stable_number(city + ":c", 0, len(CONDITIONS)))],
        "humidity_percent": int(stable_number(city + ":h", 20, 95)),
    }


def stock_price(symbol: str) -> dict[str, Any]:
    if not re.fullmatch(r"[A-Za-z]{1,5}", symbol):
        raise ToolError(f"'{symbol}' is not a ticker symbol (1-5 letters)")
    upper = symbol.upper()
    return {
        "symbol": upper,
        "price": round(stable_number(upper, 5, 900), 2),
        "currency": "USD",
        "change_percent": round(stable_number(upper + ":d", -4, 4), 2),
    }


def text_analysis(text: str) -> dict[str, Any]:
    words = re.findall(r"[A-Za-z']+", text.lower())
    sentences = [s for s in re.split(r"[.!?]+", text) if s.strip()]
    return {
        "characters": len(text),
        "words": len(words),
        "sentences": len(sentences),
        "top_words": [word for word, _ in Counter(w for w in words if len(w) > 3).most_common(5)],
    }


def convert(value: float, from_unit: str, to_unit: str) -> dict[str, Any]:
    src, dst = from_unit.strip().lower(), to_unit.strip().lower()
    for table in (LENGTH_M, MASS_KG):
        if src in table and dst in table:
            return {"value": round(value * table[src] / table[dst], 6), "unit": dst}
    if src in TEMPERATURES and dst in TEMPERATURES:
        celsius = {"c": value, "f": (value - 32) * 5 / 9, "k": value - 273.15}[src]
        result = {"c": celsius, "f": celsius * 9 / 5 + 32, "k": celsius + 273.15}[dst]
        return {"value": round(result, 4), "unit": dst}
    known = ", ".join([*LENGTH_M, *MASS_KG, *TEMPERATURES])
    raise ToolError(f"cannot convert {from_unit} to {to_unit}; known units: {known}")


def create_server() -> MCPServer:
    server = MCPServer("demo-tools", instructions="Deterministic demo tools for the Reasoning Agent API.")
    events: deque[dict[str, Any]] = deque(maxlen=500)

    @server.tool()
    def get_weather(city: str) -> dict[str, Any]:
        """Current weather for a city: temperature (°C), condition and humidity."""
        return weather(city)

    @server.tool()
    def get_stock_price(symbol: str) -> dict[str, Any]:
        """Latest price of a stock by ticker symbol (e.g. AAPL), in USD, with the day's change."""
        return stock_price(symbol)

    @server.tool()
    def analyze_text(text: str) -> dict[str, Any]:
        """Count characters, words and sentences of a text and list its most frequent words."""
        return text_analysis(text)

    @server.tool()
    def convert_units(value: float, from_unit: str, to_unit: str) -> dict[str, Any]:
        """Convert a value between units of length (mm, cm, m, km, in, ft, mi), mass (g, kg, lb, oz)
        or temperature (c, f, k)."""
        return convert(value, from_unit, to_unit)

    @server.tool()
    async def slow_operation(seconds: float) -> str:
        """Wait for the given number of seconds, then report completion (to try timeouts)."""
        events.append({"tool": "slow_operation", "event": "started", "at": time.time()})
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            events.append({"tool": "slow_operation", "event": "cancelled", "at": time.time()})
            raise
        events.append({"tool": "slow_operation", "event": "finished", "at": time.time()})
        return f"waited {seconds:g} s"

    @server.custom_route("/", methods=["GET"])
    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "server": "demo-tools"})

    @server.custom_route("/events", methods=["GET"])
    async def list_events(request: Request) -> Response:
        return JSONResponse(list(events))

    return server


def require_token(app: ASGIApp, token: str) -> ASGIApp:
    """Refuse MCP requests (not the health check or /events) without `Authorization: Bearer <token>`."""
    expected = f"Bearer {token}".encode()

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        is_mcp = scope["type"] == "http" and scope["path"].startswith("/mcp")
        if is_mcp and dict(scope["headers"]).get(b"authorization") != expected:
            await JSONResponse({"error": "a bearer token is required"}, status_code=401)(scope, receive, send)
            return
        await app(scope, receive, send)

    return guarded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--token", default="", help="require this bearer token on MCP requests")
    args = parser.parse_args()
    app: ASGIApp = create_server().streamable_http_app(host=args.host)
    if args.token:
        app = require_token(app, args.token)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
