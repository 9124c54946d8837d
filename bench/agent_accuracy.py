"""Agent accuracy on the embedded model: localchain's ReActAgent vs stock LangChain's ReAct.

Runs the question set in ``bench/data/agent_questions.jsonl`` (85 questions: arithmetic,
percentages, conversions with a stated rate - the book's MacBook-in-EUR among them -, unit
conversions, multi-step problems, and lookups answered from a small local corpus; 30 of
them marked ``"split": "heldout"``, kept out of all tuning, the rest ``dev``) through the
ReActAgent configurations of ``TECHNIQUES`` (the defaults before issue 15, each technique
alone, all of them: today's defaults) and

  (a) ``localchain``: ``localchain.agents.ReActAgent`` (grammar-constrained steps, guards);
  (a') ``localchain-examples``: the same with the shipped worked examples in the prompt
      (``CALCULATOR_EXAMPLES`` + ``SEARCH_EXAMPLES``; none of them is a benchmark question)
      and ``tool_choice="required"``;
  (b) ``stock``: langchain-classic's ``create_react_agent`` + ``AgentExecutor(
      handle_parsing_errors=True)`` with the book's ReAct prompt (LangChain hub
      ``hwchase17/react``), the way the book runs it,
  (c) ``create-agent``: LangChain 1.x ``create_agent`` (native tool calling) over the same
      ``LlamaCppChat`` with the small-model tool options (``call_tools_first=True``,
      ``max_tool_rounds=1``; arguments grounded, the default),
  (d) ``create-agent-stock``: ``create_agent`` over langchain-community's ``ChatLlamaCpp``
      (its own ``bind_tools``) on the same GGUF and sampling settings
      (``rope_freq_base=0`` so it keeps the GGUF's value),

(a)-(c) on the same chat model object (localchain's ``LlamaCppChat`` over the embedded
SmolLM2-135M-Instruct GGUF: n_ctx=4096, temperature=0, seed=42, max_tokens=256) and the same
tools: the calculator and the web search with ``offline=True`` over a BM25 retriever of
``bench/data/agent_corpus.jsonl`` (so lookups never touch the network). Both get at most 8
iterations and 120 s per question. The two systems alternate which goes first, question by
question, so load from other processes hits both alike.

Scoring: a numeric answer is right when a number in the output that is not copied from
the question is within 0.5% (or the question's own ``tolerance``, absolute) of the expected
one (when the expected number is in the question, the output's last number must be it); a
text answer when one of its aliases appears as a word. Reported per system: accuracy (overall, per category, and on
single-calculation questions), parse failures (localchain: replies that needed a retry;
stock: ``_Exception`` steps from handle_parsing_errors), mean tool steps, mean seconds per
question, and how runs ended.

Needs langchain-classic for the stock side: ``pip install 'localchain[bench]'``.

Run:  .venv/bin/python bench/agent_accuracy.py [--by-system] [--split heldout] [--limit N]
      [--systems all,before,t4-units,...,create-agent,stock]
Prints one JSON object; the full set (no --limit) also writes bench/results/agent_accuracy.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.tools import BaseTool

from localchain.agents import ReActAgent, ReActPrompt
from localchain.agents.prompt import BOOK_REACT_TEMPLATE, CALCULATOR_EXAMPLES, SEARCH_EXAMPLES
from localchain.agents.tools import Calculator, WebSearch
from localchain.models import LlamaCppChat
from localchain.retrievers import BM25Retriever

HERE = Path(__file__).parent
QUESTIONS = HERE / "data" / "agent_questions.jsonl"
CORPUS = HERE / "data" / "agent_corpus.jsonl"
MAX_ITERATIONS, MAX_SECONDS = 8, 120.0
SETTINGS = {"n_ctx": 4096, "temperature": 0.0, "seed": 42, "max_tokens": 256}
SINGLE_CALCULATION = {"arithmetic", "percentage", "conversion", "unit"}
SAMPLES = 3

# Today's defaults before issue 15 (the book's prompt, no examples, tool_choice "auto",
# greedy inputs, answers grounded in numbers only, a calculator without units), and each
# technique alone on top of them; "all" is every technique together.
BEFORE = {"examples": None, "tool_choice": "auto", "samples": 1, "quote_result": False}
TECHNIQUES: dict[str, tuple[dict[str, Any], bool]] = {
    "before": (BEFORE, False),
    "t1-fixed-examples-required": ({**BEFORE, "examples": "fixed", "tool_choice": "required"},
                                   False),
    "t2-selected-examples": ({**BEFORE, "examples": "selected"}, False),
    "t3-self-consistency": ({**BEFORE, "samples": SAMPLES}, False),
    "t4-units": (BEFORE, True),
    "t5-quote-result": ({**BEFORE, "quote_result": True}, False),
    "all": ({"examples": "selected", "tool_choice": "required", "samples": SAMPLES,
             "quote_result": True}, True),
}  # fmt: skip

# The book's prompt, as LangChain hub's hwchase17/react has it: localchain's template
# without the conversation slot it adds for memory.
STOCK_PROMPT = BOOK_REACT_TEMPLATE.replace("{chat_history}", "").replace("{examples}", "")

_NUMBER = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?")


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def make_tools(units: bool = True) -> list[BaseTool]:
    docs = [Document(d["text"], metadata={"title": d["title"], "source": d["source"]})
            for d in load_jsonl(CORPUS)]  # fmt: skip
    search = WebSearch(offline=True, fallback=BM25Retriever.from_documents(docs, k=2))
    return [Calculator(units=units), search]


def _numbers(text: str) -> list[float]:
    return [float(n.replace(",", "")) for n in _NUMBER.findall(text)]


def is_correct(question: str, output: str, expected: Any, tolerance: float | None) -> bool:
    """Text: any alias as a word. Numbers: a number of the output close enough to the
    expected one, not counting numbers copied from the question ("3 * 12.50 = 36" is not
    the answer 12.5) - unless the answer is itself in the question ("144 / 12" is 12):
    then the output's last number must be it."""
    if isinstance(expected, list):
        return any(
            re.search(rf"(?<!\w){re.escape(alias)}(?!\w)", output, re.IGNORECASE)
            for alias in expected
        )
    target = float(expected)
    allowed = tolerance if tolerance is not None else max(0.01, abs(target) * 0.005)
    given = _numbers(question)
    found = _numbers(output)
    if any(abs(n - target) <= allowed for n in given):
        return bool(found) and abs(found[-1] - target) <= allowed
    return any(abs(n - target) <= allowed for n in found if n not in given)


