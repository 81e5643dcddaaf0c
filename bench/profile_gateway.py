"""Where the gateway's CPU goes: `py-spy record` on it, every feature on, under `wrk` load.

One static nginx upstream (also the span sink), the full gateway as `make bench` runs it
(auth, routing, metrics, JSON access log, audit with its journal, tracing to the sink),
Portkey's gateway and the bare hop. First an interleaved throughput pass at each
concurrency (so the ratio to Portkey is from the same run), then py-spy samples the
gateway while `wrk` drives it, and the top functions by own and by total samples print.

    python bench/profile_gateway.py [--rounds 2] [--seconds 5] [--profile-seconds 15] [--concurrency 10] [--gil]

`--gil` keeps only the samples of the thread holding the GIL: what the event loop waits for
(a thread in C code that released it, such as sqlite's, drops out).
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.run_bench import Stack, Target, median_of, portkey_headers, tracing_env, warm, wrk  # noqa: E402


def top_frames(raw: Path, limit: int) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """From py-spy's `raw` (collapsed stacks) output: the share of samples each frame is
    on top of (own) and anywhere in (total; a frame counted once per stack)."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        n = int(count)
        samples += n
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    share = (
        [(f, c / samples) for f, c in own.most_common(limit)],
        [(f, c / samples) for f, c in total.most_common(limit)],
    )
    return share


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--profile-seconds", type=int, default=15)
    parser.add_argument("--concurrency", type=int, default=10, help="of the profiled load")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--gil", action="store_true", help="only samples of the thread holding the GIL")
    args = parser.parse_args()

    stack = Stack(Path(tempfile.mkdtemp(prefix="bench-profile-")))
    try:
        nginx = stack.nginx()
        upstream = f"{nginx.url}/v1"
        gateway = stack.gateway("gateway", upstream, "unused-by-nginx", tracing_env(nginx))
        portkey = stack.portkey()
        bare = stack.bare_hop("bare-hop", upstream)
        stack.wait_ready()
        ours = Target("gateway", "gateway, every feature on", f"{gateway.url}/v1/chat/completions", [gateway])
        targets = [
            ours,
            Target(
                "portkey",
                "Portkey gateway",
                f"{portkey.url}/v1/chat/completions",
                [portkey],
                token="unused-by-nginx",
                headers=portkey_headers(upstream),
            ),
            Target("bare", "bare hop", f"{bare.url}/v1/chat/completions", [bare]),
        ]
        for target in targets:
            warm(target, 200)  # Node's JIT and the gateway's first-request work
        runs: dict[tuple[str, int], list[dict]] = collections.defaultdict(list)
        for _ in range(args.rounds):
            for concurrency in (1, 10, 50):
                for target in targets:
                    runs[target.key, concurrency].append(wrk(target, concurrency, args.seconds))
        raw = stack.workdir / "profile.txt"
        spy = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--pid",
                str(gateway.process.pid),
                "--duration",
                str(args.profile_seconds),
                "--rate",
                "200",
                "--format",
                "raw",
                "--output",
                str(raw),
                "--nonblocking",
                *(["--gil"] if args.gil else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        load = threading.Thread(target=wrk, args=(ours, args.concurrency, args.profile_seconds))
        load.start()
        load.join()
        spy.wait()
    finally:
        stack.stop()

    print(f"load: {os.getloadavg()}")
    print(f"{'configuration':<28} {'c':>3} {'req/s':>7} {'CPU ms/req':>11} {'p50 ms':>7} {'ours ÷ it':>9}")
    for concurrency in (1, 10, 50):
        medians = {t.key: median_of(runs[t.key, concurrency]) for t in targets}
        for target in targets:
            m = medians[target.key]
            ratio = medians["gateway"]["rps"] / m["rps"]
            print(
                f"{target.label:<28} {concurrency:>3} {m['rps']:>7.0f} {m['cpu_s_per_1k']:>11.2f} "
                f"{m['p50_ms']:>7.2f} {ratio:>9.2f}"
            )
    own, total = top_frames(raw, args.top)
    print(f"\npy-spy, gateway under wrk -c{args.concurrency} for {args.profile_seconds} s; own samples:")
    for frame, share in own:
        print(f"{share:6.1%}  {frame}")
    print("\ntotal samples (the frame anywhere in the stack):")
    for frame, share in total:
        print(f"{share:6.1%}  {frame}")
    print(f"\nraw profile: {raw}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
