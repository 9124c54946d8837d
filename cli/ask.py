"""`localchain ask`: one question, answer streamed (or one JSON object with --json)."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from localchain.cli.options import (
    JsonOpt,
    ModelOptions,
    QuestionArg,
    SystemOpt,
    check_text,
    print_json,
    read_question,
    with_model_options,
)

if TYPE_CHECKING:
    from langchain_core.messages import AIMessageChunk


@with_model_options
def ask(
    question: QuestionArg,
    system: SystemOpt = None,
    model_options: ModelOptions = ModelOptions(),
    json_output: JsonOpt = False,
) -> None:
    """Ask the model one question and stream the answer."""
    question = read_question(question)
    if system is not None:
        check_text(system, "--system")
    from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage

    from localchain.models.registry import load_chat_model

    settings = model_options.settings()
    started = time.perf_counter()
    chat = load_chat_model(settings=settings)
    loaded = time.perf_counter()
    messages = ([SystemMessage(system)] if system else []) + [HumanMessage(question)]
    answer: AIMessageChunk | None = None
    for chunk in chat.stream(messages):
        answer = chunk if answer is None else answer + chunk
        if not json_output and chunk.content:
            sys.stdout.write(str(chunk.content))
            sys.stdout.flush()
    ended = time.perf_counter()
    if answer is None:
        answer = AIMessageChunk(content="")
    if not json_output:
        sys.stdout.write("\n")
        return
    metadata = answer.response_metadata
    print_json(
        {
            "question": question,
            "answer": answer.content,
            "model": metadata.get("model_name") or settings.model,
            "backend": settings.backend,
            "finish_reason": metadata.get("finish_reason"),
            "usage": dict(answer.usage_metadata or {}),
            "timings": {
                **metadata.get("timings", {}),
                "load_s": round(loaded - started, 4),
                "wall_s": round(ended - loaded, 4),
            },
        }
    )
