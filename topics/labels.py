"""Topic labels written by a chat model from a topic's keywords and representative documents.

The prompt has two slots, ``[KEYWORDS]`` and ``[DOCUMENTS]`` (:data:`LABEL_PROMPT`; pass your
own to :class:`TopicLabeler`). On llama.cpp the answer is decoded under :data:`LABEL_GRAMMAR`:
one line of one to :data:`MAX_LABEL_WORDS` words, nothing else, so even the embedded 135M
model cannot answer with a paragraph or a "Sure! Here is...". A model without grammar support
(an OpenAI-compatible server) is asked the same and its answer repaired: first line, no
"Label:" prefix, no quotes, at most :data:`MAX_LABEL_WORDS` words.

Example:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> labeler = TopicLabeler(FakeListChatModel(responses=['Label: "Electric vehicles."']))
    >>> labeler.label(["car", "cars", "ford"], ["Ford sells electric cars."])
    'Electric vehicles'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from localchain.errors import BackendResponseError, ConfigError
from localchain.models.capabilities import capabilities

__all__ = ["LABEL_GRAMMAR", "LABEL_PROMPT", "MAX_LABEL_WORDS", "TopicLabeler", "repair_label"]

MAX_LABEL_WORDS = 6
"""The longest label, in words."""

LABEL_GRAMMAR = (
    f'root ::= word (" " word){{0,{MAX_LABEL_WORDS - 1}}}\n'
    "word ::= [A-Za-z0-9] [A-Za-z0-9'-]{0,23}"
)
"""GBNF for one short line: words of letters, digits, hyphens and apostrophes, one space
apart."""

LABEL_PROMPT = """These documents belong to one topic:
[DOCUMENTS]

The words that describe the topic best: [KEYWORDS]

Give the topic a short name of two to five words. Answer with the name only."""
"""The default prompt; ``[KEYWORDS]`` becomes the keywords (comma-separated) and
``[DOCUMENTS]`` the representative documents (one ``- ...`` line each, shortened)."""

_PREFIX = re.compile(r"^\s*(?:topic\s*(?:label|name)?|label|name)\s*[:\-]\s*", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")


def repair_label(text: str) -> str:
    """A label from a free-form answer: the first non-empty line, without a ``Label:``-style
    prefix, quotes or final punctuation, cut to :data:`MAX_LABEL_WORDS` words; ``""`` when
    nothing usable is left.

    Example:
        >>> repair_label('Topic: "Supersonic wing flutter and its damping in flight"\\nMore.')
        'Supersonic wing flutter and its damping'
        >>> repair_label("  ...  ")
        ''
    """
    for line in text.splitlines():
        line = _PREFIX.sub("", line.strip())
        words = _WORD.findall(line)
        if words:
            return " ".join(words[:MAX_LABEL_WORDS])
    return ""


class TopicLabeler:
    """Asks a chat model for a topic's label; a grammar keeps it to one short line.

    ``prompt`` must hold ``[KEYWORDS]``, ``[DOCUMENTS]`` or both. Documents are cut to
    ``max_document_chars`` each, so a prompt fits a small context. Calls are greedy
    (``temperature=0``) unless ``temperature`` says otherwise.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> labeler = TopicLabeler(FakeListChatModel(responses=["Heat transfer"]),
        ...                        prompt="Keywords: [KEYWORDS]. Name the topic.")
        >>> labeler.prompt_for(["heat", "wall"], ["Heat flows to the wall."])
        'Keywords: heat, wall. Name the topic.'
        >>> labeler.label(["heat", "wall"], [])
        'Heat transfer'
    """

    def __init__(
        self,
        llm: Any,
        *,
        prompt: str = LABEL_PROMPT,
        max_document_chars: int = 300,
        max_tokens: int = 16,
        temperature: float = 0.0,
    ) -> None:
        if "[KEYWORDS]" not in prompt and "[DOCUMENTS]" not in prompt:
            raise ConfigError(
                "a label prompt needs [KEYWORDS], [DOCUMENTS] or both, where the topic's "
                "keywords and documents go"
            )
        if max_document_chars < 20:
            raise ValueError(f"max_document_chars must be at least 20, got {max_document_chars}")
        self.llm = llm
        self.prompt = prompt
        self.max_document_chars = max_document_chars
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.grammar = capabilities(llm).grammar

    def prompt_for(self, keywords: Sequence[str], documents: Sequence[str]) -> str:
        """The prompt the model gets for one topic."""
        shown = [_shorten(d, self.max_document_chars) for d in documents]
        return self.prompt.replace("[KEYWORDS]", ", ".join(keywords)).replace(
            "[DOCUMENTS]", "\n".join(f"- {d}" for d in shown)
        )

    def label(self, keywords: Sequence[str], documents: Sequence[str]) -> str:
        """The model's label for one topic.

        Raises:
            BackendResponseError: the model failed, or its answer held no usable word.
        """
        options: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.grammar:
            options["grammar"] = LABEL_GRAMMAR
        try:
            answer = self.llm.invoke([("user", self.prompt_for(keywords, documents))], **options)
        except Exception as err:  # any backend's failure: the caller keeps the keyword label
            raise BackendResponseError("topic labels", f"{type(err).__name__}: {err}") from err
        text = answer.content if hasattr(answer, "content") else answer
        label = repair_label(str(text))
        if not label:
            raise BackendResponseError("topic labels", f"no label in the answer {str(text)!r}")
        return label


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 3].rsplit(" ", 1)[0] + "..."
