"""Advanced RAG from the book: rewrite, split and chain the search before answering.

- :func:`query_rewriter` turns a chat message (or a follow-up with its chat history) into a
  search query: "I want to know where dolphins live, I saw one..." -> "Where do dolphins live".
- :class:`MultiQueryRetriever` splits a question into sub-queries (a comparison becomes two
  searches), retrieves for each and fuses the rankings with reciprocal rank fusion
  (:func:`localchain.retrievers.hybrid.reciprocal_rank_fusion`).
- :class:`MultiHopRetriever` searches, asks the model what is still missing, and searches
  again on what was found.

Routing between data sources is in :mod:`localchain.chains.rag_route`.

Each is a Runnable or a LangChain ``BaseRetriever``, so it plugs into :func:`.rag_chain` (or
anything else that takes a retriever). The model steps are Runnables from text to text, so
a scripted fake model drives the logic in tests.

Example:
    >>> from localchain.chains import rag_chain
    >>> from localchain.chains.rag_query import MultiQueryRetriever
    >>> multi = MultiQueryRetriever(retriever=movies, llm=llm)               # doctest: +SKIP
    >>> rag_chain(multi, llm).invoke("Compare the budgets of Tenet and Dunkirk")  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.language_models import BaseLanguageModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import ConfigDict, Field, model_validator

from localchain.chains.rag import supports_grammar
from localchain.errors import ChainInputError
from localchain.retrievers.hybrid import reciprocal_rank_fusion
from localchain.text import book_tokenize

__all__ = [
    "CONDENSE_PROMPT",
    "MULTI_HOP_PROMPT",
    "MULTI_QUERY_PROMPT",
    "REWRITE_PROMPT",
    "MultiHopRetriever",
    "MultiQueryRetriever",
    "checked_query",
    "follow_up_query",
    "keyword_query",
    "query_rewriter",
    "sub_queries",
]

REWRITE_PROMPT = (
    "Rewrite the message below as one short search query that finds the answer in a "
    "search engine. Reply with the query only.\n\nMessage: {question}"
)
"""Chat message -> search query (no history)."""

CONDENSE_PROMPT = (
    "Conversation:\n{chat_history}\n\nFollow-up message: {question}\n\n"
    "Rewrite the follow-up message as one short, standalone search query: replace words "
    "such as it, they or that with what they refer to in the conversation. Reply with the "
    "query only."
)
"""Follow-up message + chat history -> standalone search query."""

MULTI_QUERY_PROMPT = (
    "Split the question below into at most {n} short search queries, one per line, each "
    "about one thing the answer needs. Reply with the queries only.\n\nQuestion: {question}"
)
"""Question -> sub-queries, one per line."""

MULTI_HOP_PROMPT = (
    "Question: {question}\n\nFound so far:\n{found}\n\nWrite one short search query for the "
    "information still needed to answer the question, using names found above. Reply with "
    "the query only."
)
"""Question + what the first search found -> the next search query."""

_LINE_GRAMMAR = "root ::= [^\\n]{1,120}"
# A reply to the user, not a query: small models apologise or offer help instead.
_CHAT_REPLY = re.compile(
    r"^\W*(?:i'?m sorry|i am sorry|sorry\b|i apologi[sz]e|i can(?:not|'t)? help|"
    r"i'?d be happy|as an ai|sure\b|certainly\b|of course\b)",
    re.IGNORECASE,
)


def _line_grammar(lines: int = 1) -> str:
    """One to ``lines`` non-empty lines of at most 120 characters."""
    if lines == 1:
        return _LINE_GRAMMAR
    return f'root ::= line ("\\n" line){{0,{lines - 1}}}\nline ::= [^\\n]{{1,120}}'


def _generate(
    llm: BaseLanguageModel, template: str, grammar: str | None, name: str
) -> Runnable[dict[str, Any], str]:
    """prompt | llm (under ``grammar`` on llama.cpp) | text, stripped."""
    model: Runnable[Any, Any] = llm
    if grammar is not None and supports_grammar(llm):
        model = llm.bind(grammar=grammar)
    prompt = ChatPromptTemplate.from_messages([("human", template)])
    return (prompt | model | StrOutputParser() | RunnableLambda(str.strip)).with_config(
        run_name=name
    )


def _question(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"question": value, "chat_history": ""}
    if isinstance(value, Mapping) and isinstance(value.get("question"), str):
        return {"chat_history": "", **value}
    raise ChainInputError("query", "expects a question string or a dict with 'question'")


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = re.sub(
            r"^\s*(search query|standalone query|query)\s*:", "", line, flags=re.IGNORECASE
        )
        line = line.strip().strip("\"'").strip()
        if line:
            return line
    return ""


def keyword_query(text: str) -> str:
    """The content words of ``text``, in order, without repeats: a search query that needs no
    model (the book's BM25 tokenizer: lowercase, no stop words or punctuation).

    Example:
        >>> keyword_query("I saw a dolphin on holiday - where do dolphins live?")
        'saw dolphin holiday dolphins live'
    """
    return " ".join(dict.fromkeys(book_tokenize(text)))


def _words(text: str) -> set[str]:
    """Whole content words (plural "s" removed): stricter than the citation check's
    five-letter stems, under which "internet" would match "Interstellar"."""
    return {
        w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
        for w in book_tokenize(text)
    }


def _last_human(chat_history: str) -> str:
    """The text of the last human message in a ``Human: ...`` / ``AI: ...`` transcript."""
    messages = re.split(r"^(?=(?:Human|AI|System):)", chat_history, flags=re.MULTILINE)
    human = [m for m in messages if m.startswith("Human:")]
    return human[-1].removeprefix("Human:") if human else chat_history


def checked_query(value: Mapping[str, Any], rewrite: str) -> str:
    """The rewrite if it is a usable search query for ``value``, else one built without it.

    Usable: one line (the first non-empty one, without a "Search query:" label or quotes),
    not a reply to the user ("I'm sorry...", "Sure, ..."), that shares a content word with
    the message, and - when there is a chat history - also a
    content word with the conversation that the message does not already have (the follow-up
    was actually resolved). Otherwise the fallback is :func:`keyword_query` of the message,
    plus, with a history, the content words of the user's previous message (what the
    conversation is about; the model's answer is left out, as a small model's answers drift):
    "When did it premiere?" after "Who directed Interstellar?" searches for
    "did premiere directed interstellar".

    Example:
        >>> history = "Human: Who directed Interstellar?\\nAI: Christopher Nolan."
        >>> checked_query({"question": "When did it premiere?", "chat_history": history},
        ...               "When did it premiere?")
        'did premiere directed interstellar'
        >>> checked_query({"question": "When did it premiere?", "chat_history": history},
        ...               "Search query: Interstellar premiere date")
        'Interstellar premiere date'
    """
    question = str(value["question"])
    history = str(value.get("chat_history") or "")
    line = _first_line(rewrite)
    terms = _words(line)
    asked = _words(question)
    ok = bool(line) and len(line.split()) <= 32 and (not asked or bool(terms & asked))
    ok = ok and not _CHAT_REPLY.match(line)
    if ok and history.strip():
        ok = bool(terms & (_words(history) - asked))
    if ok:
        return line
    if not history.strip():
        return keyword_query(question) or question
    words = book_tokenize(question) + book_tokenize(_last_human(history))
    return " ".join(dict.fromkeys(words))[:300] or question


def query_rewriter(llm: BaseLanguageModel, *, first: bool = True) -> Runnable[Any, str]:
    """A Runnable from a chat message (or ``{"question", "chat_history"}``) to a search query.

    With a non-empty ``chat_history`` the follow-up is rewritten as a standalone query
    (:data:`CONDENSE_PROMPT`), else the message is shortened (:data:`REWRITE_PROMPT`; with
    ``first=False`` it is searched as asked, without a model call). On
    llama.cpp the query is decoded as one line. Every rewrite goes through
    :func:`checked_query`, which replaces an unusable one (a refusal, a copy of the
    conversation, an unresolved "it") with a query built from the words themselves; on the
    embedded 135M model that fallback is what usually runs.

    Example:
        >>> rewrite = query_rewriter(llm)                                  # doctest: +SKIP
        >>> rewrite.invoke("I saw a dolphin on holiday. Where do they live?")  # doctest: +SKIP
        'Where do dolphins live'
    """
    plain = _generate(llm, REWRITE_PROMPT, _LINE_GRAMMAR, "rewrite_query")
    condense = _generate(llm, CONDENSE_PROMPT, _LINE_GRAMMAR, "condense_query")

    def pick(value: dict[str, Any]) -> Runnable[dict[str, Any], str] | None:
        if str(value.get("chat_history") or "").strip():
            return condense
        return plain if first else None

    def run(value: Any, config: Any) -> str:
        data = _question(value)
        model = pick(data)
        if model is None:
            return data["question"]
        return checked_query(data, model.invoke(data, config))

    async def arun(value: Any, config: Any) -> str:
        data = _question(value)
        model = pick(data)
        if model is None:
            return data["question"]
        return checked_query(data, await model.ainvoke(data, config))

    return RunnableLambda(run, afunc=arun, name="query_rewriter")


def sub_queries(llm: BaseLanguageModel, n: int = 3) -> Runnable[Any, list[str]]:
    """A Runnable from a question to at most ``n`` sub-queries (one per line of the answer;
    duplicates, empty lines and lines sharing no content word with the question removed;
    on llama.cpp decoded as at most ``n`` lines).

    Example:
        >>> sub_queries(llm, n=2).invoke("Is Tenet longer than Dunkirk?")  # doctest: +SKIP
        ['Tenet running time', 'Dunkirk running time']
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    generate = _generate(llm, MULTI_QUERY_PROMPT, _line_grammar(n), "sub_queries")

    def split(value: dict[str, Any], text: str) -> list[str]:
        asked = _words(value["question"])
        queries: list[str] = []
        for line in text.splitlines():
            line = re.sub(r"^\s*(?:[-*]|\d+[.)])\s*", "", line).strip().strip("\"'").strip()
            # A line about none of the question's words is noise (small models echo the
            # prompt or invent topics); it would only pull unrelated documents in.
            if not line or (asked and not _words(line) & asked):
                continue
            if line.lower() not in {q.lower() for q in queries}:
                queries.append(line)
        return queries[:n]

    def run(value: Any, config: Any) -> list[str]:
        data = {**_question(value), "n": n}
        return split(data, generate.invoke(data, config))

    async def arun(value: Any, config: Any) -> list[str]:
        data = {**_question(value), "n": n}
        return split(data, await generate.ainvoke(data, config))

    return RunnableLambda(run, afunc=arun, name="sub_queries")


