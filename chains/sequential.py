"""Sequential chains: named links run in order, each seeing the inputs and what came before.

``sequential({"title": t, "character": c, "story": s})`` runs ``t``, stores its answer under
``title``, runs ``c`` with the inputs plus ``title``, and so on; the result is one dict with
the inputs and every link's output. Links are checked when the chain is built: a link that
needs a variable no earlier link makes (and that is not an input) is an error then, not
halfway through a slow run.

Streaming yields dict chunks keyed by the link that is running - first the inputs, then
``{"title": "..."}`` pieces, then ``{"character": "..."}`` pieces - so a caller always knows
which link produced the text; adding the chunks up gives the final dict.

Example:
    >>> from localchain.chains import sequential
    >>> chain = sequential({
    ...     "title": "Create a title for a story about {summary}. Only return the title.",
    ...     "tagline": "Write a one-line tagline for the story {title}.",
    ... }, llm=my_llm)                                                   # doctest: +SKIP
    >>> chain.input_variables                                            # doctest: +SKIP
    ['summary']
    >>> sorted(chain.invoke("a lighthouse keeper's cat"))                # doctest: +SKIP
    ['summary', 'tagline', 'title']
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.language_models import BaseLanguageModel
from langchain_core.prompts import BasePromptTemplate, PromptTemplate
from langchain_core.runnables import (
    Runnable,
    RunnableConfig,
    RunnableLambda,
    RunnablePassthrough,
    RunnableSerializable,
)
from pydantic import ConfigDict

from localchain.chains.prompt import prompt_chain, prompt_input
from localchain.errors import ChainInputError

__all__ = ["Link", "SequentialChain", "sequential"]

Link = str | BasePromptTemplate | Runnable
"""A link: a template string, a prompt template (both run through the chain's model), or
any Runnable that takes the dict of values so far and returns text."""


def sequential(
    links: Mapping[str, Link],
    llm: BaseLanguageModel | None = None,
    *,
    inputs: Sequence[str] | None = None,
    name: str = "sequential",
) -> SequentialChain:
    """Build a :class:`SequentialChain` from named links, run in the order given.

    Args:
        links: Output name -> link. Each template may use the chain's inputs and the
            outputs of the links before it.
        llm: The model for template links (``None``: the configured model, loaded once).
        inputs: The chain's input names. By default they are inferred: every template
            variable that no earlier link produces. Give them to fail early on a typo.
        name: The run name in traces and error messages.

    Raises:
        ChainInputError: no links, an output name that is also an input, or a link that
            needs a variable that is neither an input nor made by an earlier link.

    Example:
        >>> chain = sequential(
        ...     {"title": "Title for {summary}:", "story": "Story called {title}:"}, llm=llm
        ... )                                                            # doctest: +SKIP
    """
    if not links:
        raise ChainInputError(name, "needs at least one link")
    template_links = [
        link for link in links.values() if isinstance(link, (str, BasePromptTemplate))
    ]
    if template_links and llm is None:
        from localchain.models.registry import load_chat_model

        llm = load_chat_model()

    known: list[str] = list(inputs) if inputs is not None else []
    inferred = inputs is None
    steps: dict[str, Runnable] = {}
    made: list[str] = []
    for key, link in links.items():
        if key in known and key not in made:
            raise ChainInputError(name, f"link {key!r} has the same name as an input")
        needs = _variables(link)
        unknown = [v for v in needs if v not in known]
        later = [v for v in unknown if v in links and v not in made]
        if later:
            raise ChainInputError(
                name,
                f"link {key!r} needs {_names(later)}, made by a later link; reorder the links",
                missing=later,
            )
        if unknown and not inferred:
            raise ChainInputError(
                name,
                f"link {key!r} needs {_names(unknown)}: not an input and not made by an earlier "
                f"link (available: {_names(known)})",
                missing=unknown,
            )
        known.extend(unknown)
        steps[key] = _runnable(key, link, llm, name)
        made.append(key)
        known.append(key)
    input_variables = [v for v in known if v not in made]
    return SequentialChain(
        links=steps, input_variables=input_variables, output_keys=made, name=name
    )


class SequentialChain(RunnableSerializable[Any, dict[str, Any]]):
    """Named links run one after another; built by :func:`sequential`.

    Input: a dict with :attr:`input_variables` (extra keys are dropped), or a bare value
    when there is exactly one input. Output: a dict with exactly the inputs and
    :attr:`output_keys`.

    Example:
        >>> chain = sequential({"title": "Title for {summary}:"}, llm=llm)  # doctest: +SKIP
        >>> for chunk in chain.stream("a girl that lost her mother"):      # doctest: +SKIP
        ...     print(chunk)            # {'summary': ...}, then {'title': '...'} pieces
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    links: dict[str, Runnable]
    """Output name -> the Runnable that makes it, in run order."""
    input_variables: list[str]
    """What the chain needs from the caller."""
    output_keys: list[str]
    """What the links add, in run order."""

    @property
    def _chain(self) -> Runnable[Any, dict[str, Any]]:
        chain: Runnable = RunnableLambda(self._inputs, name="inputs")
        for key, link in self.links.items():
            chain = chain | RunnablePassthrough.assign(**{key: link})
        return chain.with_config(run_name=self.name or "sequential")

    def _inputs(self, value: Any) -> dict[str, Any]:
        return prompt_input(self.name or "sequential", self.input_variables, value)

    def invoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        return self._chain.invoke(input, config, **kwargs)

    async def ainvoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        return await self._chain.ainvoke(input, config, **kwargs)

    def stream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[dict[str, Any]]:
        yield from self._chain.stream(input, config, **kwargs)

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[dict[str, Any]]:
        async for chunk in self._chain.astream(input, config, **kwargs):
            yield chunk


def _variables(link: Link) -> list[str]:
    if isinstance(link, str):
        return list(PromptTemplate.from_template(link).input_variables)
    if isinstance(link, BasePromptTemplate):
        return list(link.input_variables)
    # An arbitrary Runnable declares nothing; it receives every value made so far.
    return []


def _runnable(key: str, link: Link, llm: BaseLanguageModel | None, chain: str) -> Runnable:
    if isinstance(link, (str, BasePromptTemplate)):
        return prompt_chain(link, llm, name=f"{chain}.{key}")
    if isinstance(link, Runnable):
        return link
    raise ChainInputError(
        chain, f"link {key!r} must be a template string, a prompt template or a Runnable"
    )


def _names(keys: Sequence[str]) -> str:
    return ", ".join(repr(k) for k in keys) or "nothing"
