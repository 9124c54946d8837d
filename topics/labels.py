"""Topic labels written by a chat model from a topic's keywords and representative documents.

The prompt has two slots, ``[KEYWORDS]`` and ``[DOCUMENTS]`` (:data:`LABEL_PROMPT`; pass your
own to :class:`TopicLabeler`). On llama.cpp the answer is decoded under a grammar: one line of
one to :data:`MAX_LABEL_WORDS` words, nothing else. Two grammars:

- ``words="grounded"`` (the default): every word of the label is one of the topic's keywords
  or a content word of its representative documents (:func:`grounded_grammar`). Measured on
  the embedded 135M model, the free grammar gave "The topic of these documents-the-s" for
  four topics of five; grounded, it gave "central bank raised interest", "crew mission
  rocket", "heat transfer heat flow".
- ``words="free"``: any words (:data:`LABEL_GRAMMAR`), for a model large enough to name a
  topic in words of its own ("electric vehicles" for "car, cars, ford").

Repeated words are dropped afterwards. A model without grammar support (an
OpenAI-compatible server) is asked the same and its answer repaired: first line, no
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
from typing import Any, Literal

from localchain.errors import BackendResponseError, ConfigError
from localchain.grammars import gbnf_literal
from localchain.models.capabilities import capabilities

__all__ = [
    "LABEL_GRAMMAR",
    "LABEL_PROMPT",
    "MAX_LABEL_WORDS",
    "MAX_VOCABULARY",
    "TopicLabeler",
    "grounded_grammar",
    "label_vocabulary",
    "repair_label",
]

MAX_LABEL_WORDS = 6
"""The longest label, in words."""

LABEL_GRAMMAR = (
    f'root ::= word (" " word){{0,{MAX_LABEL_WORDS - 1}}}\n'
    "word ::= [A-Za-z0-9] [A-Za-z0-9'-]{0,23}"
)
"""GBNF for one short line: words of letters, digits, hyphens and apostrophes, one space
apart."""

LABEL_PROMPT = """Documents:
[DOCUMENTS]
Keywords: [KEYWORDS]

What is the topic of these documents? Answer with a short noun phrase of two to four \
words, like "electric vehicles" or "heart surgery"."""
"""The default prompt; ``[KEYWORDS]`` becomes the keywords (comma-separated) and
``[DOCUMENTS]`` the representative documents (one ``- ...`` line each, shortened)."""

# A grammar with many alternatives costs time on every token: the label chooses from the
# keywords and at most this many words in all.
MAX_VOCABULARY = 40
"""The most words a grounded label chooses from."""
_CONTENT = re.compile(r"[a-z][a-z0-9'-]{2,}")


def label_vocabulary(keywords: Sequence[str], documents: Sequence[str]) -> list[str]:
    """The words a grounded label may use: the keywords, then the content words (three
    letters or more, not in scikit-learn's English stop words) of the documents,
    lower-cased, each once, at most ``MAX_VOCABULARY``.

    Example:
        >>> label_vocabulary(["Wing", "flutter"], ["The wing of a glider flutters."])
        ['wing', 'flutter', 'glider', 'flutters']
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = [w for k in keywords for w in _WORD.findall(k.lower())]
    words += [w for d in documents for w in _CONTENT.findall(d.lower())]
    kept = dict.fromkeys(w for w in words if w not in ENGLISH_STOP_WORDS)
    return list(kept)[:MAX_VOCABULARY]


def grounded_grammar(words: Sequence[str]) -> str:
    """GBNF for a label of one to :data:`MAX_LABEL_WORDS` of ``words``, one space apart.

    Example:
        >>> print(grounded_grammar(["wing", "flutter"]))
        root ::= w (" " w){0,5}
        w ::= "wing" | "flutter"
    """
    if not words:
        raise ValueError("a grounded label needs at least one word to choose from")
    choices = " | ".join(gbnf_literal(w) for w in words)
    return f'root ::= w (" " w){{0,{MAX_LABEL_WORDS - 1}}}\nw ::= {choices}'


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
        words = [w.strip("'-") for w in _WORD.findall(line)]
        words = [w for w in words if w]
        if words:
            return " ".join(words[:MAX_LABEL_WORDS])
    return ""


class TopicLabeler:
    """Asks a chat model for a topic's label; a grammar keeps it to one short line.

    ``prompt`` must hold ``[KEYWORDS]``, ``[DOCUMENTS]`` or both. Documents are cut to
    ``max_document_chars`` each, so a prompt fits a small context. Calls are greedy
    (``temperature=0``) unless ``temperature`` says otherwise. ``words``: ``"grounded"``
    (label words come from the keywords and documents) or ``"free"``; see the module.

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
        max_tokens: int = 24,
        temperature: float = 0.0,
        words: Literal["grounded", "free"] = "grounded",
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
        if words not in ("grounded", "free"):
            raise ValueError(f"words must be 'grounded' or 'free', got {words!r}")
        self.words = words
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
        vocabulary = label_vocabulary(keywords, documents)
        grounded = bool(self.grammar and self.words == "grounded" and vocabulary)
        if self.grammar:
            options["grammar"] = grounded_grammar(vocabulary) if grounded else LABEL_GRAMMAR
        try:
            answer = self.llm.invoke([("user", self.prompt_for(keywords, documents))], **options)
        except Exception as err:  # any backend's failure: the caller keeps the keyword label
            raise BackendResponseError("topic labels", f"{type(err).__name__}: {err}") from err
        text = answer.content if hasattr(answer, "content") else answer
        label = _once(repair_label(str(text)), vocabulary if grounded else None)
        if not label:
            raise BackendResponseError("topic labels", f"no label in the answer {str(text)!r}")
        return label


def _once(label: str, vocabulary: Sequence[str] | None) -> str:
    """``label`` with repeated words dropped (and, under the grounded grammar, a last word
    cut short by the token budget)."""
    words = label.split()
    if vocabulary is not None and words and words[-1].lower() not in vocabulary:
        words = words[:-1] if len(words) > 1 else words
    kept: list[str] = []
    for word in words:
        if not any(word.lower() == k.lower() for k in kept):
            kept.append(word)
    return " ".join(kept)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 3].rsplit(" ", 1)[0] + "..."
