"""`make bench-features`: what each gateway feature costs, gateway variants side by side.

One static nginx upstream (also the span sink), the bare hop, and gateway variants that
differ only in settings, all launched together; `wrk` then visits every variant in each
round (interleaved, so machine drift hits all alike) at one concurrency. Printed per
variant: requests/s, the ratio to the bare hop and the server's CPU milliseconds per
request (the figure that moves least between runs). It is the tool behind the "what each
feature costs" table in docs/benchmarks.md; `make bench` stays the one run of record.

    python bench/feature_costs.py [--rounds 3] [--seconds 5] [--concurrency 10] [--baseline REF]

`--baseline REF` adds the full gateway as of git revision REF (checked out in a temporary
worktree), so a change's cost or gain is measured against the code before it, in one run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.run_bench import Stack, Target, median_of, tracing_env, warm, wrk  # noqa: E402

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
    parser.add_argument("--baseline", metavar="REF", help="also run the full gateway as of this git revision")
    args = parser.parse_args()

    stack = Stack(Path(tempfile.mkdtemp(prefix="bench-features-")))
    try:
        nginx = stack.nginx()
        upstream = f"{nginx.url}/v1"
        tracing = tracing_env(nginx)
        targets = []
        for index, (label, env) in enumerate(VARIANTS.items()):
            server = stack.gateway(f"gateway-{index}", upstream, "unused", {**tracing, **env})
            targets.append(Target(f"v{index}", label, f"{server.url}/v1/chat/completions", [server]))
        if args.baseline:
            tree = stack.workdir / "baseline"
            subprocess.run(["git", "worktree", "add", "--detach", str(tree), args.baseline], cwd=REPO, check=True)
            # Ahead of the editable install on sys.path: this gateway imports the old `api`.
            env = {**tracing, "PYTHONPATH": str(tree)}
            server = stack.gateway("gateway-baseline", upstream, "unused", env)
            label = f"full @ {args.baseline}"
            targets.insert(0, Target("baseline", label, f"{server.url}/v1/chat/completions", [server]))
        bare = stack.bare_hop("bare-hop", upstream)
        targets.append(Target("bare", "bare hop (no features)", f"{bare.url}/v1/chat/completions", [bare]))
        stack.wait_ready()
        for target in targets:
            warm(target, 50)
        runs: dict[str, list[dict]] = {t.key: [] for t in targets}
        for _ in range(args.rounds):
            for target in targets:
                runs[target.key].append(wrk(target, args.concurrency, args.seconds))
    finally:
        stack.stop()
        if args.baseline:
            subprocess.run(["git", "worktree", "remove", "--force", str(stack.workdir / "baseline")], cwd=REPO)

    medians = {key: median_of(each) for key, each in runs.items()}
    print(f"c={args.concurrency}, {args.rounds} rounds of {args.seconds:g} s, medians")
    print(f"{'variant':<28} {'req/s':>7} {'÷ bare':>7} {'CPU ms/req':>11} {'p50 ms':>7}")
    for target in targets:
        m = medians[target.key]
        ratio = m["rps"] / medians["bare"]["rps"]
        print(f"{target.label:<28} {m['rps']:>7.0f} {ratio:>7.2f} {m['cpu_s_per_1k']:>11.2f} {m['p50_ms']:>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
