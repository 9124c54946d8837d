"""Per-call overhead of localchain's LlamaCppChat over raw llama-cpp-python (and stock LangChain).

Runs the same 20 short prompts ("Give one fact about X.") through
  (a) raw ``llama_cpp.Llama.create_chat_completion``,
  (b) ``localchain.models.LlamaCppChat``,
  (c) langchain-community's ``ChatLlamaCpp`` (if it constructs; else its error is recorded),
with the same model (the embedded SmolLM2-135M GGUF) and settings: n_ctx=2048,
n_threads=os.cpu_count(), n_batch=512, temperature=0, max_tokens=64, repeat_penalty=1.1,
top_p=0.95, top_k=40, seed=42. Each side has its own llama.cpp context (its own KV cache),
gets one warm-up call, and the sides alternate order over the rounds (a b c, then c b a, ...)
because the machine is noisy. A side's time is the sum of its 20 calls in one round; the
headline is the minimum over rounds (the median is reported too).

Also reports completion tokens per side and how many of the 20 answers equal the raw answer
exactly (greedy decoding should give identical text).

Run:  .venv/bin/python bench/overhead.py [--rounds 2]
Prints one JSON object; also writes bench/results/overhead.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import llama_cpp
from langchain_core.messages import HumanMessage

from localchain.models import LlamaCppChat, embedded_model_path

TOPICS = [
    "the Moon", "water", "Paris", "elephants", "the Sun", "honey", "volcanoes", "Mars",
    "the ocean", "bees", "gold", "Mount Everest", "penguins", "the Internet", "coffee",
    "the Amazon river", "diamonds", "owls", "Japan", "lightning",
]
PROMPTS = [f"Give one fact about {topic}." for topic in TOPICS]
N_CTX, N_BATCH, THREADS = 2048, 512, os.cpu_count() or 1
SAMPLING = dict(temperature=0.0, max_tokens=64, repeat_penalty=1.1, top_p=0.95, top_k=40)
SEED = 42


def make_raw(path: str):
    llm = llama_cpp.Llama(model_path=path, n_ctx=N_CTX, n_threads=THREADS,
                          n_threads_batch=THREADS, n_batch=N_BATCH, seed=SEED, verbose=False)

    def call(prompt: str) -> tuple[str, int]:
        out = llm.create_chat_completion(
            messages=[{"role": "user", "content": prompt}], seed=SEED, **SAMPLING)
        return out["choices"][0]["message"]["content"], out["usage"]["completion_tokens"]

    return llm, call


def make_localchain():
    chat = LlamaCppChat(model_path=None, n_ctx=N_CTX, n_threads=THREADS, n_batch=N_BATCH,
                        seed=SEED, **SAMPLING)

    def call(prompt: str) -> tuple[str, int]:
        msg = chat.invoke([HumanMessage(prompt)])
        return msg.content, msg.usage_metadata["output_tokens"]

    return chat, call


def make_stock(path: str):
    from langchain_community.chat_models import ChatLlamaCpp

    # rope_freq_base=0 means "the model's own" (ChatLlamaCpp's default of 10000.0 overrides
    # SmolLM2's 100000 and changes every answer); n_batch/verbose: its defaults are 8/True.
    chat = ChatLlamaCpp(model_path=path, n_ctx=N_CTX, n_threads=THREADS, n_batch=N_BATCH,
                        seed=SEED, verbose=False, rope_freq_base=0.0, **SAMPLING)

    def call(prompt: str) -> tuple[str, int | None]:
        msg = chat.invoke([HumanMessage(prompt)])
        usage = msg.usage_metadata or {}
        return msg.content, usage.get("output_tokens")  # streaming: usually no usage

    return chat, call


def run_side(call) -> tuple[float, list[str], list[int | None]]:
    texts, counts, total = [], [], 0.0
    for prompt in PROMPTS:
        t0 = time.perf_counter()
        text, n = call(prompt)
        total += time.perf_counter() - t0
        texts.append(text)
        counts.append(n)
    return total, texts, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    path = str(embedded_model_path())
    load0 = round(os.getloadavg()[0], 2)

    raw_llm, raw_call = make_raw(path)
    _, lc_call = make_localchain()
    sides = {"raw": raw_call, "localchain": lc_call}
    stock_error = None
    try:
        _, sides["stock"] = make_stock(path)
    except Exception as err:  # record, don't crash
        stock_error = f"{type(err).__name__}: {err}"

    for name, call in sides.items():  # warm-up
        try:
            call("Say hello.")
        except Exception as err:
            if name != "stock":
                raise
            stock_error = f"{type(err).__name__}: {err}"
    if stock_error:
        sides.pop("stock", None)

    times: dict[str, list[float]] = {name: [] for name in sides}
    texts: dict[str, list[str]] = {}
    counts: dict[str, list[int | None]] = {}
    order = list(sides)
    for r in range(args.rounds):
        for name in order if r % 2 == 0 else order[::-1]:
            total, texts[name], counts[name] = run_side(sides[name])
            times[name].append(total)

    def n_tokens(text: str) -> int:  # one tokenizer for every side
        return len(raw_llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    best = {name: min(ts) for name, ts in times.items()}
    med = {name: statistics.median(ts) for name, ts in times.items()}
    result: dict = {
        "benchmark": "overhead",
        "model": Path(path).name,
        "prompts": len(PROMPTS),
        "loadavg_1m": {"start": load0, "end": round(os.getloadavg()[0], 2)},
        "rounds": args.rounds,
        "settings": {"n_ctx": N_CTX, "n_threads": THREADS, "n_batch": N_BATCH,
                     "seed": SEED, **SAMPLING},
        "versions": {"llama_cpp_python": llama_cpp.__version__},
        "raw_s": round(best["raw"], 3),
        "localchain_s": round(best["localchain"], 3),
        "ratio_localchain_over_raw": round(best["localchain"] / best["raw"], 3),
        "median_ratio_localchain_over_raw": round(med["localchain"] / med["raw"], 3),
        "rounds_s": {name: [round(t, 3) for t in ts] for name, ts in times.items()},
        "tokens_reported": {name: sum(c or 0 for c in cs) if all(c is not None for c in cs)
                            else None for name, cs in counts.items()},
        "tokens_text": {name: sum(n_tokens(t) for t in ts) for name, ts in texts.items()},
        "exact_match_localchain_vs_raw": sum(
            a == b for a, b in zip(texts["raw"], texts["localchain"])),
    }
    if "stock" in sides:
        result["stock_s"] = round(best["stock"], 3)
        result["ratio_stock_over_raw"] = round(best["stock"] / best["raw"], 3)
        result["exact_match_stock_vs_raw"] = sum(
            a == b for a, b in zip(texts["raw"], texts["stock"]))
    else:
        result["stock_error"] = stock_error
    for lib in ("langchain_core", "langchain_community"):
        try:
            from importlib.metadata import version
            result["versions"][lib] = version(lib.replace("_", "-"))
        except Exception:
            pass
    result["sample_answer"] = {name: ts[0] for name, ts in texts.items()}

    out = Path(__file__).parent / "results" / "overhead.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
