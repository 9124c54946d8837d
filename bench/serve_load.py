"""Load on `localchain serve` and on llama-cpp-python's own server, same model, same settings.

1, 4 and 16 concurrent clients each send a fixed number of streamed chat requests (the same
20 short prompts, greedy, a fixed answer budget) to 127.0.0.1; the servers run one after the
other, never together (two llama.cpp processes on two cores slow each other tenfold). Per
server and concurrency: time to first token and request latency (p50/p95), aggregate output
tokens/s (content chunks: both servers send one per token), errors, and 429s counted apart.

    .venv/bin/python bench/serve_load.py                 # writes bench/results/serve_load.json
    .venv/bin/python bench/serve_load.py --requests 2    # quicker

Bounded: every request has a timeout, every client a fixed count, and the run stops itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from load_prompts import PROMPTS, percentile  # bench/ is the script folder

from localchain.models import embedded_model_path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(kind: str, port: int, n_ctx: int, threads: int, log: Path) -> subprocess.Popen[bytes]:
    model = str(embedded_model_path())
    if kind == "localchain":
        command = [
            sys.executable,
            "-m",
            "localchain",
            "serve",
            "--port",
            str(port),
            "--n-ctx",
            str(n_ctx),
            "--temperature",
            "0",
            "--max-queue",
            "32",
            "--no-page",
        ]
        env = {**os.environ, "LOCALCHAIN_N_THREADS": str(threads)}
    else:
        command = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            model,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            str(n_ctx),
            "--n_threads",
            str(threads),
            "--n_threads_batch",
            str(threads),
            "--model_alias",
            "m",
        ]
        env = dict(os.environ)
    env = {k: v for k, v in env.items() if k not in ("LOCALCHAIN_API_KEY",)}
    out = open(log, "wb")  # noqa: SIM115 - the process writes to it until stopped
    return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            return httpx.get(f"{url}/v1/models", timeout=2).json()["data"][0]["id"]
        except (httpx.HTTPError, KeyError, ValueError):
            time.sleep(0.5)
    raise RuntimeError("the server did not start")


async def one_request(
    client: httpx.AsyncClient, url: str, model: str, prompt: str, max_tokens: int
) -> dict[str, Any]:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "seed": 42,
        "stream": True,
    }
    started = time.perf_counter()
    first = None
    tokens = 0
    async with client.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
        if response.status_code != 200:
            await response.aread()
            return {"status": response.status_code}
        async for line in response.aiter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line[6:])
            if chunk.get("error"):
                return {"status": 500}
            choices = chunk.get("choices") or []
            if choices and (choices[0].get("delta") or {}).get("content"):
                tokens += 1
                if first is None:
                    first = time.perf_counter() - started
    return {
        "status": 200,
        "ttft_s": first if first is not None else time.perf_counter() - started,
        "latency_s": time.perf_counter() - started,
        "tokens": tokens,
    }


async def load(
    url: str, model: str, clients: int, requests: int, max_tokens: int
) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    limits = httpx.Limits(max_connections=clients + 2)
    async with httpx.AsyncClient(timeout=httpx.Timeout(600), limits=limits) as client:

        async def worker(index: int) -> None:
            for n in range(requests):
                prompt = PROMPTS[(index * requests + n) % len(PROMPTS)]
                try:
                    results.append(await one_request(client, url, model, prompt, max_tokens))
                except httpx.HTTPError as err:
                    results.append({"status": 0, "error": type(err).__name__})

        started = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(worker(i) for i in range(clients))), timeout=1800)
        wall = time.perf_counter() - started
    ok = [r for r in results if r["status"] == 200]

    ttft = [r["ttft_s"] for r in ok]
    latency = [r["latency_s"] for r in ok]
    return {
        "clients": clients,
        "requests": len(results),
        "ok": len(ok),
        "rejected_429": sum(r["status"] == 429 for r in results),
        "errors": sum(r["status"] not in (200, 429) for r in results),
        "error_kinds": sorted(
            {str(r.get("error", r["status"])) for r in results if r["status"] not in (200, 429)}
        ),
        "wall_s": round(wall, 3),
        "ttft_p50_s": percentile(ttft, 0.5),
        "ttft_p95_s": percentile(ttft, 0.95),
        "latency_p50_s": percentile(latency, 0.5),
        "latency_p95_s": percentile(latency, 0.95),
        "latency_mean_s": round(statistics.mean(latency), 4) if latency else None,
        "output_tokens": sum(r["tokens"] for r in ok),
        "tokens_per_s": round(sum(r["tokens"] for r in ok) / wall, 2) if wall else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4, help="requests per client")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "serve_load.json")
    args = parser.parse_args()
    threads = os.cpu_count() or 1
    levels = [int(c) for c in args.clients.split(",")]
    report: dict[str, Any] = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {threads} cores, {platform.system()}",
        "model": embedded_model_path().name,
        "max_tokens": args.max_tokens,
        "requests_per_client": args.requests,
        "n_ctx": args.n_ctx,
        "threads": threads,
        "servers": {},
    }
    for kind in ("localchain", "llama_cpp.server"):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = Path(f"/tmp/serve_load_{kind}.log")
        process = start(kind, port, args.n_ctx, threads, log)
        try:
            model = wait_ready(url, process)
            # One warm-up request, so neither side pays its first-call costs in the numbers.
            asyncio.run(load(url, model, 1, 1, 8))
            rows = []
            for clients in levels:
                row = asyncio.run(load(url, model, clients, args.requests, args.max_tokens))
                print(kind, json.dumps(row), flush=True)
                rows.append(row)
            report["servers"][kind] = rows
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    ours, theirs = report["servers"]["localchain"], report["servers"]["llama_cpp.server"]
    report["ratios_localchain_over_llama_cpp"] = [
        {
            "clients": a["clients"],
            "latency_p50": round(a["latency_p50_s"] / b["latency_p50_s"], 3)
            if a["latency_p50_s"] and b["latency_p50_s"]
            else None,
            "ttft_p50": round(a["ttft_p50_s"] / b["ttft_p50_s"], 3)
            if a["ttft_p50_s"] and b["ttft_p50_s"]
            else None,
            "tokens_per_s": round(a["tokens_per_s"] / b["tokens_per_s"], 3)
            if a["tokens_per_s"] and b["tokens_per_s"]
            else None,
        }
        for a, b in zip(ours, theirs, strict=True)
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["ratios_localchain_over_llama_cpp"], indent=2))


if __name__ == "__main__":
    main()