def run_localchain(chat: LlamaCppChat, tools: list[BaseTool], **options: Any):
    agent = ReActAgent(llm=chat, tools=tools, max_iterations=MAX_ITERATIONS,
                       max_seconds=MAX_SECONDS, **options)  # fmt: skip

    def run(question: str) -> dict[str, Any]:
        result = agent.invoke({"input": question})
        return {
            "output": result["output"],
            "parse_failures": result["parse_failures"],
            "steps": len(result["intermediate_steps"]),
            "stopped": result["stopped_reason"],
            "trace": [
                [s.tool, s.tool_input, s.observation[:200]] for s in result["intermediate_steps"]
            ],
            "notices": [n for n in result["notices"] if n.startswith("self-consistency")],
        }

    return run


def run_localchain_examples(chat: LlamaCppChat, tools: list[BaseTool]):
    """localchain with the shipped worked examples and a tool call required first."""
    prompt = ReActPrompt(examples=CALCULATOR_EXAMPLES + "\n" + SEARCH_EXAMPLES)
    return run_localchain(chat, tools, prompt=prompt, tool_choice="required", examples=None,
                          samples=1, quote_result=False)  # fmt: skip


def run_technique(name: str):
    """A ReActAgent configuration of TECHNIQUES (its own calculator: with units or not)."""
    options, units = TECHNIQUES[name]

    def make(chat: LlamaCppChat, tools: list[BaseTool]):
        return run_localchain(chat, make_tools(units=units), **options)

    return make


