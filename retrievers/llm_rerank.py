"""A local LLM reranker: the GGUF chat model judges each (query, passage) pair under a grammar.

Pointwise: one model call per document, decoded under a GBNF grammar so the answer is
always parseable - ``"yes"``/``"no"`` (``method="yesno"``, scores 1.0 / 0.0; ties keep the
base retriever's order, so the reranker lifts the "yes" documents) or an integer 0-10
(``method="score"``, divided by 10). Calls go through the chat model's lock like every
other use of the model, so reranking from several threads queues rather than crashes.

Measured with the embedded SmolLM2-135M-Instruct (docs/retrievers.md, "Reranking"): its
judgments are close to noise - on the book's 15 Interstellar chunks it said "yes" to most
passages and rated every one 10/10 - so this reranker does not beat hybrid search with
the default model. It is here for larger GGUF models (``model_path=...``), which judge
relevance far better; it costs about one second per document with the embedded model.

Example:
    >>> from langchain_core.documents import Document
    >>> reranker = LLMReranker()                        # the embedded model, greedy
    >>> docs = [Document("Paris is the capital of France."), Document("Cats purr.")]
    >>> [d.metadata["score"] for d in reranker.rerank("capital of France", docs)]  # doctest: +SKIP
    [1.0, 0.0]
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from pydantic import Field, PrivateAttr

from localchain.errors import BackendResponseError, ConfigError
from localchain.models.capabilities import capabilities
from localchain.retrievers.rerank import Reranker

__all__ = ["SCORE_GRAMMAR", "YES_NO_GRAMMAR", "LLMReranker"]

YES_NO_GRAMMAR = 'root ::= "yes" | "no"'
SCORE_GRAMMAR = 'root ::= [0-9] | "10"'

_SYSTEM = "You judge whether a passage answers a search question."
_ASK = {
    "yesno": "Can the question be answered from the passage alone? Reply yes or no.",
    "score": (
        "How well does the passage answer the question, from 0 (not at all) to 10 "
        "(fully)? Reply with the number."
    ),
}


class LLMReranker(Reranker):
    """Pointwise relevance from a chat model decoding under a yes/no or 0-10 grammar.

    ``llm`` is any LangChain chat model that decodes under a per-call ``grammar=`` (a
    :class:`~localchain.models.LlamaCppChat`, or any model whose
    :func:`~localchain.models.capabilities.capabilities` say so; another model is a
    ConfigError at :meth:`warm_up`); ``None`` loads the embedded model greedily on first use. Passages are cut to ``max_passage_chars`` so a prompt always fits.

    Example:
        >>> reranker = LLMReranker(method="score", max_passage_chars=800)
        >>> reranker.method
        'score'
    """

    llm: Any = None
    """The judge: a chat model accepting ``grammar=`` per call; ``None`` = embedded model."""
    method: Literal["yesno", "score"] = "yesno"
    """``yesno`` (1.0 / 0.0) or ``score`` (0-10, divided by 10)."""
    max_passage_chars: int = Field(default=1200, ge=50)
    """Longer passages are cut (the judge's context is small)."""

    _judge: BaseChatModel | None = PrivateAttr(default=None)
    _load_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def warm_up(self) -> None:
        """Load the judge model now (otherwise the first rerank does)."""
        if self._judge is not None:
            return
        with self._load_lock:
            if self._judge is None:
                if self.llm is None:
                    from localchain.models import LlamaCppChat

                    self._judge = LlamaCppChat(temperature=0, max_tokens=4, n_ctx=2048)
                else:
                    if not capabilities(self.llm).grammar:
                        raise ConfigError(
                            f"LLMReranker needs a chat model that decodes under a grammar "
                            f"(LlamaCppChat); {type(self.llm).__name__} has none, so its "
                            "answers could not be read as yes/no or 0-10"
                        )
                    self._judge = self.llm

    def prompt(self, query: str, passage: str) -> list[tuple[str, str]]:
        """The messages the judge sees for one pair."""
        text = passage[: self.max_passage_chars]
        return [
            ("system", _SYSTEM),
            ("user", f"Passage: {text}\n\nQuestion: {query}\n\n{_ASK[self.method]}"),
        ]

    def judge(self, query: str, passage: str) -> float:
        """The score of one pair, in [0, 1]."""
        self.warm_up()
        assert self._judge is not None
        grammar = YES_NO_GRAMMAR if self.method == "yesno" else SCORE_GRAMMAR
        try:
            answer = self._judge.invoke(
                self.prompt(query, passage), grammar=grammar, max_tokens=3, temperature=0
            )
        except Exception as err:
            raise BackendResponseError("LLMReranker", f"{type(err).__name__}: {err}") from err
        text = str(answer.content).strip().lower()
        if self.method == "yesno":
            if text not in ("yes", "no"):
                raise BackendResponseError("LLMReranker", f"expected yes or no, got {text!r}")
            return 1.0 if text == "yes" else 0.0
        if not text.isdigit() or int(text) > 10:
            raise BackendResponseError("LLMReranker", f"expected a number 0-10, got {text!r}")
        return int(text) / 10

    def score(self, query: str, documents: Sequence[Document]) -> list[float]:
        """The scores of the documents, in order; a judge that decodes several calls
        together (``n_parallel``) scores that many passages at once."""
        self.warm_up()
        parallel = min(capabilities(self._judge).parallel, len(documents))
        if parallel <= 1:
            return [self.judge(query, d.page_content) for d in documents]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="rerank") as pool:
            return list(pool.map(lambda d: self.judge(query, d.page_content), documents))
