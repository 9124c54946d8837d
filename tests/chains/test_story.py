"""The book's story chain on the real embedded model."""

from __future__ import annotations

import pytest
from langchain_core.runnables import RunnableLambda

from localchain import ChainInputError
from localchain.chains import STORY_PROMPTS, story_chain


@pytest.fixture(scope="module")
def story(chat):
    return story_chain(chat).invoke("a girl that lost her mother")


def test_returns_exactly_the_four_parts(story) -> None:
    assert list(story) == ["summary", "title", "character", "story"]
    assert story["summary"] == "a girl that lost her mother"
    for key in ("title", "character", "story"):
        assert isinstance(story[key], str) and story[key] == story[key].strip() and story[key]


def test_dict_input(chat) -> None:
    # Same keys, not necessarily the same words: greedy text may differ with the KV cache state.
    result = story_chain(chat).invoke({"summary": "a boy and his dog"})
    assert list(result) == ["summary", "title", "character", "story"]
    assert result["summary"] == "a boy and his dog"


def test_stream_shows_each_link_in_order(chat) -> None:
    chunks = list(story_chain(chat).stream("a girl that lost her mother"))
    order: list[str] = []
    for chunk in chunks:
        (key,) = chunk
        if not order or order[-1] != key:
            order.append(key)
    assert order == ["summary", "title", "character", "story"]
    assert "".join(c.get("title", "") for c in chunks).strip()


def test_a_link_prompt_can_be_replaced(chat) -> None:
    seen: list[dict] = []

    def fixed_title(values: dict) -> str:
        seen.append(dict(values))
        return "The Lighthouse"

    chain = story_chain(chat, prompts={"title": RunnableLambda(fixed_title)})
    result = chain.invoke("a girl that lost her mother")
    assert seen == [{"summary": "a girl that lost her mother"}]
    assert result["title"] == "The Lighthouse"
    assert set(result) == {"summary", "title", "character", "story"}


def test_unknown_link_name() -> None:
    with pytest.raises(ChainInputError, match="no link named 'ending'"):
        story_chain(RunnableLambda(str), prompts={"ending": "x"})


def test_the_books_prompts_are_used() -> None:
    assert set(STORY_PROMPTS) == {"title", "character", "story"}
    assert "Only return the title" in STORY_PROMPTS["title"]
    assert "Use only two sentences" in STORY_PROMPTS["character"]
