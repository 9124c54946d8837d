"""KV-cache prefix reuse in LlamaCppChat: a long conversation, extended one turn at a time.

Builds a ~1,500-token conversation (a system message plus a long user/assistant history,
measured with ``chat.count_tokens`` to land in 1,400-1,600 tokens), then makes 10 calls that
each extend it by one short user message (the previous answer is appended as an AIMessage,
then a new HumanMessage), max_tokens=16, temperature 0, n_ctx=4096, on the embedded
SmolLM2-135M GGUF. The 10 calls run twice:

  * with reuse: normal use; after one untimed warm-up call on the prefix, each call finds
    the conversation so far in the KV cache and evaluates only the new tokens;
  * without reuse: ``chat.engine.reset()`` (untimed) before each call empties the KV cache,
    so the whole prompt is evaluated every time.

Reports per-call wall times, mean, median, the ratio without/with reuse, and the
``response_metadata["timings"]["cached_tokens"]`` of every call as proof of the reuse.

Run:  .venv/bin/python bench/prefix_reuse.py
Prints one JSON object; also writes bench/results/prefix_reuse.json.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

import llama_cpp
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from localchain.models import LlamaCppChat

LOW, HIGH, CALLS = 1400, 1600, 10
SYSTEM = ("You are a patient geography tutor. Answer in one short sentence. Keep track of "
          "every city the student has asked about so far in this conversation.")
CITIES = [
    ("Paris", "France", "the Seine"), ("Berlin", "Germany", "the Spree"),
    ("Madrid", "Spain", "the Manzanares"), ("Rome", "Italy", "the Tiber"),
    ("Vienna", "Austria", "the Danube"), ("Prague", "Czechia", "the Vltava"),
    ("Warsaw", "Poland", "the Vistula"), ("Budapest", "Hungary", "the Danube"),
    ("London", "the United Kingdom", "the Thames"), ("Dublin", "Ireland", "the Liffey"),
    ("Lisbon", "Portugal", "the Tagus"), ("Cairo", "Egypt", "the Nile"),
    ("Baghdad", "Iraq", "the Tigris"), ("Moscow", "Russia", "the Moskva"),
    ("Kyiv", "Ukraine", "the Dnipro"), ("Bern", "Switzerland", "the Aare"),
    ("Belgrade", "Serbia", "the Sava"), ("Bratislava", "Slovakia", "the Danube"),
    ("Ottawa", "Canada", "the Ottawa River"), ("Canberra", "Australia", "Lake Burley Griffin"),
    ("Bangkok", "Thailand", "the Chao Phraya"), ("Phnom Penh", "Cambodia", "the Mekong"),
]
QUESTIONS = [
    "Which city did I ask about first?", "Name one more river.", "Is Rome in Italy?",
    "What about Lisbon?", "Say yes or no: is Cairo in Egypt?", "Name a capital in Asia.",
    "Which river runs through Vienna?", "Is Bern a capital?", "One more fact, please.",
    "Thanks. Any last tip?",
]


def history_turn(city: str, country: str, river: str) -> list[BaseMessage]:
    return [
        HumanMessage(f"Tell me about {city}. Which country is it in and what water is there?"),
        AIMessage(f"{city} is the capital of {country}. The city lies on {river}, which has "
                  f"shaped its trade, its bridges and its old town for centuries; many "
                  f"visitors walk along {river} to see the historic centre of {city}."),
    ]


def build_prefix(chat: LlamaCppChat) -> list[BaseMessage]:
    messages: list[BaseMessage] = [SystemMessage(SYSTEM)]
    for i in range(200):
        if chat.count_tokens(messages) >= LOW:
            break
        messages += history_turn(*CITIES[i % len(CITIES)])
    n = chat.count_tokens(messages)
    if not LOW <= n <= HIGH:
        raise SystemExit(f"prefix is {n} tokens, outside {LOW}-{HIGH}; adjust the history")
    return messages


def run(chat: LlamaCppChat, prefix: list[BaseMessage], reuse: bool) -> list[dict]:
    messages = list(prefix)
    if reuse:  # the prefix is in the cache, as after the previous turn of a chat
        chat.invoke([*messages, HumanMessage("Ready?")])
    calls = []
    for question in QUESTIONS[:CALLS]:
        messages.append(HumanMessage(question))
        if not reuse:
            chat.engine.reset()
        t0 = time.perf_counter()
        answer = chat.invoke(messages)
        wall = time.perf_counter() - t0
        timings = answer.response_metadata["timings"]
        calls.append({"wall_s": round(wall, 4), "prompt_tokens": timings["prompt_tokens"],
                      "cached_tokens": timings["cached_tokens"],
                      "prompt_eval_s": timings["prompt_eval_s"], "answer": answer.content})
        messages.append(AIMessage(answer.content))
    return calls


def summary(calls: list[dict]) -> dict:
    walls = [c["wall_s"] for c in calls]
    return {"per_call_s": walls, "mean_s": round(statistics.mean(walls), 4),
            "median_s": round(statistics.median(walls), 4),
            "prompt_tokens": [c["prompt_tokens"] for c in calls],
            "cached_tokens": [c["cached_tokens"] for c in calls],
            "prompt_eval_s": [c["prompt_eval_s"] for c in calls]}


def main() -> None:
    load0 = round(os.getloadavg()[0], 2)
    chat = LlamaCppChat(n_ctx=4096, n_threads=os.cpu_count(), temperature=0, max_tokens=16,
                        seed=42)
    prefix = build_prefix(chat)
    chat.invoke("Say hello.")  # warm-up (loads weights into the caches)
    with_reuse = run(chat, prefix, reuse=True)
    without = run(chat, prefix, reuse=False)
    a, b = summary(with_reuse), summary(without)
    result = {
        "benchmark": "prefix_reuse",
        "model": chat.model_name,
        "settings": {"n_ctx": 4096, "n_threads": os.cpu_count(), "max_tokens": 16,
                     "temperature": 0, "calls": CALLS},
        "versions": {"llama_cpp_python": llama_cpp.__version__},
        "loadavg_1m": {"start": load0, "end": round(os.getloadavg()[0], 2)},
        "prefix_tokens": chat.count_tokens(prefix),
        "with_reuse": a,
        "without_reuse": b,
        "ratio_mean_without_over_with": round(b["mean_s"] / a["mean_s"], 2),
        "ratio_median_without_over_with": round(b["median_s"] / a["median_s"], 2),
        "same_answers": sum(x["answer"] == y["answer"] for x, y in zip(with_reuse, without)),
    }
    out = Path(__file__).parent / "results" / "prefix_reuse.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
