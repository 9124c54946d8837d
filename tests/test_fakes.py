"""The shared scripted chat model behaves as the tests that use it assume (tests/fakes.py)."""

from __future__ import annotations

import asyncio
import doctest

import fakes
import pytest
from fakes import ScriptedChat, word_count
from langchain_core.messages import HumanMessage, SystemMessage

from localchain.models.capabilities import Capabilities, capabilities


def test_docstring_examples() -> None:
    result = doctest.testmod(fakes, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 8 and result.failed == 0


def test_after_the_last_reply_it_repeats_cycles_or_fails() -> None:
    repeat = ScriptedChat(replies=["a", "b"])
    assert [repeat.invoke("q").text for _ in range(3)] == ["a", "b", "b"]
    cycle = ScriptedChat(replies=["a", "b"], after_last="cycle")
    assert [cycle.invoke("q").text for _ in range(3)] == ["a", "b", "a"]
    strict = ScriptedChat(replies=["a"], after_last="fail")
    assert strict.invoke("q").text == "a"
    with pytest.raises(AssertionError, match="call 2 to a model scripted with 1 replies"):
        strict.invoke("q")


def test_calls_record_messages_stop_and_kwargs() -> None:
    llm = ScriptedChat(replies=[lambda messages: f"{len(messages)} messages"])
    answer = llm.invoke([SystemMessage("be brief"), HumanMessage("hi")], stop=["\n"], top_k=1)
    assert answer.text == "2 messages"
    [call] = llm.calls
    assert [m.type for m in call.messages] == ["system", "human"]
    assert call.stop == ["\n"] and call.kwargs == {"top_k": 1}
    assert llm.stops == [["\n"]] and llm.prompts == ["hi"]
    assert llm.prompt_text() == "be brief\nhi"


def test_bound_options_reach_the_record_and_async_calls_are_recorded() -> None:
    llm = ScriptedChat(replies=["x"])
    asyncio.run(llm.bind(grammar='root ::= "x"').ainvoke("q"))
    assert llm.calls[0].kwargs == {"grammar": 'root ::= "x"'}


def test_capabilities_are_declared_only_when_given() -> None:
    assert capabilities(ScriptedChat(replies=["x"])) == Capabilities()
    declared = Capabilities(grammar=True, context_window=64, max_tokens=8, counter=word_count)
    caps = capabilities(ScriptedChat(replies=["x"], capabilities=declared))
    assert caps.grammar and caps.context_window == 64
    assert caps.count_tokens([HumanMessage("three short words")]) == 3
    assert caps.count_tokens("two words") == 2
    assert not caps.fits(" ".join(["w"] * 57)) and caps.fits(" ".join(["w"] * 56))
