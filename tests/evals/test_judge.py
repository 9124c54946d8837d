"""The judge: tightened schemas, bounded retries, counting, traces, and the real model."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from pydantic import BaseModel, Field
from ragas.llms.base import InstructorBaseRagasLLM
from ragas.metrics.collections.faithfulness.util import NLIStatementOutput, StatementGeneratorOutput

from localchain.errors import ConfigError, JudgeOutputError
from localchain.evals import ConstrainedJudge, as_judge, judge_schema, judge_trace
from localchain.evals.judge import judge_grammar


class Verdict(BaseModel):
    reason: str
    verdict: int = Field(description="the verdict(0/1) of the faithfulness")


def test_schema_is_tightened_for_small_models() -> None:
    schema = judge_schema(NLIStatementOutput, max_items=3, max_chars=50)
    item = schema["$defs"]["StatementFaithfulnessAnswer"]["properties"]
    assert item["verdict"]["enum"] == [0, 1]
    assert item["reason"]["maxLength"] == 50 and item["statement"]["maxLength"] == 50
    assert schema["properties"]["statements"]["maxItems"] == 3
    # The original model still validates what the tightened schema allows.
    NLIStatementOutput.model_validate({"statements": [
        {"statement": "s", "reason": "r", "verdict": 1}]})
    with pytest.raises(ValueError):
        judge_schema(Verdict, max_items=0)
    assert "minItems" not in schema["properties"]["statements"]
    assert judge_schema(NLIStatementOutput, min_items=1)["properties"]["statements"]["minItems"] == 1


def test_grammar_keeps_raw_control_characters_out_of_strings() -> None:
    grammar = judge_grammar(StatementGeneratorOutput, max_items=2, max_chars=20, min_items=1)
    char = next(line for line in grammar.splitlines() if line.startswith("char ::="))
    assert char.startswith(r'char ::= [^"\\\x00-\x1F\x7F] | "\\"')
    assert 'statements-item ("," space statements-item)? "]"' in grammar  # 1 to 2 items


def test_a_raw_newline_inside_a_string_is_repaired() -> None:
    raw = '{"reason": "line one\nline two", "verdict": 0}'
    judge = ConstrainedJudge(FakeListChatModel(responses=[raw]), max_retries=0)
    assert judge.generate("?", Verdict).reason == "line one\nline two"


def test_a_ragas_llm_that_rejects_non_chat_models() -> None:
    judge = ConstrainedJudge(FakeListChatModel(responses=["{}"]))
    assert isinstance(judge, InstructorBaseRagasLLM)
    with pytest.raises(ConfigError, match="must be a LangChain chat model"):
        as_judge("gpt-4o")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="not LlamaCppLLM|not FakeListLLM"):
        from langchain_core.language_models.fake import FakeListLLM

        ConstrainedJudge(FakeListLLM(responses=["x"]))  # type: ignore[arg-type]


def test_parse_path_retries_with_the_error_and_counts_attempts() -> None:
    chat = FakeListChatModel(responses=[
        "Sure! Here you go: not json",
        'Here it is:\n```json\n{"reason": "the context says so", "verdict": 1}\n```',
    ])
    judge = ConstrainedJudge(chat, max_retries=2)
    with judge_trace() as calls:
        answer = judge.generate("Is it supported?", Verdict)
    assert answer == Verdict(reason="the context says so", verdict=1)
    usage = judge.usage
    assert (usage.calls, usage.attempts, usage.failures) == (1, 2, 0)
    assert len(calls) == 1 and calls[0].attempts == 2 and calls[0].ok


def test_retries_are_bounded_and_the_error_carries_the_last_answer() -> None:
    judge = ConstrainedJudge(FakeListChatModel(responses=["nope"]), max_retries=1)
    with judge_trace() as calls, pytest.raises(JudgeOutputError) as caught:
        judge.generate("?", Verdict)
    assert caught.value.attempts == 2 and caught.value.raw == "nope"
    assert caught.value.schema == "Verdict"
    assert judge.usage.failures == 1 and calls[0].error and not calls[0].ok


def test_structured_output_path_is_used_when_the_model_has_one() -> None:
    class Structured(FakeListChatModel):
        def with_structured_output(self, schema: Any, **kwargs: Any) -> Any:
            from langchain_core.runnables import RunnableLambda

            return RunnableLambda(lambda _: schema(reason="tool call", verdict=0))

    judge = ConstrainedJudge(Structured(responses=["unused"]))
    assert judge.generate("?", Verdict).reason == "tool call"
    assert judge.describe()["decoding"] == "structured output / parse"


def test_async_calls_from_many_tasks_are_all_counted(scripted: Any) -> None:
    judge, chat = scripted(delay_s=0.01)
    prompt = "x " + json.dumps(StatementGeneratorOutput.model_json_schema())

    async def many() -> list[Any]:
        return await asyncio.gather(*(judge.agenerate(prompt, StatementGeneratorOutput)
                                      for _ in range(8)))

    answers = asyncio.run(many())
    assert all(a.statements == ["The answer is stated."] for a in answers)
    assert judge.usage.calls == 8 and len(chat.prompts) == 8


def test_real_model_decodes_under_the_schema_and_concurrent_calls_queue() -> None:
    from localchain.models import LlamaCppChat

    judge = ConstrainedJudge(LlamaCppChat(temperature=0, n_ctx=1024), max_tokens=64,
                             max_chars=60)
    assert judge.describe()["decoding"] == "json-schema grammar"
    prompt = ("Context: Paris is the capital of France.\nStatement: Paris is in France.\n"
              "Is the statement supported by the context? Give a reason and a verdict "
              "(1 = supported, 0 = not) as JSON.")
    results: list[Verdict] = []
    errors: list[BaseException] = []

    def call() -> None:
        try:
            results.append(judge.generate(prompt, Verdict))
        except BaseException as err:  # noqa: BLE001 - a thread's failure must fail the test
            errors.append(err)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 3 and all(r.verdict in (0, 1) for r in results)
    assert all(len(r.reason) <= 60 for r in results)
    assert judge.usage.calls == 3 and judge.usage.failures == 0