def run_stock(chat: LlamaCppChat, tools: list[BaseTool]):
    from langchain_classic.agents import AgentExecutor, create_react_agent
    from langchain_core.prompts import PromptTemplate

    agent = create_react_agent(chat, tools, PromptTemplate.from_template(STOCK_PROMPT))
    executor = AgentExecutor(
        agent=agent, tools=tools, handle_parsing_errors=True, max_iterations=MAX_ITERATIONS,
        max_execution_time=MAX_SECONDS, return_intermediate_steps=True,
    )  # fmt: skip

    def run(question: str) -> dict[str, Any]:
        result = executor.invoke({"input": question})
        steps = result["intermediate_steps"]
        failures = sum(1 for action, _ in steps if action.tool == "_Exception")
        output = str(result["output"])
        stopped = "budget" if output.startswith("Agent stopped due to") else "final_answer"
        return {
            "output": output,
            "parse_failures": failures,
            "steps": len(steps) - failures,
            "stopped": stopped,
            "trace": [[a.tool, str(a.tool_input)[:200], str(o)[:200]] for a, o in steps],
        }

    return run


def _tool_calling_run(agent: Any):
    from langchain_core.messages import AIMessage, ToolMessage
    from langgraph.errors import GraphRecursionError

    def run(question: str) -> dict[str, Any]:
        try:
            result = agent.invoke(
                {"messages": [{"role": "user", "content": question}]},
                config={"recursion_limit": 2 * MAX_ITERATIONS + 1},
            )
            stopped = "final_answer"
        except GraphRecursionError:
            return {"output": "", "parse_failures": 0, "steps": MAX_ITERATIONS,
                    "stopped": "budget", "trace": []}  # fmt: skip
        messages = result["messages"]
        replies = [m for m in messages if isinstance(m, AIMessage)]
        calls = [call for m in replies for call in m.tool_calls]
        results = {m.tool_call_id: str(m.content) for m in messages if isinstance(m, ToolMessage)}
        last = messages[-1]
        if not isinstance(last, AIMessage) or last.tool_calls:
            stopped = "budget"
        return {
            "output": last.text if isinstance(last, AIMessage) else "",
            "parse_failures": sum(len(m.invalid_tool_calls) for m in replies),
            "steps": len(calls),
            "stopped": stopped,
            "trace": [
                [c["name"], json.dumps(c["args"])[:200], results.get(c["id"] or "", "")[:200]]
                for c in calls
            ],
        }

    return run


def run_create_agent(chat: LlamaCppChat, tools: list[BaseTool]):
    """LangChain's create_agent over LlamaCppChat's native tool calling."""
    from langchain.agents import create_agent

    small = chat.model_copy(update={"call_tools_first": True, "max_tool_rounds": 1})
    return _tool_calling_run(create_agent(small, tools))


def run_create_agent_stock(chat: LlamaCppChat, tools: list[BaseTool]):
    """LangChain's create_agent over langchain-community's ChatLlamaCpp.bind_tools."""
    from langchain.agents import create_agent
    from langchain_community.chat_models import ChatLlamaCpp

    from localchain.models import embedded_model_path

    stock = ChatLlamaCpp(
        model_path=str(embedded_model_path()), n_ctx=SETTINGS["n_ctx"],
        temperature=SETTINGS["temperature"], seed=SETTINGS["seed"],
        max_tokens=SETTINGS["max_tokens"], rope_freq_base=0, verbose=False,
    )  # fmt: skip
    return _tool_calling_run(create_agent(stock, tools))


