"""Batched decoding: 1, 2, 4 and 8 concurrent streams on one embedded model.

The same 20 short chat prompts (greedy, a fixed answer budget) are answered by C threads
that share them, C = 1, 2, 4, 8, on a model loaded with ``n_parallel=1`` (one answer at a
time under the lock, as before batching) and with ``n_parallel=8`` (the continuous-batching
scheduler); raw single-stream llama-cpp-python (``Llama.create_completion(stream=True)``) is
the reference. Greedy answers are the same on every path, so every row produces the same
tokens. Also an LLM rerank of 20 candidates with each model. One run; nothing else should
run on the machine meanwhile.

    .venv/bin/python bench/batching.py                # writes bench/results/batching.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.messages import HumanMessage
from load_prompts import PROMPTS, percentile  # bench/ is the script folder

from localchain.models import LlamaCppChat, embedded_model_path, unload_engines
from localchain.retrievers.llm_rerank import LLMReranker
from localchain.sampling import SamplingParams

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = [f"Passage {i}: " + text for i, text in enumerate([
    "Paris is the capital and largest city of France.", "Bananas are rich in potassium.",
    "The Eiffel Tower stands in Paris.", "France borders Spain and Italy.",
    "Lyon is a city in France.", "Cats sleep for most of the day.",
    "The Seine flows through Paris.", "Berlin is the capital of Germany.",
    "Rome is the capital of Italy.", "Madrid is the capital of Spain.",
    "The Louvre is a museum in Paris.", "Water boils at 100 degrees Celsius.",
    "The moon orbits the Earth.", "Marseille is a port in France.",
    "Wine is made from grapes.", "Napoleon was emperor of France.",
    "The Alps are mountains in Europe.", "Tea is popular in England.",
    "Brussels is the capital of Belgium.", "French is spoken in Quebec."])]  # fmt: skip


def run_streams(chat: LlamaCppChat, concurrency: int, max_tokens: int) -> dict[str, Any]:
    """C threads stream answers to the 20 prompts; aggregate tokens/s and latency."""
    todo: queue.SimpleQueue[str] = queue.SimpleQueue()
    for prompt in PROMPTS:
        todo.put(prompt)
    done: list[tuple[float, float, int]] = []
    lock = threading.Lock()
    params = SamplingParams(temperature=0, max_tokens=max_tokens, seed=42)

    def worker() -> None:
        while True:
            try:
                prompt = todo.get_nowait()
            except queue.Empty:
                return
            tokens = chat._tokens([HumanMessage(prompt)])
            started = time.perf_counter()
            first = None
            stats = None
            for item in chat.engine.stream(tokens, params, stop=list(chat.template.stop)):
                if isinstance(item, str):
                    first = first or time.perf_counter() - started
                else:
                    stats = item
            with lock:
                done.append(
                    (
                        time.perf_counter() - started,
                        first or 0.0,
                        stats.completion_tokens if stats else 0,
                    )
                )

    chat.engine.reset()
    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latency = [d[0] for d in done]
    tokens = sum(d[2] for d in done)
    return {
        "streams": concurrency,
        "requests": len(done),
        "output_tokens": tokens,
        "wall_s": round(wall, 3),
        "tokens_per_s": round(tokens / wall, 2),
        "latency_p50_s": percentile(latency, 0.5),
        "latency_p95_s": percentile(latency, 0.95),
        "ttft_p50_s": percentile([d[1] for d in done], 0.5),
    }


def run_raw(max_tokens: int, threads: int, n_ctx: int) -> dict[str, Any]:
    """llama-cpp-python alone, one stream: the reference for single-stream speed."""
    from llama_cpp import Llama

    chat = LlamaCppChat(n_ctx=n_ctx, n_threads=threads)  # for the same prompt tokens only
    llama = Llama(
        model_path=str(embedded_model_path()),
        n_ctx=n_ctx,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )
    latency, tokens = [], 0
    started = time.perf_counter()
    for prompt in PROMPTS:
        ids = chat._tokens([HumanMessage(prompt)])
        t0 = time.perf_counter()
        n = 0
        for chunk in llama.create_completion(
            ids,
            max_tokens=max_tokens,
            temperature=0,
            seed=42,
            stop=list(chat.template.stop),
            stream=True,
        ):
            n += 1 if chunk["choices"][0]["text"] else 0
        latency.append(time.perf_counter() - t0)
        tokens += n
    wall = time.perf_counter() - started
    llama.close()
    return {
        "streams": 1,
        "requests": len(PROMPTS),
        "text_chunks": tokens,
        "wall_s": round(wall, 3),
        "latency_p50_s": percentile(latency, 0.5),
        "latency_p95_s": percentile(latency, 0.95),
    }


def run_rerank(chat: LlamaCppChat) -> dict[str, Any]:
    reranker = LLMReranker(llm=chat)
    docs = [Document(text) for text in CANDIDATES]
    started = time.perf_counter()
    scores = reranker.score("What is the capital of France?", docs)
    return {
        "candidates": len(docs),
        "seconds": round(time.perf_counter() - started, 3),
        "scores": scores,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--n-ctx", type=int, default=1024)
    parser.add_argument("--streams", default="1,2,4,8")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "batching.json")
    args = parser.parse_args()
    threads = os.cpu_count() or 1
    levels = [int(x) for x in args.streams.split(",")]
    report: dict[str, Any] = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {threads} cores, {platform.system()}",
        "model": embedded_model_path().name,
        "prompts": len(PROMPTS),
        "max_tokens": args.max_tokens,
        "n_ctx_per_slot": args.n_ctx,
        "threads": threads,
        "loadavg_start": round(os.getloadavg()[0], 2),
    }
    report["raw_llama_cpp"] = run_raw(args.max_tokens, threads, args.n_ctx)
    print("raw", json.dumps(report["raw_llama_cpp"]), flush=True)
    for n_parallel in (1, 8):
        unload_engines()
        chat = LlamaCppChat(
            temperature=0,
            n_ctx=args.n_ctx,
            n_threads=threads,
            n_parallel=n_parallel,
            max_tokens=args.max_tokens,
        )
        chat.invoke("Hi")  # warm up
        rows = []
        for streams in levels:
            row = run_streams(chat, streams, args.max_tokens)
            print(f"n_parallel={n_parallel}", json.dumps(row), flush=True)
            rows.append(row)
        report[f"n_parallel_{n_parallel}"] = {"streams": rows, "rerank_20": run_rerank(chat)}
        print("rerank", json.dumps(report[f"n_parallel_{n_parallel}"]["rerank_20"]), flush=True)
    one, eight = report["n_parallel_1"], report["n_parallel_8"]
    report["ratios"] = {
        "throughput_8_streams_np8_over_np1": round(
            eight["streams"][-1]["tokens_per_s"] / one["streams"][-1]["tokens_per_s"], 3
        ),
        "single_stream_np8_over_np1": round(
            eight["streams"][0]["tokens_per_s"] / one["streams"][0]["tokens_per_s"], 3
        ),
        "single_stream_latency_np1_over_raw": round(
            one["streams"][0]["latency_p50_s"] / report["raw_llama_cpp"]["latency_p50_s"], 3
        ),
        "rerank_seconds_np1_over_np8": round(
            one["rerank_20"]["seconds"] / eight["rerank_20"]["seconds"], 3
        ),
        "same_rerank_scores": one["rerank_20"]["scores"] == eight["rerank_20"]["scores"],
    }
    report["loadavg_end"] = round(os.getloadavg()[0], 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["ratios"], indent=2))


if __name__ == "__main__":
    main()
