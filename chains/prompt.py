"""Prompt chains: a template with ``{variables}`` piped into a model, text out.

The book's first chain is ``prompt | llm``. :func:`prompt_chain` builds it for either kind
of model: a chat model gets the template as the user's message and the model's own chat
template does the rest; a completion model (:class:`~localchain.models.LlamaCppLLM`) gets
the template verbatim, so a hand-written chat template with special tokens works too.

Example:
    >>> from localchain.chains import prompt_chain
    >>> name = prompt_chain("Create a funny name for a business that sells {product}.")
    >>> name.invoke("ice cream")          # one variable: a bare value is enough  # doctest: +SKIP
    'Scoops Ahoy'
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from langchain_core.language_models import BaseChatModel, BaseLanguageModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import BasePromptTemplate, ChatPromptTemplate, PromptTemplate
from langchain_core.runnables import Runnable, RunnableGenerator, RunnableLambda

from localchain.errors import ChainInputError

__all__ = ["prompt_chain", "strip_text"]


def prompt_chain(
    template: str | BasePromptTemplate,
    llm: BaseLanguageModel | None = None,
    *,
    system: str | None = None,
    name: str = "prompt_chain",
) -> Runnable[Any, str]:
    """A Runnable that fills ``template``, runs ``llm`` and returns the answer as text.

    Args:
        template: A template string with ``{variables}`` (f-string syntax; ``{{`` for a
            literal brace), or any LangChain prompt template.
        llm: A chat model (the template becomes the user's message) or a completion model
            (the template is sent as it is: write the chat template yourself). ``None``
            loads the configured model (the embedded one unless settings say otherwise).
        system: An optional system message, for chat models only.
        name: The run name shown in traces and errors.

    Input is a dict of the template's variables, or, when the template has exactly one
    variable, the bare value. Missing variables raise :class:`~localchain.ChainInputError`
    naming them; extra keys are ignored. The answer has surrounding whitespace removed,
    and streams chunk by chunk.

    Example:
        >>> from localchain import load_llm
        >>> chain = prompt_chain(
        ...     "<|im_start|>user\\n{question}<|im_end|>\\n<|im_start|>assistant\\n",
        ...     llm=load_llm(),       # a hand-written ChatML template, as in the book
        ... )
        >>> chain.invoke({"question": "What is the capital of France?"})  # doctest: +SKIP
        'The capital of France is Paris.'
    """
    if llm is None:
        from localchain.models.registry import load_chat_model

        llm = load_chat_model()
    prompt = _prompt_for(template, llm, system)
    variables = list(prompt.input_variables)
    return (
        RunnableLambda(lambda value: prompt_input(name, variables, value), name="inputs")
        | prompt
        | llm
        | StrOutputParser()
        | strip_text()
    ).with_config(run_name=name)


def _prompt_for(
    template: str | BasePromptTemplate, llm: BaseLanguageModel, system: str | None
) -> BasePromptTemplate:
    if isinstance(template, BasePromptTemplate):
        if system is not None:
            raise ChainInputError("prompt_chain", "pass system= with a template string only")
        return template
    if not isinstance(template, str) or not template.strip():
        raise ChainInputError("prompt_chain", f"the template must be a non-empty string, got {template!r}")
    if isinstance(llm, BaseChatModel):
        messages = ([("system", system)] if system else []) + [("human", template)]
        return ChatPromptTemplate.from_messages(messages)
    if system is not None:
        raise ChainInputError(
            "prompt_chain",
            "system= needs a chat model; with a completion model write the system part "
            "into the template",
        )
    return PromptTemplate.from_template(template)


def prompt_input(chain: str, variables: list[str], value: Any) -> dict[str, Any]:
    """The dict a prompt needs, from a dict or (one variable) a bare value; clear errors.

    Example:
        >>> prompt_input("demo", ["product"], "socks")
        {'product': 'socks'}
    """
    if not isinstance(value, Mapping):
        if len(variables) == 1:
            return {variables[0]: value}
        raise ChainInputError(
            chain,
            f"expects a dict with {_names(variables)}; got {type(value).__name__}",
            missing=list(variables),
        )
    missing = [v for v in variables if v not in value]
    if missing:
        raise ChainInputError(
            chain,
            f"missing {_names(missing)} (given: {_names(list(value)) or 'nothing'})",
            missing=missing,
        )
    return {v: value[v] for v in variables}


def _names(keys: list[str]) -> str:
    return ", ".join(repr(k) for k in keys)


def strip_text() -> Runnable[str, str]:
    """A streaming-friendly ``str.strip``: leading whitespace is dropped as it arrives,
    trailing whitespace is held back until more text follows it.

    Example:
        >>> strip_text().invoke("  Paris \\n")
        'Paris'
    """

    def transform(chunks: Iterator[str]) -> Iterator[str]:
        stripper = _Stripper()
        for chunk in chunks:
            if piece := stripper.feed(chunk):
                yield piece
        if not stripper.started:
            yield ""  # an empty answer is "", not None

    async def atransform(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
        stripper = _Stripper()
        async for chunk in chunks:
            if piece := stripper.feed(chunk):
                yield piece
        if not stripper.started:
            yield ""

    return RunnableGenerator(transform, atransform, name="strip")


class _Stripper:
    """The state of :func:`strip_text`: text goes in chunk by chunk, stripped text comes out."""

    def __init__(self) -> None:
        self.started = False
        self.pending = ""

    def feed(self, chunk: str) -> str:
        if not self.started:
            chunk = chunk.lstrip()
            if not chunk:
                return ""
            self.started = True
        text = self.pending + chunk
        body = text.rstrip()
        self.pending = text[len(body) :]
        return body