def follow_up_query(llm: BaseLanguageModel) -> Runnable[dict[str, Any], str]:
    """A Runnable from ``{"question", "found"}`` (text of what was found) to the next
    search query, for :class:`MultiHopRetriever`.

    Example:
        >>> follow_up_query(llm).invoke({"question": "Where was the director of "
        ...     "Interstellar born?", "found": "Interstellar was directed by Christopher "
        ...     "Nolan."})                                                # doctest: +SKIP
        'Christopher Nolan birthplace'
    """
    return _generate(llm, MULTI_HOP_PROMPT, _LINE_GRAMMAR, "follow_up_query") | RunnableLambda(
        _first_line
    )


class MultiQueryRetriever(BaseRetriever):
    """Split the question into sub-queries, retrieve for each, fuse with RRF.

    Each fused Document has ``metadata["queries"]``, the searches that found it, and
    ``metadata["fusion"]``, its rank for each of them.

    Example:
        >>> multi = MultiQueryRetriever(retriever=bm25, llm=llm, n_queries=2)  # doctest: +SKIP
        >>> multi.invoke("Compare the budgets of Tenet and Dunkirk")         # doctest: +SKIP
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Runnable[str, list[Document]]
    """The retriever asked once per sub-query."""
    llm: BaseLanguageModel | None = None
    """The model that writes the sub-queries (not needed when ``generator`` is given)."""
    generator: Runnable[Any, list[str]] | None = None
    """Question -> sub-queries; default :func:`sub_queries` on ``llm``."""
    n_queries: int = Field(3, ge=1)
    """Most sub-queries the model may write."""
    include_original: bool = True
    """Also search for the question itself (a sub-query list that misses it loses nothing)."""
    k: int = Field(4, ge=1)
    """Documents returned after fusion."""
    rank_constant: float = Field(60.0, ge=0)
    """RRF's rank constant (see :func:`~localchain.retrievers.hybrid.reciprocal_rank_fusion`)."""

    @model_validator(mode="after")
    def _need_a_generator(self) -> MultiQueryRetriever:
        if self.generator is None:
            if self.llm is None:
                raise ValueError("give llm= (or generator=) to write the sub-queries")
            self.generator = sub_queries(self.llm, self.n_queries)
        return self

    def queries(self, question: str, config: Any = None) -> list[str]:
        """The searches run for ``question``: the sub-queries (and the question)."""
        assert self.generator is not None
        generated = [q for q in self.generator.invoke(question, config) if q.strip()]
        queries = ([question] if self.include_original else []) + generated
        unique: list[str] = []
        for query in queries:
            if query.lower() not in {q.lower() for q in unique}:
                unique.append(query)
        return unique or [question]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        config = {"callbacks": run_manager.get_child()}
        queries = self.queries(query, config)
        rankings = self.retriever.batch(queries, config)
        fused = reciprocal_rank_fusion(
            dict(zip(queries, rankings)), rank_constant=self.rank_constant
        )[: self.k]
        for doc in fused:
            doc.metadata["queries"] = list(doc.metadata["fusion"])
        return fused


