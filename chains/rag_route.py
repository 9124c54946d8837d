"""Query routing from the book: choose the data source to search for a question.

:class:`RouterRetriever` holds named retrievers and searches the one chosen for each
question: by the model (:func:`query_router`; on llama.cpp decoded under a grammar that
allows only the route names, so the answer is always a valid name) or by the embeddings, as
the route whose description is most similar to the question (:func:`embedding_router`). On
the embedded 135M model the model's choice is at chance; the embeddings' is not.

Example:
    >>> from localchain.chains import RouterRetriever
    >>> router = RouterRetriever(retrievers={"movies": films, "cooking": recipes},
    ...                          descriptions={"movies": "films and actors",
    ...                                        "cooking": "recipes"},
    ...                          embeddings=embeddings)                       # doctest: +SKIP
    >>> router.invoke("How long should I bake bread?")[0].metadata["route"]  # doctest: +SKIP
    'cooking'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseLanguageModel
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import ConfigDict, Field, model_validator

from localchain.chains.rag_query import _generate, _question
from localchain.errors import RouteError
from localchain.grammars import gbnf_literal

__all__ = ["ROUTE_PROMPT", "RouterRetriever", "embedding_router", "query_router"]

ROUTE_PROMPT = (
    "Choose the data source that can answer the question.\n\n{routes}\n\n"
    "Question: {question}\n\nReply with the name of the data source only."
)
"""Question + named data sources -> a route name."""


def query_router(
    llm: BaseLanguageModel, routes: Mapping[str, str], *, default: str | None = None
) -> Runnable[Any, str]:
    """A Runnable from a question to the name of the route (data source) to search.

    ``routes`` maps each name to a description the model reads. On llama.cpp the answer is
    decoded under a grammar that allows only the names; other models' answers are read for
    the first name they mention, else ``default`` (else :class:`~localchain.errors.RouteError`).

    Example:
        >>> router = query_router(llm, {"movies": "films, actors, box office",
        ...                             "cooking": "recipes and ingredients"})  # doctest: +SKIP
        >>> router.invoke("Who directed Interstellar?")                    # doctest: +SKIP
        'movies'
    """
    names = list(routes)
    if not names:
        raise ValueError("give at least one route")
    for name in names:
        if not name.strip() or "\n" in name:
            raise ValueError(f"a route name must be one non-empty line, got {name!r}")
    if default is not None and default not in routes:
        raise ValueError(f"default {default!r} is not a route ({', '.join(names)})")
    grammar = "root ::= " + " | ".join(gbnf_literal(n) for n in names)
    listing = "\n".join(f"- {name}: {routes[name]}" for name in names)
    generate = _generate(llm, ROUTE_PROMPT, grammar, "choose_route")

    def choose(text: str) -> str:
        return _route_in(text, names, default)

    return (
        RunnableLambda(lambda value: {**_question(value), "routes": listing}, name="inputs")
        | generate
        | RunnableLambda(choose, name="route_name")
    ).with_config(run_name="query_router")


def embedding_router(
    routes: Mapping[str, str],
    embeddings: Embeddings | None = None,
    *,
    min_similarity: float | None = None,
    default: str | None = None,
) -> Runnable[Any, str]:
    """A Runnable from a question to the route whose description is most similar to it
    (cosine of embeddings: no generation, so it works as well on the embedded setup as the
    embedding model does).

    Measured with the bundled all-MiniLM-L6-v2 on "movies: films, actors, directors and box
    office" vs "cooking: recipes, ingredients and baking": 8 of 8 clear questions routed
    right, where the 135M chat model under a route-name grammar got 4 of 8 (chance).

    Args:
        routes: Name -> description of what the data source holds.
        embeddings: Any LangChain ``Embeddings`` (default: the bundled MiniLM).
        min_similarity: Below this best cosine, answer ``default`` (or raise RouteError).
        default: The route for questions no description is similar enough to.

    Example:
        >>> router = embedding_router({"movies": "films, actors, directors and box office",
        ...                            "cooking": "recipes, ingredients and baking"})  # doctest: +SKIP
        >>> router.invoke("How long should I bake bread?")                 # doctest: +SKIP
        'cooking'
    """
    names = list(routes)
    if not names:
        raise ValueError("give at least one route")
    if default is not None and default not in routes:
        raise ValueError(f"default {default!r} is not a route ({', '.join(names)})")
    vectors: list[list[float]] = []

    def choose(question: Any) -> str:
        nonlocal embeddings
        text = _question(question)["question"]
        if embeddings is None:
            from localchain.retrievers.embeddings import default_embeddings

            embeddings = default_embeddings()
        if not vectors:
            vectors.extend(embeddings.embed_documents([f"{n}: {routes[n]}" for n in names]))
        query = embeddings.embed_query(text)
        scores = [_cosine(query, vector) for vector in vectors]
        best = max(range(len(names)), key=lambda i: scores[i])
        if min_similarity is not None and scores[best] < min_similarity:
            if default is not None:
                return default
            raise RouteError(f"(best similarity {scores[best]:.3f} < {min_similarity})", names)
        return names[best]

    return RunnableLambda(choose, name="embedding_router")


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = (sum(x * x for x in a) * sum(y * y for y in b)) ** 0.5
    return dot / norm if norm else 0.0


def _route_in(text: str, names: list[str], default: str | None) -> str:
    if text.strip() in names:
        return text.strip()
    lowered = text.lower()
    positions = [(lowered.find(n.lower()), n) for n in names if n.lower() in lowered]
    if positions:
        return min(positions)[1]
    if default is not None:
        return default
    raise RouteError(text, names)


class RouterRetriever(BaseRetriever):
    """Choose a named retriever for each question, then search it.

    The chosen name is in every result's ``metadata["route"]``.

    Example:
        >>> router = RouterRetriever(
        ...     retrievers={"movies": movies_bm25, "cooking": recipes_bm25},
        ...     descriptions={"movies": "films, actors, box office",
        ...                   "cooking": "recipes and ingredients"},
        ...     llm=llm)                                                     # doctest: +SKIP
        >>> router.invoke("Who directed Interstellar?")[0].metadata["route"]  # doctest: +SKIP
        'movies'
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retrievers: dict[str, Runnable[str, list[Document]]]
    """The data sources by name."""
    descriptions: dict[str, str] = Field(default_factory=dict)
    """What each data source holds, for the model (default: its name)."""
    llm: BaseLanguageModel | None = None
    """The model that chooses (:func:`query_router`)."""
    embeddings: Embeddings | None = None
    """Choose by similarity to the descriptions instead (:func:`embedding_router`); more
    reliable than a small chat model."""
    router: Runnable[Any, str] | None = None
    """Question -> route name; overrides ``llm`` and ``embeddings``."""
    default: str | None = None
    """The route when a model's answer names none (models without grammar support)."""

    @model_validator(mode="after")
    def _check_routes(self) -> RouterRetriever:
        if not self.retrievers:
            raise ValueError("give at least one retriever")
        unknown = set(self.descriptions) - set(self.retrievers)
        if unknown:
            raise ValueError(f"descriptions for unknown routes: {sorted(unknown)}")
        if self.router is None:
            routes = {name: self.descriptions.get(name, name) for name in self.retrievers}
            if self.embeddings is not None:
                self.router = embedding_router(routes, self.embeddings, default=self.default)
            elif self.llm is not None:
                self.router = query_router(self.llm, routes, default=self.default)
            else:
                raise ValueError("give llm=, embeddings= or router= to choose the route")
        return self

    def route(self, question: str, config: Any = None) -> str:
        """The name of the retriever chosen for ``question``."""
        assert self.router is not None
        name = self.router.invoke(question, config)
        if name not in self.retrievers:
            if self.default is not None:
                return self.default
            raise RouteError(str(name), list(self.retrievers))
        return str(name)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        config = {"callbacks": run_manager.get_child()}
        name = self.route(query, config)
        return [
            doc.model_copy(update={"metadata": {**doc.metadata, "route": name}})
            for doc in self.retrievers[name].invoke(query, config)
        ]
