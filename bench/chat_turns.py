"""Chat-turn latency over a long conversation, and what summary memory costs.

Part 1 - prefix reuse. A 30-turn conversation through ``Chatbot(BufferMemory())`` on the
embedded SmolLM2-135M GGUF (n_ctx 4096, max_tokens 24, temperature 0), run three ways:

  * localchain, normal use: each turn's prompt starts with the previous one, so llama.cpp
    evaluates only the new tokens (KV-cache prefix reuse);
  * localchain without reuse: ``engine.reset()`` (untimed) before every turn, so the whole
    history is evaluated each time;
  * raw llama-cpp-python: ``Llama.create_chat_completion`` with the same growing message
    list (the library underneath, which also reuses its cache).

Per run: every turn's wall time and prompt tokens, first and last turn, last/first ratio.

Part 2 - summary memory. The same first 10 questions with ``SummaryMemory`` and with
``BufferMemory``: summarizer calls per turn and total time.

Run:  .venv/bin/python bench/chat_turns.py
Prints one JSON object; also writes bench/results/chat_turns.json.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import llama_cpp

from localchain.chains import Chatbot
from localchain.memory import BufferMemory, SummaryMemory
from localchain.models import LlamaCppChat, embedded_model_path

N_CTX, MAX_TOKENS, TURNS, SUMMARY_TURNS = 4096, 24, 30, 10
SYSTEM = "You are a helpful assistant. Answer briefly."
TOPICS = [
    "Paris", "the Nile", "Mount Everest", "the Moon", "penguins", "volcanoes", "the piano",
    "honey bees", "the Sahara", "Jupiter", "tea", "the Roman Empire", "rainbows", "octopuses",
    "the Amazon river", "chess", "glaciers", "the Eiffel Tower", "coffee", "whales",
    "the Great Wall", "tulips", "lightning", "Saturn's rings", "bicycles", "the violin",
    "coral reefs", "the Pyramids", "owls", "thunderstorms",
]
QUESTIONS = [f"Tell me one short fact about {topic}." for topic in TOPICS][:TURNS]


def run_chatbot(llm: LlamaCppChat, *, reuse: bool, questions: list[str], memory) -> dict:
    bot = Chatbot(llm, memory, system_prompt=SYSTEM)
    times, prompt_tokens = [], []
    for question in questions:
        if not reuse:
            llm.engine.reset()
        start = time.perf_counter()
        bot.chat(question)
        times.append(time.perf_counter() - start)
        prompt_tokens.append(bot.last_turn.usage["input_tokens"] if bot.last_turn.usage else None)
    return summarize(times, prompt_tokens)


def run_raw(llama: llama_cpp.Llama, questions: list[str]) -> dict:
    messages = [{"role": "system", "content": SYSTEM}]
    times, prompt_tokens = [], []
    for question in questions:
        messages.append({"role": "user", "content": question})
        start = time.perf_counter()
        out = llama.create_chat_completion(
            messages, max_tokens=MAX_TOKENS, temperature=0.0, seed=42, repeat_penalty=1.1
        )
        times.append(time.perf_counter() - start)
        prompt_tokens.append(out["usage"]["prompt_tokens"])
        messages.append({"role": "assistant", "content": out["choices"][0]["message"]["content"]})
    return summarize(times, prompt_tokens)


def summarize(times: list[float], prompt_tokens: list) -> dict:
    return {
        "turn_s": [round(t, 3) for t in times],
        "prompt_tokens": prompt_tokens,
        "first_turn_s": round(times[0], 3),
        "last_turn_s": round(times[-1], 3),
        "last_over_first": round(times[-1] / times[0], 2),
        "mean_last5_s": round(statistics.mean(times[-5:]), 3),
        "total_s": round(sum(times), 2),
    }


def main() -> dict:
    threads = os.cpu_count() or 1
    llm = LlamaCppChat(temperature=0, max_tokens=MAX_TOKENS, n_ctx=N_CTX, n_threads=threads)
    llm.invoke("warm up")
    with_reuse = run_chatbot(llm, reuse=True, questions=QUESTIONS, memory=BufferMemory())
    without_reuse = run_chatbot(llm, reuse=False, questions=QUESTIONS, memory=BufferMemory())
    llama = llama_cpp.Llama(
        str(embedded_model_path()), n_ctx=N_CTX, n_threads=threads, seed=42, verbose=False
    )
    raw = run_raw(llama, QUESTIONS)
    del llama

    buffer_start = time.perf_counter()
    run_chatbot(llm, reuse=True, questions=QUESTIONS[:SUMMARY_TURNS], memory=BufferMemory())
    buffer_s = time.perf_counter() - buffer_start
    summary_memory = SummaryMemory()
    summary_start = time.perf_counter()
    run_chatbot(llm, reuse=True, questions=QUESTIONS[:SUMMARY_TURNS], memory=summary_memory)
    summary_s = time.perf_counter() - summary_start

    result = {
        "benchmark": "chat_turns",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {threads} cores, {platform.system()}",
        "versions": {"llama_cpp_python": llama_cpp.__version__},
        "model": llm.model_name,
        "settings": {"n_ctx": N_CTX, "max_tokens": MAX_TOKENS, "turns": TURNS},
        "buffer_with_reuse": with_reuse,
        "buffer_without_reuse": without_reuse,
        "raw_llama_cpp_python": raw,
        "last_turn_without_over_with_reuse": round(
            without_reuse["last_turn_s"] / with_reuse["last_turn_s"], 1
        ),
        "total_localchain_over_raw": round(with_reuse["total_s"] / raw["total_s"], 3),
        "summary_vs_buffer": {
            "turns": SUMMARY_TURNS,
            "buffer_total_s": round(buffer_s, 2),
            "summary_total_s": round(summary_s, 2),
            "summary_over_buffer": round(summary_s / buffer_s, 2),
            "summarizer_calls_per_turn": summary_memory.summary_calls / SUMMARY_TURNS,
            "final_summary_chars": len(summary_memory.summary),
        },
    }
    return result


if __name__ == "__main__":
    output = main()
    text = json.dumps(output, indent=2)
    print(text)
    Path(__file__).with_name("results").mkdir(exist_ok=True)
    Path(__file__).with_name("results").joinpath("chat_turns.json").write_text(text + "\n")
