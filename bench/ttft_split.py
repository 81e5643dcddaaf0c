"""Where a hop's time to first token goes: before the upstream has the request, or after the
upstream sent its first content chunk.

A raw asyncio upstream writes, into the text of that chunk, when it had the whole request and
when it sent the chunk (`time.perf_counter()`: CLOCK_MONOTONIC, one clock for every process on
the machine). A hop forwards the chunk as it is, so the client reads both stamps back and splits
its time to first token into *before* (its send to the upstream's arrival) and *after* (the
upstream's send to its read). Against the upstream directly the two are the client's and the
upstream's own costs; what a hop adds to each is its own.

    python bench/ttft_split.py serve --port 9101
    python bench/ttft_split.py measure http://127.0.0.1:9101/v1/chat/completions \
        http://127.0.0.1:9102/v1/chat/completions --token tok -n 60

The upstream answers every request the same way: a role chunk with the headers, the stamped
content chunk 10 ms later (so a hop's work on the headers is done before it), three more
content chunks, the usage chunk and `[DONE]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import httpx
import orjson
import uvloop

FIRST_CHUNK_DELAY_SECONDS = 0.010
_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


def event(delta: dict | None, usage: dict | None = None) -> bytes:
    chunk = {
        "id": "chatcmpl-split",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "fake-model",
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": None}],
    }
    if usage is not None:
        chunk["usage"] = usage
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def http_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def stamps_of(content: str) -> tuple[float, float] | None:
    """The (arrived, sent) stamps of the first content chunk; None for any other text."""
    arrived, _, sent = content.partition(" ")
    try:
        return float(arrived), float(sent)
    except ValueError:
        return None


async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer each request of a keep-alive connection with the stamped stream."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.lower().split(b"\r\n")
            length = next(
                (int(line[len(b"content-length:") :]) for line in lines if line.startswith(b"content-length:")), 0
            )
            await reader.readexactly(length)
            arrived = time.perf_counter()
            writer.write(_HEAD + http_chunk(event({"role": "assistant", "content": ""})))
            await asyncio.sleep(FIRST_CHUNK_DELAY_SECONDS)
            sent = time.perf_counter()
            writer.write(http_chunk(event({"content": f"{arrived:.7f} {sent:.7f}"})))
            for word in ("and", "then", "done"):
                writer.write(http_chunk(event({"content": f" {word}"})))
            usage = {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}
            writer.write(http_chunk(event(None, usage)) + http_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def serve(port: int) -> None:
    server = await asyncio.start_server(answer, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


async def one_stream(client: httpx.AsyncClient, url: str, token: str) -> tuple[float, float, float]:
    """(before, after, time to first token) of one stream, in ms."""
    body = {"model": "fake-model", "stream": True, "messages": [{"role": "user", "content": "Where does it go?"}]}
    started = time.perf_counter()
    first: tuple[float, float, float] | None = None
    async with client.stream("POST", url, json=body, headers={"Authorization": f"Bearer {token}"}) as response:
        response.raise_for_status()
        # Read to the end, not only to the stamped chunk: the connection is reused.
        async for line in response.aiter_lines():
            if first is not None or not line.startswith("data: {"):
                continue
            read = time.perf_counter()
            choices = json.loads(line[6:]).get("choices") or [{}]
            stamps = stamps_of(choices[0].get("delta", {}).get("content") or "")
            if stamps is not None:
                arrived, sent = stamps
                first = ((arrived - started) * 1000, (read - sent) * 1000, (read - started) * 1000)
    if first is not None:
        return first
    raise RuntimeError(f"{url}: the stream carried no stamped chunk")


async def measure(urls: list[str], token: str, n: int, warmup: int) -> list[dict]:
    """Sequential streams to each URL in turn, interleaved; medians per URL."""
    samples: dict[str, list[tuple[float, float, float]]] = {url: [] for url in urls}
    async with httpx.AsyncClient(timeout=30) as client:
        for round_ in range(warmup + n):
            for url in urls:
                split = await one_stream(client, url, token)
                if round_ >= warmup:
                    samples[url].append(split)
    return [
        {
            "url": url,
            "before_ms": statistics.median(s[0] for s in runs),
            "after_ms": statistics.median(s[1] for s in runs),
            "ttft_ms": statistics.median(s[2] for s in runs),
            "samples": len(runs),
        }
        for url, runs in samples.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve").add_argument("--port", type=int, required=True)
    run = sub.add_parser("measure")
    run.add_argument("urls", nargs="+")
    run.add_argument("--token", default="unused")
    run.add_argument("-n", type=int, default=60)
    run.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    if args.command == "serve":
        uvloop.run(serve(args.port))
        return
    results = asyncio.run(measure(args.urls, args.token, args.n, args.warmup))
    print(json.dumps(results, indent=2))
    base = results[0]
    for row in results:
        print(
            f"{row['url']}: before {row['before_ms']:.2f} ms (+{row['before_ms'] - base['before_ms']:.2f}), "
            f"after {row['after_ms']:.2f} ms (+{row['after_ms'] - base['after_ms']:.2f}), "
            f"TTFT {row['ttft_ms']:.2f} ms (+{row['ttft_ms'] - base['ttft_ms']:.2f})"
        )


if __name__ == "__main__":
    main()
