"""The book's story chain: summary -> title -> character -> story, one use of :func:`sequential`.

Example:
    >>> from localchain.chains import story_chain
    >>> story = story_chain().invoke("a girl that lost her mother")     # doctest: +SKIP
    >>> list(story)                                                     # doctest: +SKIP
    ['summary', 'title', 'character', 'story']
"""

from __future__ import annotations

from collections.abc import Mapping

from langchain_core.language_models import BaseLanguageModel

from localchain.chains.sequential import Link, SequentialChain, sequential
from localchain.errors import ChainInputError

__all__ = ["STORY_PROMPTS", "story_chain"]

STORY_PROMPTS: dict[str, str] = {
    "title": "Create a title for a story about {summary}. Only return the title.",
    "character": (
        "Describe the main character of a story about {summary} with the title {title}. "
        "Use only two sentences."
    ),
    "story": (
        "Create a story about {summary} with the title {title}. The main character is: "
        "{character} Only return the story and it cannot be longer than one paragraph."
    ),
}
"""The book's three prompts, by the name of the output they make."""


def story_chain(
    llm: BaseLanguageModel | None = None, *, prompts: Mapping[str, Link] | None = None
) -> SequentialChain:
    """Summary in; a dict with exactly ``summary``, ``title``, ``character`` and ``story`` out.

    Args:
        llm: The model for all three links (``None``: the configured model).
        prompts: Replacements for some or all of :data:`STORY_PROMPTS`, by link name
            (``title``, ``character``, ``story``); a replacement may use ``{summary}`` and
            the outputs of the links before it.

    Example:
        >>> chain = story_chain(prompts={"title": "Give a two-word title for {summary}."})
        ... # doctest: +SKIP
        >>> chain.invoke({"summary": "a girl that lost her mother"})["title"]  # doctest: +SKIP
    """
    links: dict[str, Link] = dict(STORY_PROMPTS)
    for key, prompt in (prompts or {}).items():
        if key not in links:
            raise ChainInputError(
                "story_chain", f"no link named {key!r}; the links are {', '.join(links)}"
            )
        links[key] = prompt
    return sequential(links, llm, inputs=["summary"], name="story_chain")