class MultiHopRetriever(BaseRetriever):
    """Search, then search again for what the first results say is still missing.

    Each hop after the first asks ``follow_up`` for a query, given the question and the
    text found so far; the search stops early when the follow-up is empty, repeats an
    earlier query, or finds nothing new. Results are the hops' documents in hop order,
    without repeats, each with ``metadata["hop"]`` (1-based) and ``metadata["hop_query"]``.
    A follow-up sharing no content word with the question or the findings also stops it.

    Example:
        >>> hops = MultiHopRetriever(retriever=bm25, llm=llm, hops=2)       # doctest: +SKIP
        >>> hops.invoke("Where was the director of Interstellar born?")     # doctest: +SKIP
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Runnable[str, list[Document]]
    """The retriever asked at every hop."""
    llm: BaseLanguageModel | None = None
    """The model that writes follow-up queries (not needed when ``follow_up`` is given)."""
    follow_up: Runnable[dict[str, Any], str] | None = None
    """``{"question", "found"}`` -> next query; default :func:`follow_up_query` on ``llm``."""
    hops: int = Field(2, ge=1)
    """Most searches (the budget of the loop)."""
    k_per_hop: int = Field(2, ge=1)
    """Documents kept from each hop."""

    @model_validator(mode="after")
    def _need_a_follow_up(self) -> MultiHopRetriever:
        if self.follow_up is None:
            if self.llm is None:
                raise ValueError("give llm= (or follow_up=) to write the follow-up queries")
            self.follow_up = follow_up_query(self.llm)
        return self

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        assert self.follow_up is not None
        config = {"callbacks": run_manager.get_child()}
        found: list[Document] = []
        seen: set[str] = set()
        asked: list[str] = []
        next_query = query
        for hop in range(1, self.hops + 1):
            asked.append(next_query)
            new = []
            for doc in self.retriever.invoke(next_query, config):
                key = doc.id or doc.page_content
                if key not in seen:
                    seen.add(key)
                    new.append(
                        doc.model_copy(
                            update={
                                "metadata": {**doc.metadata, "hop": hop, "hop_query": next_query}
                            }
                        )
                    )
            found.extend(new[: self.k_per_hop])
            if not new or hop == self.hops:
                break
            text = "\n".join(f"- {' '.join(d.page_content.split())}" for d in found)
            next_query = self.follow_up.invoke({"question": query, "found": text}, config)
            next_query = " ".join(str(next_query).split())
            if not next_query or next_query.lower() in {q.lower() for q in asked}:
                break
            # A query about nothing in the question or the findings is a model's wandering.
            if not _words(next_query) & _words(f"{query} {text}"):
                break
        return found
