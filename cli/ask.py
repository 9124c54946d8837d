"""`localchain ask`: one question, answer streamed (or one JSON object with --json)."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer
from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage

from localchain.cli.options import (
    BackendOpt,
    BaseUrlOpt,
    JsonOpt,
    MaxTokensOpt,
    ModelOpt,
    NCtxOpt,
    SeedOpt,
    TemperatureOpt,
    TemplateOpt,
    print_json,
    read_question,
    settings_from_options,
)
from localchain.models.registry import load_chat_model


def ask(
    question: Annotated[str, typer.Argument(help="The question; '-' reads it from stdin.")],
    system: Annotated[str | None, typer.Option("--system", "-s", help="System prompt.")] = None,
    model: ModelOpt = None,
    backend: BackendOpt = None,
    base_url: BaseUrlOpt = None,
    temperature: TemperatureOpt = None,
    max_tokens: MaxTokensOpt = None,
    n_ctx: NCtxOpt = None,
    seed: SeedOpt = None,
    chat_template: TemplateOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Ask the model one question and stream the answer."""
    question = read_question(question)
    settings = settings_from_options(
        model=model, backend=backend, base_url=base_url, temperature=temperature,
        max_tokens=max_tokens, n_ctx=n_ctx, seed=seed, chat_template=chat_template,
    )
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
