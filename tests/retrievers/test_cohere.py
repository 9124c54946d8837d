"""Cohere embeddings and rerank: contract tests against recorded v2 response shapes, and every
failure path. No network: the client is a stand-in that returns what the API returned."""

from __future__ import annotations

import json
import sys
import types

import pytest
from langchain_core.documents import Document
from pydantic import BaseModel, Field

from localchain.errors import (
    BackendConnectionError,
    BackendResponseError,
    ConfigError,
    MissingDependencyError,
)
from localchain.retrievers.cohere_api import CohereEmbeddings, CohereReranker
from localchain.retrievers.embeddings import embedding_identity
from localchain.retrievers.faiss_store import FaissStore

# Shapes of Cohere's v2 /embed and /rerank answers (ids and vectors shortened).
RECORDED_EMBED = json.loads("""{
  "id": "5807ee2e-0cda-445a-9ec8-864c60a06606",
  "embeddings": {"float": [[0.0119, -0.0241, 0.0617], [-0.0402, 0.0154, 0.0023]]},
  "texts": ["It has also received praise from many astronomers", "Kip Thorne"],
  "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": 11}},
  "response_type": "embeddings_by_type"
}""")
RECORDED_RERANK = json.loads("""{
  "id": "07734bd2-2473-4f07-94e1-0d9f0e6843cf",
  "results": [
    {"index": 2, "relevance_score": 0.17},
    {"index": 0, "relevance_score": 0.0013},
    {"index": 1, "relevance_score": 0.0009}
  ],
  "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}}
}""")


class Recorder:
    """Answers like cohere.ClientV2 and keeps the requests."""

    def __init__(self, embed=None, rerank=None, error: Exception | None = None) -> None:
        self.requests: list[tuple[str, dict]] = []
        self._embed, self._rerank, self._error = embed, rerank, error

    def embed(self, **request):
        self.requests.append(("embed", request))
        if self._error:
            raise self._error
        if callable(self._embed):
            return self._embed(request)
        return self._embed

    def rerank(self, **request):
        self.requests.append(("rerank", request))
        if self._error:
            raise self._error
        return self._rerank


class HTTPError(Exception):
    """What the SDK raises for an HTTP error: status_code and body attributes."""

    def __init__(self, status_code: int, body: dict) -> None:
        super().__init__(f"status_code: {status_code}, body: {body}")
        self.status_code, self.body = status_code, body


def test_embed_documents_contract() -> None:
    client = Recorder(embed=RECORDED_EMBED)
    emb = CohereEmbeddings(client=client, model="embed-english-v3.0")
    vectors = emb.embed_documents(RECORDED_EMBED["texts"])
    assert vectors == RECORDED_EMBED["embeddings"]["float"]
    method, request = client.requests[0]
    assert method == "embed"
    assert request == {
        "texts": RECORDED_EMBED["texts"],
        "model": "embed-english-v3.0",
        "input_type": "search_document",
        "embedding_types": ["float"],
        "truncate": "END",
    }


def test_embed_query_uses_search_query_input_type() -> None:
    one = {**RECORDED_EMBED, "embeddings": {"float": [[0.1, 0.2, 0.3]]}}
    client = Recorder(embed=one)
    assert CohereEmbeddings(client=client).embed_query("how precise") == [0.1, 0.2, 0.3]
    assert client.requests[0][1]["input_type"] == "search_query"


def test_documents_go_in_batches_of_96() -> None:
    client = Recorder(embed=lambda r: {"embeddings": {"float": [[1.0, 0.0]] * len(r["texts"])}})
    vectors = CohereEmbeddings(client=client).embed_documents([f"t{i}" for i in range(200)])
    assert len(vectors) == 200
    assert [len(r["texts"]) for _, r in client.requests] == [96, 96, 8]


def test_sdk_response_objects_are_read_by_alias() -> None:
    class Floats(BaseModel):
        float_: list[list[float]] = Field(alias="float")

    class Response(BaseModel):
        embeddings: Floats

    sdk_like = Response.model_validate({"embeddings": {"float": [[0.5, 0.5]]}})
    assert CohereEmbeddings(client=Recorder(embed=sdk_like)).embed_query("q") == [0.5, 0.5]


