"""RAG chain logic with scripted fake models: inputs, outputs, streaming, citations, no answer,
rewriting, multi-query, multi-hop, routing and conversational memory."""

from __future__ import annotations

import asyncio
import doctest
from collections.abc import Iterator
from typing import Any

import localchain.chains.citations
import localchain.chains.rag
import localchain.chains.rag_chat
import localchain.chains.rag_query
import localchain.chains.rag_route
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import RunnableLambda
from localchain.chains import (
    NO_ANSWER,
    MultiHopRetriever,
    MultiQueryRetriever,
    RagChatbot,
    RouterRetriever,
    conversational_rag_chain,
    embedding_router,
    query_rewriter,
    query_router,
    rag_chain,
    sub_queries,
)
from localchain.chains.rag_chat import format_sources_footer
from localchain.memory import BufferMemory, InMemorySessionStore
from localchain.retrievers import BM25Retriever
from pydantic import Field

from localchain.errors import ChainInputError, RouteError
from localchain.models.capabilities import Capabilities

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


class Scripted(BaseChatModel):
    """A chat model that answers from a script (in turn, cycling) and records its prompts;
    it streams in three-character pieces."""

    responses: list[str]
    seen: list[list[BaseMessage]] = Field(default_factory=list)
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _next(self, messages: list[BaseMessage]) -> str:
        self.seen.append(messages)
        text = self.responses[self.calls % len(self.responses)]
        self.calls += 1
        return text

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(self._next(messages)))])

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        text = self._next(messages)
        for start in range(0, len(text), 3):
            yield ChatGenerationChunk(message=AIMessageChunk(content=text[start : start + 3]))


class NeverCalled(Scripted):
    """Fails the test if the model is asked anything."""

    def _next(self, messages: list[BaseMessage]) -> str:
        raise AssertionError("the model must not be called")


def fake(*responses: str) -> Scripted:
    return Scripted(responses=list(responses))


def retriever(docs: list[Document] = FILMS) -> Any:
    return Recorder(docs).runnable


# -- rag_chain -------------------------------------------------------------------------


def test_answer_with_a_valid_citation() -> None:
    chain = rag_chain(retriever(), fake("The film grossed over $677 million [2]."))
    result = chain.invoke("Income generated")
    assert result["question"] == "Income generated" and result["query"] == "Income generated"
    assert result["answer"] == "The film grossed over $677 million. [2]"
    assert result["citations"] == [2] and result["supported"] is True
    assert result["unsupported_reason"] is None and result["invalid_citations"] == []
    assert [s["number"] for s in result["sources"]] == [1, 2, 3]
    second = result["sources"][1]
    assert second == {
        "number": 2,
        "id": "d2",
        "text": FILMS[1].page_content,
        "metadata": {"source": "/kb/films.txt", "title": "films"},
    }
    assert result["statements"] == [
        {
            "text": "The film grossed over $677 million.",
            "citations": [2],
            "origin": "model",
            "support": 1.0,
        }
    ]


def test_prompt_holds_numbered_sources_and_the_question() -> None:
    llm = fake("ok")
    rag_chain(retriever(), llm).invoke("Income generated")
    text = llm.seen[0][-1].text
    assert text.startswith("Relevant information:\n[1] Interstellar is a 2014 film")
    assert "[2] The film had a worldwide gross over $677 million\n[3] Interstellar" in text
    assert text.endswith("cite the number of each source you use, like [1]: Income generated")


def test_invalid_citation_is_removed_and_reported() -> None:
    result = rag_chain(retriever(), fake("It grossed $677 million worldwide [7].")).invoke("q?")
    assert "[7]" not in result["answer"]
    assert result["answer"] == "It grossed $677 million worldwide. [2]"  # verified: source 2
    assert result["invalid_citations"][0]["number"] == 7
    assert "there is no source 7" in result["invalid_citations"][0]["reason"]
    assert result["statements"][0]["origin"] == "inferred"


def test_wrong_source_is_replaced_by_the_supporting_one() -> None:
    result = rag_chain(retriever(), fake("Nolan directed Interstellar [3].")).invoke("Who?")
    assert result["citations"] == [1]
    assert result["invalid_citations"][0]["number"] == 3
    assert "does not support" in result["invalid_citations"][0]["reason"]


def test_verify_false_keeps_existing_numbers() -> None:
    chain = rag_chain(retriever(), fake("Nolan directed Interstellar [3] [9]."), verify=False)
    result = chain.invoke("Who?")
    assert result["citations"] == [3] and result["supported"] is True
    assert [c["number"] for c in result["invalid_citations"]] == [9]


