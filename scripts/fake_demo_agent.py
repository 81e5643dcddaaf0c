"""The fake model's demo agent (pure): which tools a question needs, and an answer from their results.

`scripts/fake_upstream.py` plays it for every model name without an `agent=` directive, so
`make run-demo` behaves like a small agent with the demo MCP server and `mcp-server-time`:

- `demo_script(question)`: the steps, chosen from the question by the `INTENTS` table:
  weather (`get_weather`, the city from the question), time (`get_current_time`, the time
  zone guessed from a city, else UTC), stock (`get_stock_price`, the ticker), units
  (`convert_units`, "5 km to miles"). Several intents in one question are called
  concurrently in one step; none means a first step that answers directly.
- `answer(findings, question)`: one sentence per tool result, e.g. the weather in °F when
  the question says Fahrenheit. The fake reads the findings statelessly from the messages
  it receives: the reasoning agent's notes (`- tool({args}) → result` lines, written by
  api/paths/reasoning/conversation.py) or OpenAI `tool` messages (`tool_findings`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

Step = dict[str, Any]
Call = tuple[str, dict[str, Any], str]  # tool name, arguments, why (shown to the user as the step's reasoning)

# City → IANA time zone; the names also help find a city in a lower-case question.
CITIES: dict[str, str] = {
    "Paris": "Europe/Paris",
    "London": "Europe/London",
    "Berlin": "Europe/Berlin",
    "Madrid": "Europe/Madrid",
    "Rome": "Europe/Rome",
    "Oslo": "Europe/Oslo",
    "Amsterdam": "Europe/Amsterdam",
    "New York": "America/New_York",
    "Chicago": "America/Chicago",
    "Los Angeles": "America/Los_Angeles",
    "San Francisco": "America/Los_Angeles",
    "Toronto": "America/Toronto",
    "Lima": "America/Lima",
    "Sao Paulo": "America/Sao_Paulo",
    "Tokyo": "Asia/Tokyo",
    "Beijing": "Asia/Shanghai",
    "Singapore": "Asia/Singapore",
    "Mumbai": "Asia/Kolkata",
    "Dubai": "Asia/Dubai",
    "Sydney": "Australia/Sydney",
    "Cairo": "Africa/Cairo",
}
DEFAULT_CITY = "Paris"
COMPANIES = {
    "apple": "AAPL",
    "microsoft": "MSFT",
    "google": "GOOGL",
    "amazon": "AMZN",
    "tesla": "TSLA",
    "nvidia": "NVDA",
}
NOT_TICKERS = {"I", "A", "USD", "UTC", "AM", "PM", "OK", "CEO"}
# The demo MCP server's unit codes (scripts/demo_mcp_server.py), by the words people use.
UNITS: dict[str, str] = {
    **dict.fromkeys(["mm", "millimetre", "millimetres", "millimeter", "millimeters"], "mm"),
    **dict.fromkeys(["cm", "centimetre", "centimetres", "centimeter", "centimeters"], "cm"),
    **dict.fromkeys(["m", "metre", "metres", "meter", "meters"], "m"),
    **dict.fromkeys(["km", "kilometre", "kilometres", "kilometer", "kilometers"], "km"),
    **dict.fromkeys(["in", "inch", "inches"], "in"),
    **dict.fromkeys(["ft", "foot", "feet"], "ft"),
    **dict.fromkeys(["mi", "mile", "miles"], "mi"),
    **dict.fromkeys(["g", "gram", "grams"], "g"),
    **dict.fromkeys(["kg", "kilo", "kilos", "kilogram", "kilograms"], "kg"),
    **dict.fromkeys(["lb", "lbs", "pound", "pounds"], "lb"),
    **dict.fromkeys(["oz", "ounce", "ounces"], "oz"),
    **dict.fromkeys(["c", "°c", "celsius"], "c"),
    **dict.fromkeys(["f", "°f", "fahrenheit"], "f"),
    **dict.fromkeys(["k", "kelvin"], "k"),
}
_UNIT = "|".join(sorted(map(re.escape, UNITS), key=len, reverse=True))
_VALUE = r"(?P<value>-?\d+(?:\.\d+)?)"
_SRC, _DST = rf"(?P<src>{_UNIT})(?![a-z])", rf"(?P<dst>{_UNIT})(?![a-z])"
CONVERSIONS = (  # "5 km to miles", "how many feet in 3 metres"
    re.compile(rf"{_VALUE}\s*{_SRC}\s+(?:in|to|into|as)\s+{_DST}", re.I),
    re.compile(rf"how many {_DST} (?:are |is )?(?:in|is|are) {_VALUE}\s*{_SRC}", re.I),
)
WEATHER_WORDS = re.compile(r"\b(weather|temperature|forecast|rain|raining|snow|sunny|humidity|hot|cold|warm)\b", re.I)
FAHRENHEIT = re.compile(r"fahrenheit|°\s*f\b", re.I)


# ---- choosing the tools -------------------------------------------------------------


def find_city(question: str) -> str | None:
    """A known city named in the question, else a capitalised name after in/for/at."""
    for city in CITIES:
        if re.search(rf"\b{re.escape(city)}\b", question, re.I):
            return city
    for match in re.finditer(r"\b(?:in|for|at)\s+([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*)", question):
        if match.group(1).lower() not in UNITS:
            return match.group(1)
    return None


def weather_call(question: str) -> Call | None:
    if not WEATHER_WORDS.search(question):
        return None
    city = find_city(question)
    why = f"get_weather knows the weather in {city or DEFAULT_CITY}"
    if city is None:
        why += " (no city named, so I take Paris)"
    if FAHRENHEIT.search(question):
        why += "; it answers in °C, which I will turn into °F"
    return "get_weather", {"city": city or DEFAULT_CITY}, why


def time_call(question: str) -> Call | None:
    if not re.search(r"\b(time|clock)\b", question, re.I):
        return None
    named = re.search(r"\b[A-Z][a-z]+/[A-Z][A-Za-z_]+\b", question)
    city = find_city(question)
    if named:
        zone, why = named.group(0), f"get_current_time tells the time in {named.group(0)}"
    elif city in CITIES:
        zone, why = CITIES[city], f"get_current_time tells the time in {city}'s time zone, {CITIES[city]}"
    else:
        zone, why = "UTC", "get_current_time tells the time; no time zone I know of is named, so UTC"
    return "get_current_time", {"timezone": zone}, why


def stock_call(question: str) -> Call | None:
    if not re.search(r"\b(stocks?|shares?|ticker|price|trading)\b", question, re.I):
        return None
    symbol = next((t for t in re.findall(r"\$?\b([A-Z]{1,5})\b", question) if t not in NOT_TICKERS), None)
    symbol = symbol or next((s for name, s in COMPANIES.items() if re.search(rf"\b{name}\b", question, re.I)), None)
    if symbol is None:
        return None
    return "get_stock_price", {"symbol": symbol}, f"get_stock_price has the latest price of {symbol}"


def units_call(question: str) -> Call | None:
    for pattern in CONVERSIONS:
        match = pattern.search(question)
        if match:
            src, dst = UNITS[match["src"].lower()], UNITS[match["dst"].lower()]
            value = float(match["value"])
            arguments = {"value": value, "from_unit": src, "to_unit": dst}
            return "convert_units", arguments, f"convert_units turns {match['value']} {src} into {dst}"
    return None


# Checked in order; every intent that matches becomes one call of the first step.
INTENTS: tuple[Callable[[str], Call | None], ...] = (units_call, weather_call, time_call, stock_call)


def plan(question: str) -> list[Call]:
    return [call for intent in INTENTS if (call := intent(question)) is not None]


def demo_script(question: str) -> list[Step]:
    """The demo agent's steps for a question, one per position (see AGENT_SCENARIOS)."""
    calls = plan(question)
    if not calls:
        return [_step("No tool can help with this, so I can answer directly.", "finished", [])]
    thought = "I need tools for this: " + "; ".join(why for _, _, why in calls) + "."
    first = _step(thought, "use_tools", calls)
    return [first, _step("I have the tool results I need to answer.", "finished", [])]