def summarize_splits(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary over all questions, and per split (dev, heldout)."""
    splits = sorted({r.get("split", "dev") for r in rows})
    return {
        **summarize(rows),
        "splits": {s: summarize([r for r in rows if r.get("split", "dev") == s]) for s in splits},
    }


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def accuracy(subset: list[dict[str, Any]]) -> float | None:
        return round(sum(r["correct"] for r in subset) / len(subset), 3) if subset else None

    categories = sorted({r["category"] for r in rows})
    single = [r for r in rows if r["category"] in SINGLE_CALCULATION and r["tool_calls"] == 1]
    return {
        "questions": len(rows),
        "correct": sum(r["correct"] for r in rows),
        "accuracy": accuracy(rows),
        "accuracy_single_calculation": accuracy(single),
        "accuracy_by_category": {
            c: accuracy([r for r in rows if r["category"] == c]) for c in categories
        },
        "parse_failures": sum(r["parse_failures"] for r in rows),
        "questions_with_parse_failures": sum(1 for r in rows if r["parse_failures"]),
        "mean_steps": round(statistics.mean(r["steps"] for r in rows), 2),
        "mean_seconds": round(statistics.mean(r["seconds"] for r in rows), 2),
        "errors": sum(1 for r in rows if r.get("error")),
        "stopped": dict(Counter(r["stopped"] for r in rows)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="only the first N questions (smoke test)")
    parser.add_argument("--systems", default=",".join([*TECHNIQUES, "create-agent"]))
    parser.add_argument("--split", help="only this split's questions (dev or heldout)")
    parser.add_argument(
        "--by-system",
        action="store_true",
        help="each system answers all questions in turn (keeps its prompt cached)",
    )
    parser.add_argument("--out", type=Path, help="write the JSON here too")
    args = parser.parse_args()
    questions = [q for q in load_jsonl(QUESTIONS) if args.split in (None, q.get("split"))]
    questions = questions[: args.limit]
    names = [name.strip() for name in args.systems.split(",") if name.strip()]
    load0 = round(os.getloadavg()[0], 2)
    chat = LlamaCppChat(**SETTINGS)
    tools = make_tools()
    makers = {"localchain": run_localchain, "localchain-examples": run_localchain_examples,
              "stock": run_stock, "create-agent": run_create_agent,
              "create-agent-stock": run_create_agent_stock,
              **{name: run_technique(name) for name in TECHNIQUES}}  # fmt: skip
    systems = {name: makers[name](chat, tools) for name in names}
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    out = args.out or (HERE / "results" / "agent_accuracy.json" if args.limit is None else None)

    def ask(name: str, i: int, item: dict[str, Any]) -> None:
        started = time.perf_counter()
        try:
            outcome = systems[name](item["question"])
        except Exception as err:  # noqa: BLE001 - a crash is a wrong answer, recorded
            outcome = {"output": "", "parse_failures": 0, "steps": 0, "stopped": "crash",
                       "error": f"{type(err).__name__}: {err}"}  # fmt: skip
        outcome["seconds"] = round(time.perf_counter() - started, 3)
        outcome["correct"] = is_correct(item["question"], outcome["output"],
                                        item["answer"], item.get("tolerance"))  # fmt: skip
        rows[name].append({**item, **outcome})
        print(f"[{i + 1}/{len(questions)}] {name} {item['id']}: "
              f"{'ok' if outcome['correct'] else 'WRONG'} {outcome['seconds']}s "
              f"{outcome['output'][:60]!r}", file=sys.stderr, flush=True)  # fmt: skip

    def report(done: list[str]) -> dict[str, Any]:
        result = {
            "benchmark": "agent_accuracy",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
            "loadavg_1m": {"start": load0, "end": round(os.getloadavg()[0], 2)},
            "model": chat.model_name,
            "settings": {
                **SETTINGS,
                "max_iterations": MAX_ITERATIONS,
                "max_seconds": MAX_SECONDS,
            },  # fmt: skip
            "order": "by system" if args.by_system else "alternating, question by question",
            "versions": {lib: version(lib) for lib in ("llama_cpp_python", "langchain-core")}
            | ({"langchain-classic": version("langchain-classic")} if "stock" in names else {})
            | ({"langchain": version("langchain")} if any("create" in n for n in names) else {}),
            "questions": len(questions),
            "configurations": {
                name: TECHNIQUES[name][0] | {"units": TECHNIQUES[name][1]}
                for name in done
                if name in TECHNIQUES
            },  # fmt: skip
            "systems": {name: summarize_splits(rows[name]) for name in done},
            "per_question": {name: rows[name] for name in done},
        }
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        return result

    if args.by_system:
        # Each system answers every question before the next starts, so its prompt's
        # prefix stays in the KV cache (alternating re-evaluates the whole prompt each time).
        for done, name in enumerate(names):
            for i, item in enumerate(questions):
                ask(name, i, item)
            report(names[: done + 1])
    else:
        for i, item in enumerate(questions):
            for name in names[i % len(names) :] + names[: i % len(names)]:
                ask(name, i, item)
    print(json.dumps(report(names), ensure_ascii=False))


if __name__ == "__main__":
    main()
