"""Test doubles for the RAG chain tests: three film documents, a recording retriever and
scripted models (the shared ``fakes.ScriptedChat``)."""

from __future__ import annotations

from typing import Any

from fakes import ScriptedChat
from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda

FILMS = [
    Document(
        "Interstellar is a 2014 film directed by Christopher Nolan",
        id="d1",
        metadata={"source": "/kb/films.txt", "title": "films"},
    ),
    Document(
        "The film had a worldwide gross over $677 million",
        id="d2",
        metadata={"source": "/kb/films.txt", "title": "films"},
    ),
    Document(
        "Interstellar premiered on October 26, 2014, in Los Angeles",
        id="d3",
        metadata={"source": "/kb/premiere.txt", "title": "premiere"},
    ),
]


class Recorder:
    """A retriever stand-in that returns fixed documents and records the queries."""

    def __init__(self, docs: list[Document]) -> None:
        self.docs = docs
        self.queries: list[str] = []
        self.runnable = RunnableLambda(self._search, name="recorder")

    def _search(self, query: str) -> list[Document]:
        self.queries.append(query)
        return list(self.docs)


def fake(*responses: str) -> ScriptedChat:
    """A model that answers ``responses`` in turn, cycling; it streams in three-character
    pieces."""
    return ScriptedChat(replies=list(responses), after_last="cycle")


def never_called() -> ScriptedChat:
    """A model that fails the test if it is asked anything."""
    return ScriptedChat(replies=[AssertionError("the model must not be called")])


def retriever(docs: list[Document] = FILMS) -> Any:
    return Recorder(docs).runnable