def test_answer_without_support_is_flagged() -> None:
    result = rag_chain(retriever(), fake("Bananas are yellow fruit.")).invoke("Colour?")
    assert result["citations"] == [] and result["supported"] is False
    assert result["unsupported_reason"] == "the answer cites no source and matches none of them"


def test_echoing_the_question_is_not_support() -> None:
    result = rag_chain(retriever(), fake("When did Interstellar premiere? [3]")).invoke(
        "When did Interstellar premiere?"
    )
    assert result["supported"] is False and result["citations"] == []


def test_nothing_retrieved_means_no_answer_and_no_model_call() -> None:
    chain = rag_chain(retriever([]), NeverCalled(responses=["x"]))
    result = chain.invoke({"question": "What is the mass of the moon?"})
    assert result["answer"] == NO_ANSWER and result["answer"].startswith("I don't know")
    assert result["sources"] == [] and result["citations"] == []
    assert result["supported"] is False and "nothing relevant" in result["unsupported_reason"]
    custom = rag_chain(retriever([]), NeverCalled(responses=["x"]), no_answer="I don't know.")
    assert custom.invoke("moon?")["answer"] == "I don't know."


def test_threshold_retriever_that_finds_nothing() -> None:
    bm25 = BM25Retriever.from_documents(FILMS, require_match=True)
    result = rag_chain(bm25, NeverCalled(responses=["x"])).invoke("mass of the moon")
    assert result["sources"] == [] and result["answer"] == NO_ANSWER


def test_stream_yields_parts_that_add_up_to_invoke() -> None:
    answer = "Nolan directed Interstellar [1]. It grossed $677 million [2]."
    chain = rag_chain(retriever(), fake(answer, answer))
    chunks = list(chain.stream("Tell me"))
    assert list(chunks[0]) == ["question", "query"]
    assert list(chunks[1]) == ["sources"]
    answers = [c["answer"] for c in chunks if "answer" in c]
    assert len(answers) > 3  # piece by piece
    assert "citations" in chunks[-1] and "supported" in chunks[-1]
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert dict(total) == chain.invoke("Tell me")
    assert total["answer"] == "Nolan directed Interstellar. [1] It grossed $677 million. [2]"


def test_batch_async_and_composition() -> None:
    chain = rag_chain(retriever(), fake("It grossed $677 million [2]."))
    results = chain.batch(["a", "b"])
    assert [r["citations"] for r in results] == [[2], [2]]
    assert asyncio.run(chain.ainvoke("c"))["citations"] == [2]

    async def collect() -> list[Any]:
        return [chunk async for chunk in chain.astream("d")]

    chunks = asyncio.run(collect())
    assert "".join(c.get("answer", "") for c in chunks) == "It grossed $677 million. [2]"
    answer_only = chain | RunnableLambda(lambda result: result["answer"])
    assert answer_only.invoke("e") == "It grossed $677 million. [2]"


def test_bad_inputs_and_prompts() -> None:
    chain = rag_chain(retriever(), fake("x"))
    with pytest.raises(ChainInputError, match="empty"):
        chain.invoke("   ")
    with pytest.raises(ChainInputError, match="question"):
        chain.invoke({"query": "x"})
    with pytest.raises(ChainInputError, match="context"):
        rag_chain(retriever(), fake("x"), prompt="Answer {question}")
    with pytest.raises(ChainInputError, match="min_support"):
        rag_chain(retriever(), fake("x"), min_support=2)


def test_custom_prompt_and_system() -> None:
    llm = fake("Nolan directed it")
    chain = rag_chain(retriever(), llm, "Q: {question}\n{context}", system="Be brief.")
    chain.invoke("Who directed it?")
    assert [m.type for m in llm.seen[0]] == ["system", "human"]
    assert llm.seen[0][1].text.startswith("Q: Who directed it?\n[1] Interstellar")


def test_sources_that_do_not_fit_the_context_are_left_out() -> None:
    class Small(Scripted):
        def localchain_capabilities(self) -> Capabilities:
            def words(prompt: Any) -> int:
                return sum(len(m.text.split()) for m in prompt)

            return Capabilities(context_window=60, max_tokens=10, counter=words)

    long = [Document(" ".join(["word"] * 20) + f" {n}", id=str(n)) for n in range(5)]
    result = rag_chain(retriever(long), Small(responses=["ok"])).invoke("q")
    assert 1 <= len(result["sources"]) < 5
    assert [s["id"] for s in result["sources"]] == [str(n) for n in range(len(result["sources"]))]