def _step(thought: str, action: str, calls: list[Call]) -> Step:
    tools = [{"tool_name": name, "arguments": args, "reasoning": why} for name, args, why in calls]
    return {"thought": thought, "next_action": action, "tools_to_use": tools, "concurrent_execution": len(calls) > 1}


# ---- reading the results --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    """One tool call and what it gave: `result` (text, usually JSON) or `error`."""

    tool: str
    arguments: dict[str, Any]
    result: str | None = None
    error: str | None = None


_NOTE = re.compile(r"^\s*- (?P<tool>[\w.-]+)\((?P<rest>\{.*)$")


def note_findings(messages: list[dict[str, Any]]) -> list[Finding]:
    """The reasoning agent's tool results, as it writes them for the model: `- tool({args}) → result`."""
    found = []
    for message in messages:
        content = message.get("content")
        if message.get("role") not in ("system", "user") or not isinstance(content, str):
            continue
        for line in content.splitlines():
            match = _NOTE.match(line)
            finding = _parse_note(match["tool"], match["rest"]) if match else None
            if finding is not None:
                found.append(finding)
    return found


def _parse_note(tool: str, rest: str) -> Finding | None:
    # The arguments are JSON followed by ") → result" or ") failed: error"; try each ")".
    for end in (i for i, ch in enumerate(rest) if ch == ")"):
        tail = rest[end + 1 :]
        if not tail.startswith((" → ", " failed: ")):
            continue
        try:
            arguments = orjson.loads(rest[:end])
        except orjson.JSONDecodeError:
            continue
        if tail.startswith(" → "):
            return Finding(tool, arguments, result=tail[len(" → ") :])
        return Finding(tool, arguments, error=tail[len(" failed: ") :])
    return None


