"""`make bench-features`: what each gateway feature costs, gateway variants side by side.

One static nginx upstream (also the span sink), the bare hop, and gateway variants that
differ only in settings, all launched together; `wrk` then visits every variant in each
round (interleaved, so machine drift hits all alike) at one concurrency. Printed per
variant: requests/s, the ratio to the bare hop and the server's CPU milliseconds per
request (the figure that moves least between runs). It is the tool behind the "what each
feature costs" table in docs/benchmarks.md; `make bench` stays the one run of record.

    python bench/feature_costs.py [--rounds 3] [--seconds 5] [--concurrency 10] [--baseline REF ...]

`--baseline REF` adds the full gateway as of git revision REF (checked out in a temporary
worktree), so a change's cost or gain is measured against the code before it, in one run;
give it once per revision to see a series of steps side by side. `--portkey` adds Portkey's
gateway (the ratio to it is the speed issue's measure), `--full-only` leaves out the
variants that switch features off.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.run_bench import Stack, Target, median_of, portkey_headers, tracing_env, warm, wrk  # noqa: E402

#: Each variant switches features off on top of the one before it.
VARIANTS: dict[str, dict[str, str]] = {
    "full (every feature on)": {},
    "tracing without content": {"TRACE_INCLUDE_CONTENT": "false"},
    "no tracing": {"OTEL_EXPORTER_OTLP_ENDPOINT": "", "PHOENIX_COLLECTOR_ENDPOINT": ""},
    "no tracing, no access log": {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "",
        "PHOENIX_COLLECTOR_ENDPOINT": "",
        "LOG_LEVEL": "WARNING",
    },
    # The audit journal's append is the one write(2) on the request path.
    "…, no audit journal": {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "",
        "PHOENIX_COLLECTOR_ENDPOINT": "",
        "LOG_LEVEL": "WARNING",
        "AUDIT_JOURNAL_MAX_BYTES": "0",
    },
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5, help="per run (wrk takes whole seconds)")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument(
        "--baseline", metavar="REF", action="append", default=[], help="also run the full gateway as of this revision"
    )
    parser.add_argument("--portkey", action="store_true", help="also run Portkey's gateway (make install-portkey)")
    parser.add_argument("--full-only", action="store_true", help="only the full gateway of each revision")
    args = parser.parse_args()

    stack = Stack(Path(tempfile.mkdtemp(prefix="bench-features-")))
    try:
        nginx = stack.nginx()
        upstream = f"{nginx.url}/v1"
        tracing = tracing_env(nginx)
        targets = []
        variants = list(VARIANTS.items())[: 1 if args.full_only else None]
        for index, (label, env) in enumerate(variants):
            server = stack.gateway(f"gateway-{index}", upstream, "unused", {**tracing, **env})
            targets.append(Target(f"v{index}", label, f"{server.url}/v1/chat/completions", [server]))
        for index, ref in enumerate(args.baseline):
            tree = stack.workdir / f"baseline-{index}"
            subprocess.run(["git", "worktree", "add", "--detach", str(tree), ref], cwd=REPO, check=True)
            # Ahead of the editable install on sys.path: this gateway imports the old `api`.
            env = {**tracing, "PYTHONPATH": str(tree)}
            server = stack.gateway(f"gateway-baseline-{index}", upstream, "unused", env)
            label = f"full @ {ref}"
            targets.insert(index, Target(f"baseline-{index}", label, f"{server.url}/v1/chat/completions", [server]))
        if args.portkey:
            portkey = stack.portkey()
            url = f"{portkey.url}/v1/chat/completions"
            headers = portkey_headers(upstream)
            targets.append(Target("portkey", "Portkey gateway", url, [portkey], token="unused", headers=headers))
        bare = stack.bare_hop("bare-hop", upstream)
        targets.append(Target("bare", "bare hop (no features)", f"{bare.url}/v1/chat/completions", [bare]))
        stack.wait_ready()
        for target in targets:
            warm(target, 200)  # Node's JIT, and each gateway's first-request work
        runs: dict[str, list[dict]] = {t.key: [] for t in targets}
        for _ in range(args.rounds):
            for target in targets:
                runs[target.key].append(wrk(target, args.concurrency, args.seconds))
    finally:
        stack.stop()
        for index in range(len(args.baseline)):
            subprocess.run(["git", "worktree", "remove", "--force", str(stack.workdir / f"baseline-{index}")], cwd=REPO)

    medians = {key: median_of(each) for key, each in runs.items()}
    print(f"c={args.concurrency}, {args.rounds} rounds of {args.seconds:g} s, medians")
    against = medians.get("portkey", medians["bare"])["rps"]
    portkey_column = "÷ Portkey" if args.portkey else ""
    print(f"{'variant':<28} {'req/s':>7} {'÷ bare':>7} {portkey_column:>9} {'CPU ms/req':>11} {'p50 ms':>7}")
    for target in targets:
        m = medians[target.key]
        ratio = m["rps"] / medians["bare"]["rps"]
        to_portkey = f"{m['rps'] / against:>9.2f}" if args.portkey else " " * 9
        cpu, p50 = m["cpu_s_per_1k"], m["p50_ms"]
        print(f"{target.label:<28} {m['rps']:>7.0f} {ratio:>7.2f} {to_portkey} {cpu:>11.2f} {p50:>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