def test_rewrite_searches_for_the_rewritten_query() -> None:
    recorder = Recorder(FILMS)
    rewrite = RunnableLambda(lambda x: "  interstellar\n box office ")
    result = rag_chain(recorder.runnable, fake("It grossed $677 million"), rewrite=rewrite).invoke(
        "I loved that movie! How much money did it make?"
    )
    assert recorder.queries == ["interstellar box office"]
    assert result["query"] == "interstellar box office"
    assert result["question"] == "I loved that movie! How much money did it make?"


# -- query rewriting, multi-query, multi-hop, routing -----------------------------------


def test_query_rewriter_plain_and_with_history() -> None:
    llm = fake('Search query: "Where do dolphins live"\nextra', "Interstellar premiere date", "")
    rewrite = query_rewriter(llm)
    assert rewrite.invoke("I saw a dolphin. Where do they live?") == "Where do dolphins live"
    condensed = rewrite.invoke(
        {
            "question": "When did it premiere?",
            "chat_history": "Human: Who directed Interstellar?\nAI: Nolan.",
        }
    )
    assert condensed == "Interstellar premiere date"
    assert rewrite.invoke("Dolphins, please?") == "dolphins"  # empty rewrite: keywords


def test_unusable_rewrites_fall_back_to_the_words() -> None:
    refusal = "I'm sorry, but as an AI I cannot browse the internet."
    rewrite = query_rewriter(fake(refusal, "When did it premiere?", "Human: Who directed it?"))
    assert rewrite.invoke("I watched Interstellar, how much money did it make?") == (
        "watched interstellar money did make"
    )
    history = "Human: Who directed Interstellar?\nAI: Christopher Nolan directed it."
    follow_up = {"question": "When did it premiere?", "chat_history": history}
    expected = "did premiere directed interstellar"
    assert rewrite.invoke(follow_up) == expected  # unresolved "it"
    assert rewrite.invoke(follow_up) == expected  # a copy of the conversation


def test_a_reply_to_the_user_is_not_a_query_even_when_it_shares_a_word() -> None:
    message = (
        "I watched Interstellar with my kids last night and we all loved the black hole. "
        "Anyway, how much money did it gross worldwide?"
    )
    apology = (
        "I'm sorry for the confusion, but I can help you with that. The message is: "
        "I watched Interstellar with my kids last year"
    )
    checked = localchain.chains.rag_query.checked_query({"question": message}, apology)
    assert checked == localchain.chains.rag_query.keyword_query(message)
    assert "sorry" not in checked.lower() and "gross" in checked
    for reply in ("Sure, here is a query: Interstellar gross", "Certainly! Interstellar gross"):
        assert localchain.chains.rag_query.checked_query({"question": message}, reply) != reply
    query = "Interstellar worldwide gross"
    assert localchain.chains.rag_query.checked_query({"question": message}, query) == query


def test_sub_queries_parse_lines() -> None:
    llm = fake(
        "1. Tenet budget\n- Dunkirk budget\n\nTenet budget\n* cooking pasta\nDunkirk cast\nx"
    )
    assert sub_queries(llm, n=3).invoke("Compare the budgets of Tenet and Dunkirk") == [
        "Tenet budget",
        "Dunkirk budget",
        "Dunkirk cast",
    ]
    with pytest.raises(ValueError):
        sub_queries(llm, n=0)


def test_multi_query_fuses_with_rrf() -> None:
    bm25 = BM25Retriever.from_documents(FILMS, k=2)
    generator = RunnableLambda(lambda q: ["worldwide gross", "premiered Los Angeles"])
    multi = MultiQueryRetriever(retriever=bm25, generator=generator, k=3, include_original=False)
    docs = multi.invoke("money and premiere")
    assert {d.id for d in docs} >= {"d2", "d3"}
    assert docs[0].metadata["rank"] == 1 and "fusion" in docs[0].metadata
    by_id = {d.id: d for d in docs}
    assert by_id["d2"].metadata["queries"] == ["worldwide gross"]
    assert multi.queries("Money?") == ["worldwide gross", "premiered Los Angeles"]
    with pytest.raises(ValueError, match="llm"):
        MultiQueryRetriever(retriever=bm25)


def test_multi_query_with_a_model_includes_the_question() -> None:
    bm25 = BM25Retriever.from_documents(FILMS, k=1)
    llm = fake("Nolan film\nbaking\npremiere")
    multi = MultiQueryRetriever(retriever=bm25, llm=llm, n_queries=3)
    assert multi.queries("Nolan film premiere") == ["Nolan film premiere", "Nolan film", "premiere"]