def tool_findings(messages: list[dict[str, Any]]) -> list[Finding]:
    """The trailing `tool` messages (OpenAI function calling), named after the calls they answer."""
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    trailing: list[dict[str, Any]] = []
    for message in messages:
        if message.get("role") == "tool":
            trailing.append(message)
            continue
        trailing = []
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            try:
                arguments = orjson.loads(function.get("arguments") or "{}")
            except orjson.JSONDecodeError:
                arguments = {}
            calls[call.get("id", "")] = (function.get("name", "tool"), arguments if isinstance(arguments, dict) else {})
    found = []
    for message in trailing:
        name, arguments = calls.get(message.get("tool_call_id", ""), (message.get("name") or "the tool", {}))
        found.append(Finding(name, arguments, result=_text(message.get("content"))))
    return found


def _text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content or "")


# ---- writing the answer ---------------------------------------------------------------


def answer(findings: list[Finding], question: str) -> str:
    """One sentence per finding, from the tool's own figures."""
    return " ".join(_sentence(finding, question) for finding in findings)


def _sentence(finding: Finding, question: str) -> str:
    if finding.error is not None:
        return f"I could not use {finding.tool}: {finding.error}."
    try:
        data = orjson.loads(finding.result or "")
        return SENTENCES[finding.tool](data, finding.arguments, question)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return f"{finding.tool} returned: {finding.result}"


def weather_sentence(data: dict[str, Any], arguments: dict[str, Any], question: str) -> str:
    celsius = float(data["temperature_c"])
    if FAHRENHEIT.search(question):
        temperature = f"{fahrenheit(celsius):.1f} °F ({celsius:.1f} °C)"
    else:
        temperature = f"{celsius:.1f} °C"
    return f"In {data['city']} it is {temperature} and {data['condition']}, with {data['humidity_percent']}% humidity."


def fahrenheit(celsius: float) -> float:
    return celsius * 9 / 5 + 32


def time_sentence(data: dict[str, Any], arguments: dict[str, Any], question: str) -> str:
    moment = datetime.fromisoformat(data["datetime"])
    return f"In {data['timezone']} it is {moment:%H:%M} on {data['day_of_week']}, {moment:%Y-%m-%d}."


def stock_sentence(data: dict[str, Any], arguments: dict[str, Any], question: str) -> str:
    change = float(data["change_percent"])
    trend = f"up {change:g}%" if change > 0 else f"down {-change:g}%" if change < 0 else "unchanged"
    return f"{data['symbol']} trades at {number(data['price'])} {data['currency']}, {trend} today."


def units_sentence(data: dict[str, Any], arguments: dict[str, Any], question: str) -> str:
    source = f"{number(arguments['value'])} {arguments['from_unit']}"
    return f"{source} is {number(data['value'])} {data['unit']}."


def text_sentence(data: dict[str, Any], arguments: dict[str, Any], question: str) -> str:
    words = ", ".join(data["top_words"]) or "none"
    return (
        f"The text has {data['words']} words in {data['sentences']} sentence(s), {data['characters']} characters; "
        f"its most frequent words: {words}."
    )


def number(value: Any) -> str:
    """A tool's number as a reader writes it: 3.0 → "3", 3.106856 → "3.106856"."""
    value = float(value)
    return str(int(value)) if value.is_integer() else str(value)


SENTENCES: dict[str, Callable[[dict[str, Any], dict[str, Any], str], str]] = {
    "get_weather": weather_sentence,
    "get_current_time": time_sentence,
    "get_stock_price": stock_sentence,
    "convert_units": units_sentence,
    "analyze_text": text_sentence,
}
