"""Turn a benchmark run into `benchmarks.json`, the results section of `benchmarks.md`, and a chart.

The results section sits between two markers in `docs/benchmarks.md`; the hand-written
parts of that page (method, profile, before/after notes) are left as they are.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.orchestration_overhead import markdown_section as orchestration_section

START, END = "<!-- results:start -->", "<!-- results:end -->"
GOAL_SHARE_OF_BARE = 0.8
GOAL_ADDED_P50_MS = 2.0
GOAL_TIMES_LITELLM = 6.0
GOAL_ADDED_TTFT_MS = 1.0
GOAL_TIMES_PORTKEY = 1.0
#: The rows whose throughput is put beside Portkey's: the hops to the same upstream (issue 20).
PORTKEY_PEERS = ("gateway", "bare", "limits_memory", "limits_redis", "workers_1", "workers_2")


def write_report(results: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "benchmarks.json").write_text(json.dumps(results, indent=2))
    chart(results, out_dir / "benchmarks.png")
    section = f"{START}\n{markdown(results)}\n{END}"
    page = out_dir / "benchmarks.md"
    text = page.read_text() if page.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    page.write_text(head + section + tail)


def _cell(results: dict, key: str, concurrency: int) -> dict | None:
    return results["throughput"]["results"].get(f"{key}@{concurrency}")


def markdown(results: dict) -> str:
    env, profile = results["environment"], results["profile"]
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items())
    lines = [
        f"Measured with `{results['command']}` on {env['cpu']} ({env['cores']} cores), Linux {env['kernel']}, "
        f"Python {env['python']}; {versions}. One worker per server (7w2: two). {profile['rounds']} round(s) of "
        f"{profile['seconds']:g} s per configuration and concurrency, interleaved; medians of the rounds. "
        f"The whole run took {results['elapsed_s']:g} s.",
        "",
        "### Throughput and added latency (non-streaming; upstream: static nginx)",
        "",
        "| configuration | c | req/s | p50 ms | p90 ms | p99 ms | added p50 / p90 / p99 ms "
        "| CPU s per 1k req | ours ÷ bare hop | ours ÷ LiteLLM | ours ÷ Portkey |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    labels = results["throughput"]["labels"]
    for concurrency in profile["concurrency"]:
        floor = _cell(results, "direct", concurrency)
        bare = _cell(results, "bare", concurrency)
        litellm = _cell(results, "litellm", concurrency)
        portkey = _cell(results, "portkey", concurrency)
        for key, label in labels.items():
            row = _cell(results, key, concurrency)
            if row is None:
                continue
            added = (
                "—"
                if key == "direct"
                else " / ".join(f"{row[p] - floor[p]:.2f}" for p in ("p50_ms", "p90_ms", "p99_ms"))
            )
            cpu = "—" if row["cpu_s_per_1k"] is None else f"{row['cpu_s_per_1k']:.3f}"
            vs_bare = f"{row['rps'] / bare['rps']:.2f}" if key in ("gateway",) else ""
            vs_litellm = f"{row['rps'] / litellm['rps']:.1f}×" if key in ("gateway", "gateway_litellm") else ""
            vs_portkey = f"{row['rps'] / portkey['rps']:.2f}" if portkey and key in PORTKEY_PEERS else ""
            lines.append(
                f"| {label} | {concurrency} | {row['rps']:.0f} | {row['p50_ms']:.2f} | {row['p90_ms']:.2f} | "
                f"{row['p99_ms']:.2f} | {added} | {cpu} | {vs_bare} | {vs_litellm} | {vs_portkey} |"
            )
    lines += cache_section(results) + workers_section(results)
    lines += ["", "### Streaming (fake model: 20 chunks, 10 ms apart; sequential streams)", ""]
    lines += [
        "| configuration | TTFT p50 ms | added TTFT ms | mean gap between chunks ms | added gap ms |",
        "|---|---:|---:|---:|---:|",
    ]
    streams = results["streams"]
    base = streams["direct"]
    for key, row in streams.items():
        added_ttft = "—" if key == "direct" else f"{row['ttft_p50_ms'] - base['ttft_p50_ms']:.2f}"
        added_gap = "—" if key == "direct" else f"{row['gap_mean_ms'] - base['gap_mean_ms']:.2f}"
        ttft, gap = f"{row['ttft_p50_ms']:.2f}", f"{row['gap_mean_ms']:.2f}"
        lines.append(f"| {labels.get(key, key)} | {ttft} | {added_ttft} | {gap} | {added_gap} |")
    lines += ["", "### A realistic upstream (fake model answering in 50 ms; 10 clients)", ""]
    lines += ["| configuration | req/s | p50 ms | p99 ms | added p50 ms |", "|---|---:|---:|---:|---:|"]
    latency = results["latency50"]
    for key, row in latency.items():
        added = "—" if key == "direct" else f"{row['p50_ms'] - latency['direct']['p50_ms']:.2f}"
        lines.append(
            f"| {labels.get(key, key)} | {row['rps']:.0f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {added} |"
        )
    lines += ["", "### Memory with open streams (each held open by a slow fake model)", ""]
    lines += [
        "| server | streams open | RSS idle MB | peak RSS MB | of which its child processes MB |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, row in results["memory"].items():
        children = row.get("children_peak_rss_mb", 0.0)
        lines.append(
            f"| {labels.get(key, key)} | {row['opened']} | {row['idle_rss_mb']:.0f} | {row['peak_rss_mb']:.0f} "
            f"| {children:.0f} |"
        )
    lines += ["", "### Reasoning mode (scripted two-step agent, one demo MCP tool call, fake model at 0 ms)", ""]
    lines += ["| concurrency | req/s | p50 ms | p99 ms | gateway CPU ms per request |", "|---|---:|---:|---:|---:|"]
    for key, row in results["reasoning"].items():
        lines.append(
            f"| {key} | {row['rps']:.0f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {row['cpu_s_per_1k']:.2f} |"
        )
    lines += orchestration_section(results)
    lines += audit_section(results)
    lines += ["", "### Against the goals", ""] + [f"- {check}" for check in goal_checks(results)]
    return "\n".join(lines)


def cache_section(results: dict) -> list[str]:
    """Rows 4, 4m and 4h side by side, and the gateway's own count of what was a hit."""
    check = results.get("cache_check")
    if not check:
        return []
    lines = [
        "",
        "### LiteLLM's response cache (gateway → LiteLLM, Redis cache on; temperature-0 requests)",
        "",
        "| c | plain hop req/s | p50 ms | all misses req/s | p50 ms | all hits req/s | p50 ms "
        "| misses ÷ plain | hits ÷ plain |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for concurrency in results["profile"]["concurrency"]:
        plain, miss, hit = (_cell(results, k, concurrency) for k in ("gateway_litellm", "cache_miss", "cache_hit"))
        if not (plain and miss and hit):
            continue
        lines.append(
            f"| {concurrency} | {plain['rps']:.0f} | {plain['p50_ms']:.2f} | {miss['rps']:.0f} | {miss['p50_ms']:.2f} "
            f"| {hit['rps']:.0f} | {hit['p50_ms']:.2f} | {miss['rps'] / plain['rps']:.2f} "
            f"| {hit['rps'] / plain['rps']:.2f} |"
        )
    scenarios = check["scenarios"]
    said = "; ".join(
        f"{name}: {scenarios[key]['cache_hits']:.0f} of {scenarios[key]['requests']:.0f} requests"
        for key, name in (
            ("cache_hit", "all hits"),
            ("cache_miss", "all misses"),
            ("cache_hit_latency50", "all hits, 50 ms upstream"),
            ("cache_miss_latency50", "all misses, 50 ms upstream"),
        )
        if key in scenarios
    )
    lines += [
        "",
        f"Answered from the cache, by the gateway's `gateway_upstream_cache_hits_total` over the measured runs: "
        f"{said}. Entries in the run's Redis namespace at the end: {check['redis_entries']}, "
        f"{check.get('redis_entry_bytes', 0):.0f} bytes each (`MEMORY USAGE`).",
    ]
    # At the middle concurrency: the one where the limited client (2r) is measured too.
    middle = results["profile"]["concurrency"][len(results["profile"]["concurrency"]) // 2]
    redis_cpu = [
        f"{label} {row['redis_cpu_s_per_1k']:.3f} ms and {row['redis_commands_per_request']:.1f} commands"
        for key, label in (("cache_hit", "a hit"), ("cache_miss", "a miss"), ("limits_redis", "a 2r limited request"))
        if (row := _cell(results, key, middle)) and row.get("redis_cpu_s_per_1k") is not None
    ]
    if redis_cpu:
        lines += [
            "",
            f"What a request costs Redis (the whole server's CPU and commands over the runs at c={middle}, "
            f"so an upper bound if anything else uses it): {'; '.join(redis_cpu)}.",
        ]
    return lines


def workers_section(results: dict) -> list[str]:
    rows = [
        (workers, _cell(results, f"workers_{workers}", c), c)
        for c in results["profile"]["concurrency"]
        for workers in (1, 2)
        if _cell(results, f"workers_{workers}", c)
    ]
    if not rows:
        return []
    lines = [
        "",
        f"### Workers (gateway → upstream, `uvicorn --workers N`, PROMETHEUS_MULTIPROC_DIR set; c={rows[0][2]})",
        "",
        "| workers | req/s | req/s per worker | p50 ms | p99 ms | CPU ms per request | ÷ Portkey (1 process) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for workers, row, concurrency in rows:
        portkey = _cell(results, "portkey", concurrency)
        vs_portkey = f"{row['rps'] / portkey['rps']:.2f}" if portkey else ""
        lines.append(
            f"| {workers} | {row['rps']:.0f} | {row['rps'] / workers:.0f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} "
            f"| {row['cpu_s_per_1k']:.2f} | {vs_portkey} |"
        )
    if len(rows) == 2:
        lines += ["", f"Two workers carry {rows[1][1]['rps'] / rows[0][1]['rps']:.2f}× one worker's throughput."]
    return lines


def audit_section(results: dict) -> list[str]:
    audit = results.get("audit_rate")
    if not audit:
        return []
    server = audit["server"]
    per_core = audit["rows_per_s_per_postgres_core"]
    return [
        "",
        f"### Audit writes into one Postgres ({server['version']}, synchronous_commit {server['synchronous_commit']}, "
        f"shared_buffers {server['shared_buffers']}; the gateway's batch insert, servers stopped)",
        "",
        "| writers at once | rows per batch | rows/s | Postgres backends, cores busy "
        "| Postgres CPU ms per 1k rows | rows/s per Postgres core | bytes on disk per row |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {audit['writers']} | {audit['batch']} | {audit['rows_per_s']:.0f} | {audit['postgres_cores_busy']:.2f} "
        f"| {audit['postgres_cpu_ms_per_1k_rows']:.1f} | {per_core:.0f} | {audit['bytes_per_row']:.0f} |"
        if per_core
        else f"| {audit['writers']} | {audit['batch']} | {audit['rows_per_s']:.0f} | — | — | — "
        f"| {audit['bytes_per_row']:.0f} |",
    ]


def goal_checks(results: dict) -> list[str]:
    checks = []
    for concurrency in results["profile"]["concurrency"]:
        ours, bare = _cell(results, "gateway", concurrency), _cell(results, "bare", concurrency)
        share = ours["rps"] / bare["rps"]
        verdict = "met" if share >= GOAL_SHARE_OF_BARE else f"short by {(GOAL_SHARE_OF_BARE - share) * 100:.0f} points"
        checks.append(
            f"c={concurrency}: the gateway keeps {share:.0%} of the bare hop's throughput (goal ≥ 80%): {verdict}."
        )
    added = _cell(results, "gateway", 1)["p50_ms"] - _cell(results, "direct", 1)["p50_ms"]
    verdict = "met" if added <= GOAL_ADDED_P50_MS else "not met"
    checks.append(f"c=1: the gateway adds {added:.2f} ms at p50 (goal ≤ {GOAL_ADDED_P50_MS:g} ms): {verdict}.")
    for concurrency in results["profile"]["concurrency"]:
        if concurrency < 10:
            continue
        times = _cell(results, "gateway", concurrency)["rps"] / _cell(results, "litellm", concurrency)["rps"]
        verdict = "met" if times >= GOAL_TIMES_LITELLM else "not met"
        checks.append(
            f"c={concurrency}: the gateway carries {times:.1f}× LiteLLM's throughput "
            f"(goal ≥ {GOAL_TIMES_LITELLM:g}×): {verdict}."
        )
    for concurrency in results["profile"]["concurrency"]:
        portkey = _cell(results, "portkey", concurrency)
        if not portkey:
            continue
        times = _cell(results, "gateway", concurrency)["rps"] / portkey["rps"]
        verdict = "met" if times >= GOAL_TIMES_PORTKEY else "not met"
        checks.append(
            f"c={concurrency}: the gateway, every feature on, carries {times:.2f}× Portkey's throughput "
            f"(goal ≥ {GOAL_TIMES_PORTKEY:g}×): {verdict}."
        )
    ttft = results["streams"]["gateway"]["ttft_p50_ms"] - results["streams"]["direct"]["ttft_p50_ms"]
    verdict = "met" if ttft <= GOAL_ADDED_TTFT_MS else "not met"
    checks.append(
        f"Streaming: the gateway adds {ttft:.2f} ms to time-to-first-token "
        f"(goal ≤ {GOAL_ADDED_TTFT_MS:g} ms): {verdict}."
    )
    return checks


def _value(results: dict, key: str, concurrency: int, name: str) -> float:
    """One figure for the chart; NaN (no bar) where the configuration was not measured."""
    cell = _cell(results, key, concurrency)
    return cell[name] if cell else math.nan


def chart(results: dict, path: Path) -> None:
    labels = results["throughput"]["labels"]
    concurrencies = results["profile"]["concurrency"]
    keys = [k for k in labels if _cell(results, k, concurrencies[0])]
    # More configurations than colours in a quick run (every one is measured at its one concurrency).
    colours = dict(zip(keys, itertools.cycle(plt.rcParams["axes.prop_cycle"].by_key()["color"]), strict=False))
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    width = 0.8 / len(keys)
    for index, key in enumerate(keys):
        xs = [i + index * width for i in range(len(concurrencies))]
        left.bar(
            xs, [_value(results, key, c, "rps") for c in concurrencies], width, label=labels[key], color=colours[key]
        )
        if key != "direct":
            added = [_value(results, key, c, "p50_ms") - _cell(results, "direct", c)["p50_ms"] for c in concurrencies]
            right.bar(xs, added, width, label=labels[key], color=colours[key])
    axes = (
        (left, "Throughput (log scale)", "requests / s"),
        (right, "Added latency at p50 over direct (log scale)", "ms"),
    )
    for axis, title, unit in axes:
        axis.set_xticks([i + width * (len(keys) - 1) / 2 for i in range(len(concurrencies))])
        axis.set_xticklabels([f"c={c}" for c in concurrencies])
        axis.set_title(title)
        axis.set_ylabel(unit)
        axis.set_yscale("log")
    # Below both plots, not inside one: there it covered the tallest bars (direct, at c=1).
    handles, names = left.get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
