"""Routing a question to a source, by a scripted model or by embeddings
(localchain.chains.rag_route)."""

from __future__ import annotations

import doctest

import pytest
from langchain_core.embeddings import Embeddings
from langchain_core.runnables import RunnableLambda
from rag_fakes import FILMS, fake

import localchain.chains.rag_route
from localchain.chains import RouterRetriever, embedding_router, query_router
from localchain.errors import RouteError
from localchain.retrievers import BM25Retriever


def test_router_picks_a_named_route() -> None:
    routes = {"movies": "films and actors", "cooking": "recipes"}
    assert query_router(fake("I think cooking."), routes).invoke("How to bake bread?") == "cooking"
    assert query_router(fake("no idea"), routes, default="movies").invoke("?") == "movies"
    with pytest.raises(RouteError) as caught:
        query_router(fake("no idea"), routes).invoke("?")
    assert caught.value.routes == ["movies", "cooking"]
    with pytest.raises(ValueError):
        query_router(fake("x"), {})
    with pytest.raises(ValueError):
        query_router(fake("x"), routes, default="sports")


def test_router_retriever_searches_the_chosen_source() -> None:
    movies = BM25Retriever.from_documents(FILMS, k=1)
    recipes = BM25Retriever.from_texts(["Knead the bread dough for ten minutes"], k=1)
    router = RouterRetriever(
        retrievers={"movies": movies, "cooking": recipes},
        descriptions={"movies": "films", "cooking": "recipes"},
        llm=fake("movies"),
    )
    docs = router.invoke("Who directed Interstellar")
    assert docs[0].id == "d1" and docs[0].metadata["route"] == "movies"
    scripted = RouterRetriever(
        retrievers={"movies": movies, "cooking": recipes},
        router=RunnableLambda(lambda q: "cooking"),
    )
    assert scripted.invoke("bread dough")[0].metadata["route"] == "cooking"
    with pytest.raises(ValueError, match="unknown routes"):
        RouterRetriever(retrievers={"movies": movies}, descriptions={"x": "y"}, llm=fake("x"))


def test_embedding_router_and_router_retriever_with_embeddings() -> None:
    class KeywordEmbeddings(Embeddings):
        """Two dimensions: film words and cooking words."""

        def embed_query(self, text: str) -> list[float]:
            words = text.lower().replace(",", " ").replace("?", " ").replace(":", " ").split()
            film = sum(w in {"films", "film", "actors", "directed", "movies"} for w in words)
            food = sum(w in {"recipes", "bake", "bread", "cooking"} for w in words)
            return [float(film), float(food)]

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [self.embed_query(t) for t in texts]

    routes = {"movies": "films, actors", "cooking": "recipes"}
    router = embedding_router(routes, KeywordEmbeddings())
    assert router.invoke("Who directed the film?") == "movies"
    assert router.invoke({"question": "How to bake bread?"}) == "cooking"
    strict = embedding_router(routes, KeywordEmbeddings(), min_similarity=0.5, default="movies")
    assert strict.invoke("What is the mass of the moon?") == "movies"
    with pytest.raises(RouteError):
        embedding_router(routes, KeywordEmbeddings(), min_similarity=0.5).invoke("moon?")
    movies = BM25Retriever.from_documents(FILMS, k=1)
    recipes = BM25Retriever.from_texts(["Bake the bread dough for forty minutes"], k=1)
    by_meaning = RouterRetriever(
        retrievers={"movies": movies, "cooking": recipes},
        descriptions=routes,
        embeddings=KeywordEmbeddings(),
    )
    assert by_meaning.invoke("bake bread")[0].metadata["route"] == "cooking"
    with pytest.raises(ValueError, match="llm=, embeddings= or router="):
        RouterRetriever(retrievers={"movies": movies})


def test_docstring_examples() -> None:
    result = doctest.testmod(localchain.chains.rag_route, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