def test_identity_and_store_use() -> None:
    client = Recorder(
        embed=lambda r: {"embeddings": {"float": [[1.0, 0.0, 0.0]] * len(r["texts"])}}
    )
    emb = CohereEmbeddings(client=client, model="embed-v9")  # unknown model: measured
    assert embedding_identity(emb) == ("cohere/embed-v9", 3)
    assert CohereEmbeddings(client=client).dimension == 1024  # known: no request
    store = FaissStore.from_texts(["a", "b"], emb)
    assert len(store.similarity_search("a", k=2)) == 2


def test_rerank_contract_book_shortlist() -> None:
    client = Recorder(rerank=RECORDED_RERANK)
    docs = [
        Document("Interstellar is a 2014 epic", id="epic"),
        Document("Kip Thorne", id="kip"),
        Document("praise from many astronomers", id="astro"),
    ]
    hits = CohereReranker(client=client).rerank("how precise was the science", docs)
    assert [h.id for h in hits] == ["astro", "epic", "kip"]
    assert hits[0].metadata["score"] == 0.17 and hits[0].metadata["retrieval_rank"] == 3
    assert client.requests[0][1] == {
        "model": "rerank-v3.5",
        "query": "how precise was the science",
        "documents": [d.page_content for d in docs],
        "top_n": 3,
    }


@pytest.mark.parametrize(
    "response, match",
    [
        ({"results": "nope"}, "no results list"),
        ({"results": [{"index": 7, "relevance_score": 0.5}]}, "out of range"),
        ({"results": [{"index": 0, "relevance_score": "high"}]}, "relevance_score"),
        ({"results": [{"index": 0, "relevance_score": 0.5}]}, "no score for documents"),
    ],
)
def test_malformed_rerank_responses(response, match) -> None:
    reranker = CohereReranker(client=Recorder(rerank=response))
    with pytest.raises(BackendResponseError, match=match):
        reranker.rerank("q", [Document("a"), Document("b")])


@pytest.mark.parametrize(
    "response, match",
    [
        ({"embeddings": {"float": [[0.1]]}}, "expected 2 float embeddings, got a list of 1"),
        ({"meta": {}}, "expected 2 float embeddings, got NoneType"),
        ({"embeddings": {"float": [["x"], ["y"]]}}, "non-numeric"),
    ],
)
def test_malformed_embed_responses(response, match) -> None:
    with pytest.raises(BackendResponseError, match=match):
        CohereEmbeddings(client=Recorder(embed=response)).embed_documents(["a", "b"])


@pytest.mark.parametrize(
    "status, hint",
    [(401, "API key was refused"), (429, "rate limited"), (500, "answered with an error")],
)
def test_http_errors_are_typed_with_a_hint(status: int, hint: str) -> None:
    error = HTTPError(status, {"message": "upstream says no"})
    with pytest.raises(BackendResponseError, match=hint) as caught:
        CohereReranker(client=Recorder(error=error)).rerank("q", [Document("a")])
    assert caught.value.status == status and "upstream says no" in str(caught.value)


@pytest.mark.parametrize("error", [TimeoutError("read timed out"), ConnectionError("DNS failure")])
def test_network_failures_are_connection_errors(error: Exception) -> None:
    emb = CohereEmbeddings(client=Recorder(error=error), timeout=5)
    with pytest.raises(BackendConnectionError, match="within 5 s") as caught:
        emb.embed_query("q")
    assert caught.value.url == "https://api.cohere.com"


def test_missing_package_says_how_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "cohere", None)  # import cohere -> ImportError
    with pytest.raises(MissingDependencyError, match=r"localchain\[cohere\]"):
        CohereEmbeddings(api_key="k").embed_query("q")
    with pytest.raises(MissingDependencyError):
        CohereReranker(api_key="k").rerank("q", [Document("a")])


def test_api_key_is_required_and_passed(monkeypatch) -> None:
    made = []

    class ClientV2:
        def __init__(self, **options) -> None:
            made.append(options)

        def embed(self, **request):
            return {"embeddings": {"float": [[1.0]]}}

    monkeypatch.setitem(sys.modules, "cohere", types.SimpleNamespace(ClientV2=ClientV2))
    monkeypatch.delenv("COHERE_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="COHERE_API_KEY"):
        CohereEmbeddings().embed_query("q")
    monkeypatch.setenv("COHERE_API_KEY", "from-env")
    assert CohereEmbeddings(timeout=7).embed_query("q") == [1.0]
    assert made == [{"api_key": "from-env", "timeout": 7.0}]
    assert "secret" not in repr(CohereEmbeddings(api_key="secret"))
