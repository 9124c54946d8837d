"""Fixtures for the eval tests: a scripted judge for the logic, the real model for the rest."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from fakes import ScriptedChat
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.messages import BaseMessage

from localchain.evals import ConstrainedJudge, RagasEmbeddings

# The Ragas prompts carry their output schema; its title says what answer is wanted.
# Nested titles appear too, so the outer models are looked for first.
SCHEMAS = (
    "NLIStatementOutput",
    "StatementGeneratorOutput",
    "ContextRecallOutput",
    "ContextPrecisionOutput",
    "AnswerRelevanceOutput",
    "ClaimDecompositionOutput",
)

Reply = str | Callable[[str], str]


def _good(schema: str, prompt: str) -> str:
    """A judge that finds one statement and supports everything."""
    return {
        "StatementGeneratorOutput": '{"statements": ["The answer is stated."]}',
        "NLIStatementOutput": '{"statements": [{"statement": "The answer is stated.", '
                              '"reason": "The context says so.", "verdict": 1}]}',
        "ContextRecallOutput": '{"classifications": [{"statement": "Reference fact.", '
                               '"reason": "In the context.", "attributed": 1}]}',
        "ContextPrecisionOutput": '{"reason": "The context helps.", "verdict": 1}',
        "AnswerRelevanceOutput": '{"question": "QUESTION", "noncommittal": 0}',
        "ClaimDecompositionOutput": '{"claims": ["The answer is stated."]}',
    }[schema]


class RagasScript:
    """Answers Ragas prompts from a script keyed by the wanted schema, as a reply of
    ``fakes.ScriptedChat``.

    ``script[schema]`` is a list of replies used in turn (the last one repeats), each a
    text or a function of the prompt; schemas not in the script get a "good judge" reply.
    """

    def __init__(self, script: dict[str, list[Reply]]) -> None:
        self.script = script
        self._lock = threading.Lock()
        self._used: dict[str, int] = {}

    def __call__(self, messages: list[BaseMessage]) -> str:
        prompt = str(messages[-1].content)
        schema = next((s for s in SCHEMAS if f'"title": "{s}"' in prompt), None)
        if schema is None:
            raise AssertionError(f"unexpected prompt: {prompt[:200]}")
        with self._lock:
            replies = self.script.get(schema)
            if replies:
                used = self._used.get(schema, 0)
                self._used[schema] = used + 1
                reply = replies[min(used, len(replies) - 1)]
            else:
                reply = _good(schema, prompt)
        return reply(prompt) if callable(reply) else reply


def echo_question(prompt: str) -> str:
    """An AnswerRelevanceOutput whose question is the one asked (cosine 1 with fake embeddings
    that embed equal texts equally)."""
    return json.dumps({"question": "same", "noncommittal": 0})


@pytest.fixture
def scripted() -> Callable[..., tuple[ConstrainedJudge, ScriptedChat]]:
    """Make a scripted judge: ``judge, chat = scripted(script={...})``."""

    def make(**options: Any) -> tuple[ConstrainedJudge, ScriptedChat]:
        retries = options.pop("max_retries", 2)
        script = RagasScript(options.pop("script", {}))
        chat = ScriptedChat(replies=[script], model_name="scripted-judge", **options)
        return ConstrainedJudge(chat, max_retries=retries), chat

    return make


@pytest.fixture
def fake_embeddings() -> RagasEmbeddings:
    return RagasEmbeddings(DeterministicFakeEmbedding(size=16))
