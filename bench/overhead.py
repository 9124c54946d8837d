"""Per-call overhead of localchain's LlamaCppChat over raw llama-cpp-python (and stock LangChain).

Runs the same 20 short prompts ("Give one fact about X.") through
  (a) raw ``llama_cpp.Llama.create_chat_completion``,
  (b) ``localchain.models.LlamaCppChat``,
  (c) langchain-community's ``ChatLlamaCpp`` (if it constructs; else its error is recorded),
with the same model (the embedded SmolLM2-135M GGUF) and settings: n_ctx=2048,
n_threads=os.cpu_count(), n_batch=512, temperature=0, max_tokens=64, repeat_penalty=1.1,
top_p=0.95, top_k=40, seed=42. Each side has its own llama.cpp context (its own KV cache)
and one warm-up call. Because the machine is noisy, every prompt runs on all sides before
the next prompt, in a rotating order, over --rounds rounds. A side's time is the sum over
the 20 prompts of its fastest round for that prompt; per-round totals are reported too.
ChatLlamaCpp gets rope_freq_base=0 (use the model's; its 10000.0 default changes SmolLM2's
answers), n_batch=512 and verbose=False instead of its defaults (10000.0, 8, True).

Also reports completion tokens per side and how many of the 20 answers equal the raw answer
exactly (greedy decoding should give identical text).

Run:  .venv/bin/python bench/overhead.py [--rounds 3]
Prints one JSON object; also writes bench/results/overhead.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from importlib.metadata import version
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
        return msg.content, msg.usage_metadata["output_tokens"]  # counts the end-of-turn token

    return call


def make_stock(path: str):
    from langchain_community.chat_models import ChatLlamaCpp

    chat = ChatLlamaCpp(model_path=path, n_ctx=N_CTX, n_threads=THREADS, n_batch=N_BATCH,
                        seed=SEED, verbose=False, rope_freq_base=0.0, **SAMPLING)

    def call(prompt: str) -> tuple[str, int | None]:
        msg = chat.invoke([HumanMessage(prompt)])  # it streams, so there is no usage
        return msg.content, (msg.usage_metadata or {}).get("output_tokens")

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    path = str(embedded_model_path())
    load0 = round(os.getloadavg()[0], 2)

    raw_llm, raw_call = make_raw(path)
    sides = {"raw": raw_call, "localchain": make_localchain()}
    stock_error = None
    try:
        sides["stock"] = make_stock(path)
        sides["stock"]("Say hello.")
    except Exception as err:  # record, don't crash
        stock_error = f"{type(err).__name__}: {err}"
        sides.pop("stock", None)
    sides["raw"]("Say hello.")  # warm-up
    sides["localchain"]("Say hello.")

    names = list(sides)
    # t[name][round][prompt]; each prompt runs on every side before the next prompt, in an
    # order that rotates, so a burst of load from other processes hits all sides alike.
    t = {name: [[0.0] * len(PROMPTS) for _ in range(args.rounds)] for name in names}
    texts: dict[str, list[str]] = {name: [""] * len(PROMPTS) for name in names}
    counts: dict[str, list[int | None]] = {name: [None] * len(PROMPTS) for name in names}
    for r in range(args.rounds):
        for i, prompt in enumerate(PROMPTS):
            k = (r * len(PROMPTS) + i) % len(names)
            for name in names[k:] + names[:k]:
                t0 = time.perf_counter()
                texts[name][i], counts[name][i] = sides[name](prompt)
                t[name][r][i] = time.perf_counter() - t0

    def n_tokens(text: str) -> int:  # one tokenizer for every side
        return len(raw_llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    best = {n: sum(min(t[n][r][i] for r in range(args.rounds)) for i in range(len(PROMPTS)))
            for n in names}
    totals = {n: [sum(rt) for rt in t[n]] for n in names}
    med = {n: statistics.median(ts) for n, ts in totals.items()}
    result: dict = {
        "benchmark": "overhead",
        "model": Path(path).name,
        "prompts": len(PROMPTS),
        "rounds": args.rounds,
        "loadavg_1m": {"start": load0, "end": round(os.getloadavg()[0], 2)},
        "settings": {"n_ctx": N_CTX, "n_threads": THREADS, "n_batch": N_BATCH,
                     "seed": SEED, **SAMPLING},
        "versions": {lib: version(lib) for lib in
                     ("llama_cpp_python", "langchain-core", "langchain-community")},
        "timing": "x_s = sum over the 20 prompts of the fastest of the rounds",
        "raw_s": round(best["raw"], 3),
        "localchain_s": round(best["localchain"], 3),
        "ratio_localchain_over_raw": round(best["localchain"] / best["raw"], 3),
        "round_totals_s": {n: [round(x, 3) for x in ts] for n, ts in totals.items()},
        "median_round_ratio_localchain_over_raw": round(med["localchain"] / med["raw"], 3),
        # reported by each API (localchain counts the end-of-turn token, raw does not);
        # tokens_text: the answers re-tokenized with one tokenizer
        "tokens_reported": {n: sum(c or 0 for c in cs) if None not in cs else None
                            for n, cs in counts.items()},
        "tokens_text": {n: sum(n_tokens(x) for x in ts) for n, ts in texts.items()},
        "exact_match_localchain_vs_raw": sum(
            a == b for a, b in zip(texts["raw"], texts["localchain"])),
    }
    if "stock" in sides:
        result["stock_s"] = round(best["stock"], 3)
        result["ratio_stock_over_raw"] = round(best["stock"] / best["raw"], 3)
        result["median_round_ratio_stock_over_raw"] = round(med["stock"] / med["raw"], 3)
        result["exact_match_stock_vs_raw"] = sum(
            a == b for a, b in zip(texts["raw"], texts["stock"]))
    else:
        result["stock_error"] = stock_error
    result["sample_answer"] = {n: ts[0] for n, ts in texts.items()}

    out = Path(__file__).parent / "results" / "overhead.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