def test_multi_hop_searches_again_on_what_was_found() -> None:
    bm25 = BM25Retriever.from_documents(FILMS, k=1)
    asked: list[dict[str, Any]] = []

    def follow(value: dict[str, Any]) -> str:
        asked.append(value)
        return "film worldwide gross"

    hops = MultiHopRetriever(retriever=bm25, follow_up=RunnableLambda(follow), hops=3)
    docs = hops.invoke("How much money did the Christopher Nolan movie make?")
    assert [d.id for d in docs] == ["d1", "d2"]
    assert [d.metadata["hop"] for d in docs] == [1, 2]
    assert docs[1].metadata["hop_query"] == "film worldwide gross"
    assert "Christopher Nolan" in asked[0]["found"]
    assert len(asked) == 2  # the third hop would repeat the query: stopped


def test_multi_hop_with_a_model_and_budget() -> None:
    bm25 = BM25Retriever.from_documents(FILMS, k=1)
    hops = MultiHopRetriever(retriever=bm25, llm=fake("premiered Los Angeles"), hops=1)
    assert [d.id for d in hops.invoke("Nolan film")] == ["d1"]  # one hop: no model call
    llm = fake("Query: Interstellar premiered Los Angeles")
    two = MultiHopRetriever(retriever=bm25, llm=llm, hops=2)
    assert [d.id for d in two.invoke("Nolan film")] == ["d1", "d3"]
    wandering = MultiHopRetriever(retriever=bm25, llm=fake("Bake bread at 200 C"), hops=2)
    assert [d.id for d in wandering.invoke("Nolan film")] == ["d1"]


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


# -- conversational RAG ------------------------------------------------------------------


def test_conversational_rag_rewrites_with_history_and_remembers() -> None:
    seen: list[Any] = []

    def rewrite(value: dict[str, Any]) -> str:
        seen.append(value["chat_history"])
        return "interstellar premiere" if value["chat_history"] else value["question"]

    memory = BufferMemory()
    recorder = Recorder(FILMS)
    chain = conversational_rag_chain(
        recorder.runnable,
        fake("Nolan directed Interstellar [1].", "It premiered October 26, 2014 [3]."),
        memory,
        rewrite=RunnableLambda(rewrite),
    )
    first = chain.invoke("Who directed Interstellar?")
    assert first["citations"] == [1]
    second = chain.invoke("When did it premiere?")
    assert second["query"] == "interstellar premiere" and second["citations"] == [3]
    assert seen[0] == "" and "Human: Who directed Interstellar?" in seen[1]
    assert recorder.queries == ["Who directed Interstellar?", "interstellar premiere"]
    assert [m.text for m in memory.messages][::2] == [
        "Who directed Interstellar?",
        "When did it premiere?",
    ]


def test_conversational_rag_stream_closed_early_stores_nothing() -> None:
    memory = BufferMemory()
    chain = conversational_rag_chain(
        retriever(),
        fake("Nolan directed it [1]."),
        memory,
        rewrite=RunnableLambda(lambda v: v["question"]),
    )
    stream = chain.stream("Who?")
    next(stream)
    stream.close()
    assert memory.messages == []
    asyncio.run(chain.ainvoke("Who?"))
    assert len(memory.messages) == 2


def test_rag_chatbot_turns_sessions_and_footer() -> None:
    store = InMemorySessionStore()
    bot = RagChatbot(
        retriever(),
        fake("Nolan directed Interstellar [1].", "It premiered in 2014 [3]."),
        BufferMemory(),
        rag_options={"rewrite": RunnableLambda(lambda v: v["question"])},
        store=store,
        session_id="films",
    )
    assert bot.turn_footer() == ""
    assert bot.chat("Who directed Interstellar?") == "Nolan directed Interstellar. [1]"
    assert bot.last_result is not None and bot.last_result["citations"] == [1]
    footer = bot.turn_footer()
    assert footer.startswith("sources (cited: [1]):") and "[2] /kb/films.txt" in footer
    pieces = bot.stream("When?")
    next(pieces)
    pieces.close()  # cancelled: not stored
    assert len(store.history("films").messages) == 2
    with pytest.raises(ValueError):
        bot.chat(" ")


def test_footer_for_no_sources_and_unsupported() -> None:
    assert format_sources_footer({"sources": []}) == "no sources: nothing relevant was found"
    text = format_sources_footer(
        {
            "sources": [{"number": 1, "text": "x " * 80, "metadata": {}}],
            "citations": [],
            "supported": False,
            "unsupported_reason": "the answer cites no source",
        }
    )
    assert text.startswith("sources - unsupported: the answer cites no source:")
    assert all(len(line) <= 100 for line in text.splitlines())


@pytest.mark.parametrize(
    "module",
    [
        localchain.chains.citations,
        localchain.chains.rag,
        localchain.chains.rag_query,
        localchain.chains.rag_route,
        localchain.chains.rag_chat,
    ],
)
def test_docstring_examples(module: Any) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
