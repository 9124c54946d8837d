"""sequential(): plumbing with scripted links, checks at build time, streaming by link."""

from __future__ import annotations

import pytest
from langchain_core.runnables import RunnableLambda

from localchain import ChainInputError
from localchain.chains import SequentialChain, sequential


def upper(key: str) -> RunnableLambda:
    return RunnableLambda(lambda values: f"{key}({','.join(f'{k}={v}' for k, v in values.items())})")


def test_each_link_sees_inputs_and_earlier_outputs() -> None:
    chain = sequential({"a": upper("A"), "b": upper("B")}, inputs=["x"])
    result = chain.invoke({"x": "1", "ignored": "2"})
    assert result == {"x": "1", "a": "A(x=1)", "b": "B(x=1,a=A(x=1))"}
    assert chain.invoke("1") == result  # one input: a bare value
    assert chain.output_keys == ["a", "b"]


def test_template_links_declare_their_variables_and_inputs_are_inferred() -> None:
    llm = RunnableLambda(lambda prompt: f"<{prompt.to_string()}>")
    chain = sequential({"title": "T for {summary}", "story": "S {title} / {summary} / {mood}"}, llm)
    assert chain.input_variables == ["summary", "mood"]
    out = chain.invoke({"summary": "sum", "mood": "sad"})
    assert out == {
        "summary": "sum", "mood": "sad", "title": "<T for sum>",
        "story": "<S <T for sum> / sum / sad>",
    }


def test_stream_is_keyed_by_the_running_link() -> None:
    llm = RunnableLambda(lambda prompt: prompt.to_string().upper())
    chain = sequential({"title": "title of {summary}", "story": "story of {title}"}, llm)
    chunks = list(chain.stream("cats"))
    keys = [next(iter(c)) for c in chunks]
    assert keys[0] == "summary"
    assert keys.index("story") > keys.index("title")
    merged: dict = {}
    for chunk in chunks:
        for key, value in chunk.items():
            merged[key] = merged.get(key, "") + value
    assert merged == chain.invoke("cats")


async def test_async_and_batch() -> None:
    chain = sequential({"a": upper("A")}, inputs=["x"])
    assert await chain.ainvoke("1") == {"x": "1", "a": "A(x=1)"}
    assert chain.batch(["1", "2"]) == [{"x": "1", "a": "A(x=1)"}, {"x": "2", "a": "A(x=2)"}]
    assert [c async for c in chain.astream("3")][-1] == {"a": "A(x=3)"}


def test_composes_with_pipe() -> None:
    chain = sequential({"a": upper("A")}, inputs=["x"]) | RunnableLambda(lambda d: d["a"])
    assert chain.invoke("9") == "A(x=9)"
    assert isinstance(sequential({"a": upper("A")}, inputs=["x"]), SequentialChain)


def test_link_needing_a_later_output_fails_at_build_time() -> None:
    llm = RunnableLambda(str)
    with pytest.raises(ChainInputError, match="made by a later link") as err:
        sequential({"title": "{story}", "story": "{summary}"}, llm)
    assert err.value.missing == ["story"]


def test_unknown_variable_with_declared_inputs() -> None:
    llm = RunnableLambda(str)
    with pytest.raises(ChainInputError, match=r"needs 'sumary'.*available: 'summary'"):
        sequential({"title": "about {sumary}"}, llm, inputs=["summary"])


def test_output_named_like_an_input() -> None:
    with pytest.raises(ChainInputError, match="same name as an input"):
        sequential({"summary": upper("S")}, inputs=["summary"])


def test_missing_input_at_invoke_time() -> None:
    chain = sequential({"a": upper("A")}, inputs=["x", "y"])
    with pytest.raises(ChainInputError, match="missing 'y'"):
        chain.invoke({"x": 1})


def test_no_links_and_bad_links() -> None:
    with pytest.raises(ChainInputError, match="at least one link"):
        sequential({})
    with pytest.raises(ChainInputError, match="must be a template string"):
        sequential({"a": 42}, inputs=[])  # type: ignore[dict-item]
